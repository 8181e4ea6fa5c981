"""The contract every model family follows, and the parameters they share.

A family is registered in :mod:`heplearn.models.registry` as a :class:`ModelFamily`:
a name, a pydantic parameter class (unknown keys are errors), the input kinds it
reads and a ``build`` function. ``build(params, schema, n_outputs)`` returns either

- a ``torch.nn.Module`` whose ``forward(inputs)`` takes the batch dictionary (each
  input by name, ``<name>_mask`` for particle inputs) and returns a float tensor
  ``(batch, n_outputs)``: logits for classification (one for two classes), values for
  regression; or
- a scikit-learn style estimator (:class:`heplearn.models.estimators.Estimator`) reading
  the tabular inputs concatenated, when the family has ``estimator`` hooks
  (:class:`~heplearn.models.estimators.EstimatorHooks`: features, save, load).

``schema`` holds only the inputs the model reads (see
:func:`heplearn.models.registry.select_inputs`), in the dataset spec's order.

Families that learn from the inputs alone (``objective`` ``anomaly`` or ``generative``)
build a module that also follows :class:`LearnsInputs`: its ``event_losses`` is what
training minimises (labels, when the data have them, serve only the evaluation), and its
``forward`` returns one value per event, ``(batch, 1)``: the anomaly score (reconstruction
error) of an autoencoder, the negative log-likelihood of a flow. Autoencoders also follow
:class:`Embeds`; models that draw new events follow :class:`Samples`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from pydantic import BaseModel, ConfigDict, Field

from heplearn.models.estimators import EstimatorHooks
from heplearn.models.schema import InputKind, InputSchema

Objective = Literal["supervised", "anomaly", "generative"]
Inputs = dict[str, torch.Tensor]


@runtime_checkable
class LearnsInputs(Protocol):
    """A model trained on its inputs alone (autoencoders, flows, diffusion models)."""

    def event_losses(self, inputs: Inputs) -> torch.Tensor:
        """The loss of every event, ``(batch,)``, before event weights."""
        ...


@runtime_checkable
class Embeds(Protocol):
    """A model with a latent space (the bottleneck of an autoencoder)."""

    latent_dim: int

    def embed(self, inputs: Inputs) -> torch.Tensor:
        """The latent coordinates of every event, ``(batch, latent_dim)``."""
        ...


@runtime_checkable
class Samples(Protocol):
    """A model that draws new events."""

    def sample(self, count: int, conditions: Inputs | None = None) -> Inputs:
        """``count`` new events: each input the model generates, in its standardised units.

        ``conditions`` holds the conditioning inputs of each event to draw (``count``
        rows each) for conditional models, and is ``None`` for the others.
        """
        ...


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
    estimator : EstimatorHooks or None
        For scikit-learn style estimators trained without Lightning: how to build their
        features and save and load them; ``None`` for neural networks.
    objective : {"supervised", "anomaly", "generative"}
        What training minimises: the task's loss on the labels or target
        (``supervised``), or the model's own ``event_losses`` on the inputs (an
        ``anomaly`` detector scores events by that loss; a ``generative`` model draws
        new events).
    samples : bool
        True when its model draws new events (follows :class:`Samples`): what
        ``heplearn sample`` needs.
    event_loss_name : str
        The key under which evaluation reports the mean per-event loss of a model that
        learns from its inputs (``nll`` for a flow's negative log-likelihood).
    padding_invariant : bool
        True when the outputs do not depend on the padded slots of particles inputs, in
        evaluation and in training mode (batch-norm statistics from real entries only):
        batches may then be trimmed after their longest event, and scoring groups events
        of similar length (:mod:`heplearn.inference.buckets`). A test checks every
        family that claims it.
    """

    name: str
    params: type[ModelParams]
    build: Callable[[Any, InputSchema, int], Any]
    main_kind: InputKind | None
    accepts: frozenset[InputKind]
    estimator: EstimatorHooks | None = None
    objective: Objective = "supervised"
    samples: bool = False
    event_loss_name: str = "event_loss"
    padding_invariant: bool = False
