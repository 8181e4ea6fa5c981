"""What is learned: classification, regression, or the inputs themselves, and the loss."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from heplearn.data.spec import DatasetSpec
from heplearn.errors import ConfigError

if TYPE_CHECKING:  # a task is read without torch (predict with ONNX Runtime)
    import torch

    from heplearn.models.base import Objective

TaskKind = Literal["binary", "multiclass", "regression", "anomaly", "generative"]

# the model's own event_losses: reconstruction error, negative log-likelihood, ...
MODEL_LOSS = "model"
_LOSSES = {
    "binary": ("bce",),
    "multiclass": ("cross-entropy",),
    "regression": ("mse", "mae", "huber"),
    "anomaly": (MODEL_LOSS,),
    "generative": (MODEL_LOSS,),
}


@dataclass(frozen=True)
class Task:
    """The learning task of a run.

    Attributes
    ----------
    kind : {"binary", "multiclass", "regression", "anomaly", "generative"}
        ``anomaly`` and ``generative`` runs learn their inputs (the model's own
        ``event_losses``); labels, when the data have them, serve the evaluation only.
    n_outputs : int
        Model outputs: 1 logit for two classes, one per class for more, 1 for regression,
        1 (the anomaly score, or the negative log-likelihood) when learning the inputs.
    loss : str
        ``bce``, ``cross-entropy``, ``mse``, ``mae``, ``huber`` or ``model``.
    target_mean, target_std : float
        A regression's network learns ``(target - target_mean) / target_std`` (fitted on
        the training split), so targets in any unit train alike; its scores are back in
        the target's unit. 0 and 1 (no scaling) otherwise.
    """

    kind: TaskKind
    n_outputs: int
    loss: str
    target_mean: float = 0.0
    target_std: float = 1.0

    @classmethod
    def of(
        cls,
        spec: DatasetSpec,
        n_classes: int,
        loss: str = "auto",
        objective: "Objective" = "supervised",
        target: Mapping[str, float] | None = None,
    ) -> "Task":
        """The task of a model with ``objective`` on a spec with ``n_classes`` classes.

        ``target`` (``mean`` and ``std``, fitted with the preprocessing) scales a
        regression's target for a network; estimators take the target as it is.
        """
        if objective != "supervised":
            kind: TaskKind = objective
            n_outputs = 1
        elif spec.task == "regression":
            kind = "regression"
            n_outputs = 1
        elif n_classes == 2:
            kind, n_outputs = "binary", 1
        elif n_classes > 2:
            kind, n_outputs = "multiclass", n_classes
        else:
            raise ConfigError(
                f"classification needs at least two classes, the data have {n_classes}; "
                "check the labels and classes of the dataset spec"
            )
        chosen = _LOSSES[kind][0] if loss == "auto" else loss
        if chosen not in _LOSSES[kind]:
            raise ConfigError(
                f"training.loss: {loss!r} does not fit a {kind} task; "
                f"use {' or '.join(_LOSSES[kind])} (or auto)"
            )
        if kind == "regression" and target is not None:
            return cls(kind, n_outputs, chosen, target["mean"], target["std"])
        return cls(kind, n_outputs, chosen)

    @property
    def learns_inputs(self) -> bool:
        """True when the model's own ``event_losses`` on the inputs are minimised."""
        return self.loss == MODEL_LOSS

    @property
    def scores_values(self) -> bool:
        """True when a score is one number per event rather than class probabilities."""
        return self.kind in ("regression", "anomaly", "generative")

    def event_losses(self, outputs: "torch.Tensor", labels: "torch.Tensor") -> "torch.Tensor":
        """The loss of every event, ``(batch,)``, before weighting (supervised tasks)."""
        from torch.nn import functional as F

        if self.learns_inputs:
            raise ValueError(f"a {self.kind} task's loss is the model's own event_losses")
        if self.kind == "binary":
            return F.binary_cross_entropy_with_logits(
                outputs[:, 0], labels.to(outputs.dtype), reduction="none"
            )
        if self.kind == "multiclass":
            return F.cross_entropy(outputs, labels.long(), reduction="none")
        target = (labels.to(outputs.dtype) - self.target_mean) / self.target_std
        prediction = outputs[:, 0]
        if self.loss == "mae":
            return (prediction - target).abs()
        if self.loss == "huber":
            return F.huber_loss(prediction, target, reduction="none")
        return (prediction - target) ** 2

    def weighted_loss(
        self, outputs: "torch.Tensor", labels: "torch.Tensor", weights: "torch.Tensor"
    ) -> "torch.Tensor":
        """Mean over the batch of weight × event loss (supervised tasks)."""
        return weighted_mean(self.event_losses(outputs, labels), weights)

    def scores(self, outputs: "torch.Tensor") -> "torch.Tensor":
        """Probabilities (signal probability ``(batch,)`` for binary) or per-event values."""
        if self.kind == "binary":
            return outputs[:, 0].sigmoid()
        if self.kind == "multiclass":
            return outputs.softmax(dim=1)
        if self.kind == "regression":
            return outputs[:, 0] * self.target_std + self.target_mean
        return outputs[:, 0]

    def to_dict(self) -> dict[str, str | int | float]:
        """The task as ``run.json`` records it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Task":
        """The task recorded by :meth:`to_dict` (runs from before the target scaling too)."""
        return cls(**values)


def weighted_mean(event_losses: "torch.Tensor", weights: "torch.Tensor") -> "torch.Tensor":
    """Mean over the batch of weight × event loss.

    A mean over events (not divided by the sum of weights) keeps negative weights
    meaningful and makes the gradient of a batch split over ranks average exactly to the
    gradient of the whole batch.
    """
    return (weights.to(event_losses.dtype) * event_losses).mean()
