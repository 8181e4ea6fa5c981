"""The contract every model family follows, and the parameters they share.

A family is registered in :mod:`heplearn.models.registry` as a :class:`ModelFamily`:
a name, a pydantic parameter class (unknown keys are errors), the input kinds it
reads and a ``build`` function. ``build(params, schema, n_outputs)`` returns either

- a ``torch.nn.Module`` whose ``forward(inputs)`` takes the batch dictionary (each
  input by name, ``<name>_mask`` for particle inputs) and returns a float tensor
  ``(batch, n_outputs)``: logits for classification (one for two classes), values for
  regression; or
- a scikit-learn style estimator (``fit(X, y, sample_weight)`` returning ``self``,
  ``predict_proba`` or ``predict``) reading the tabular inputs concatenated, when the
  family has ``estimator=True``.

``schema`` holds only the inputs the model reads (see
:func:`heplearn.models.registry.select_inputs`), in the dataset spec's order.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from heplearn.models.schema import InputKind, InputSchema


class ModelParams(BaseModel):
    """Parameters every model takes; families subclass this with their own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    inputs: list[str] | None = Field(
        None, description="inputs the model reads; default: every input of a kind it accepts"
    )


@dataclass(frozen=True)
class ModelFamily:
    """One entry of the model registry.

    Attributes
    ----------
    name : str
        The ``model.name`` that selects it.
    params : type[ModelParams]
        Its validated parameters; defaults are the family's standard configuration.
    build : callable
        ``build(params, schema, n_outputs) -> nn.Module | estimator``.
    main_kind : str or None
        The kind it needs exactly one input of (``image`` for a CNN, ``particles`` for
        the set and graph networks); ``None`` when it reads any of ``accepts``.
    accepts : frozenset of str
        Every kind it can read; for a family with a ``main_kind`` the others (tabular)
        are extra event-level features joined before the head.
    description : str
        One line for ``heplearn models`` and error messages.
    estimator : bool
        True for scikit-learn style estimators trained without Lightning.
    """

    name: str
    params: type[ModelParams]
    build: Callable[[Any, InputSchema, int], Any]
    main_kind: InputKind | None
    accepts: frozenset[InputKind]
    description: str
    estimator: bool = False
