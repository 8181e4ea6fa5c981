"""The batch contract: the dictionary every loader yields and every model reads.

A batch holds, for ``B`` events (numpy arrays from the loaders, torch tensors once
collated), one entry per input of the dataset spec and the per-event truth:

=====================  ==========================================  =====================
key                    shape                                       dtype
=====================  ==========================================  =====================
``<input>``            ``(B, particles, features)`` (particles),   float32, standardised
                       ``(B, channels, η, φ)`` (images),
                       ``(B, features)`` (tabular)
``<input>_mask``       ``(B, particles)``, particles inputs only:  bool
                       true for real particles, false for padding
``label``              ``(B,)``: class index (or regression        int64 (float32)
                       target)
``weight``             ``(B,)``: the final event weight            float32
=====================  ==========================================  =====================

Scoring batches (inference, prediction, the ONNX graph) carry the inputs and masks only.
The keys are named after the spec's inputs, so the batch is a plain ``dict`` (a
``TypedDict`` cannot declare them): :func:`mask_key` names a mask, :func:`batch_arrays`
assembles a batch, :func:`contiguous` gives it the dtypes above in contiguous memory.
"""

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

if TYPE_CHECKING:  # numpy only at run time: predict with ONNX Runtime never imports torch
    import torch

LABEL = "label"
WEIGHT = "weight"
MASK_SUFFIX = "_mask"

Batch: TypeAlias = "dict[str, torch.Tensor]"
"""A collated batch (what models and the LightningModule receive)."""
ArrayBatch: TypeAlias = dict[str, np.ndarray]
"""A batch of numpy arrays (what loaders assemble and ONNX Runtime is fed)."""


def mask_key(name: str) -> str:
    """The batch key of the mask of particles input ``name`` (``<name>_mask``)."""
    return f"{name}{MASK_SUFFIX}"


def is_mask_key(key: str) -> bool:
    """Whether batch key ``key`` names a mask."""
    return key.endswith(MASK_SUFFIX)


def batch_arrays(
    inputs: Mapping[str, np.ndarray],
    masks: Mapping[str, np.ndarray],
    label: np.ndarray | None = None,
    weight: np.ndarray | None = None,
) -> ArrayBatch:
    """Assemble a batch: the inputs, their masks under :func:`mask_key`, label and weight.

    Parameters
    ----------
    inputs : mapping of str to numpy.ndarray
        Input name to values, one row per event.
    masks : mapping of str to numpy.ndarray
        Particles input name to its ``(B, particles)`` mask.
    label, weight : numpy.ndarray, optional
        ``(B,)`` each; left out of scoring batches.

    Returns
    -------
    dict
        The arrays themselves (no copy), keyed as the module docstring says.
    """
    arrays: ArrayBatch = dict(inputs)
    arrays.update({mask_key(name): mask for name, mask in masks.items()})
    if label is not None:
        arrays[LABEL] = label
    if weight is not None:
        arrays[WEIGHT] = weight
    return arrays


def contiguous(arrays: Mapping[str, np.ndarray], keys: Iterable[str] | None = None) -> ArrayBatch:
    """The inputs (float32) and masks (bool) of ``arrays`` in C-contiguous memory.

    Parameters
    ----------
    arrays : mapping of str to numpy.ndarray
        A scoring batch.
    keys : iterable of str, optional
        The keys to keep, in this order (default: all).
    """
    return {
        key: np.ascontiguousarray(arrays[key], dtype=np.bool_ if is_mask_key(key) else np.float32)
        for key in (arrays if keys is None else keys)
    }
