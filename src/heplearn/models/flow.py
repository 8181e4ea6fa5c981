"""Normalizing flows (zuko): the density of a tabular input, optionally conditioned on another.

A flow learns ``p(features | condition)`` of standardised jet features (mass, τ21, ...)
given, for example, the jet pT, and then draws new jets far faster than Pythia and
FastJet make them: a fast surrogate. Training minimises the negative log-likelihood
(:meth:`Flow.event_losses`); ``forward`` returns it per event, ``(batch, 1)``.

The flow reads two inputs of the dataset spec, both ``tabular``: ``features`` (what it
learns and draws) and ``condition`` (what it is given; optional). Both are standardised
with the mean and standard deviation of the training split, like every tabular input;
:func:`heplearn.sampling.sample_run` converts drawn events back to physical units.
"""

from typing import Literal

import torch
import zuko
from pydantic import Field, PositiveInt
from torch import Tensor, nn

from heplearn.errors import ConfigError
from heplearn.models.base import Inputs, ModelFamily, ModelParams
from heplearn.models.schema import InputSchema

FlowTransform = Literal["nsf", "maf"]


class FlowParams(ModelParams):
    """Parameters of ``flow``."""

    name: Literal["flow"] = "flow"
    features: str | None = Field(
        None,
        description="tabular input whose distribution the flow learns; default: the only "
        "tabular input that is not the condition",
    )
    condition: str | None = Field(
        None,
        description="tabular input the flow is conditioned on (e.g. jet pT); none: unconditional",
    )
    transform: FlowTransform = Field(
        "nsf",
        description="nsf: monotonic rational-quadratic splines (neural spline flow); "
        "maf: affine (masked autoregressive flow)",
    )
    transforms: PositiveInt = Field(4, description="number of autoregressive transformations")
    hidden: list[PositiveInt] = Field(
        default_factory=lambda: [64, 64],
        description="hidden layer widths of each transformation's network",
    )
    bins: int = Field(8, ge=2, description="spline bins per feature (nsf)")

    def choose_inputs(self, schema: InputSchema) -> list[str]:
        """The inputs the flow reads: its features, then its condition (if any).

        Raises
        ------
        ConfigError
            When the condition or the features are not tabular inputs of ``schema``, the
            features cannot be inferred, or ``inputs`` names other inputs.
        """
        features, condition = flow_inputs(self, schema)
        return [features] if condition is None else [features, condition]


def _available(schema: InputSchema) -> str:
    return ", ".join(f"{name} ({info.kind})" for name, info in schema.items()) or "none"


def _check_tabular(key: str, name: str, schema: InputSchema) -> None:
    if name not in schema:
        raise ConfigError(
            f"model.{key}: {name!r} is not an input of the data; the inputs are: "
            f"{_available(schema)}. Name one of them, or add a tabular input with those "
            "columns to the dataset spec (as in configs/surrogate/data.yaml)"
        )
    if schema[name].kind != "tabular":
        raise ConfigError(
            f"model.{key}: {name!r} is not tabular but {schema[name].kind}; a flow reads "
            f"tabular inputs (the data have: {_available(schema)})"
        )


def flow_inputs(params: FlowParams, schema: InputSchema) -> tuple[str, str | None]:
    """The names of the flow's features and condition inputs in ``schema``.

    Parameters
    ----------
    params : FlowParams
        The flow's parameters.
    schema : InputSchema
        Every input of the data.

    Returns
    -------
    tuple
        ``(features, condition)``; ``condition`` is ``None`` for an unconditional flow.

    Raises
    ------
    ConfigError
        See :meth:`FlowParams.choose_inputs`.
    """
    condition = params.condition
    if condition is not None:
        _check_tabular("condition", condition, schema)
    if params.features is not None:
        _check_tabular("features", params.features, schema)
        features = params.features
    else:
        candidates = params.inputs if params.inputs is not None else list(schema)
        tabular = [
            name
            for name in candidates
            if name in schema and schema[name].kind == "tabular" and name != condition
        ]
        if len(tabular) != 1:
            found = ", ".join(tabular) or "none"
            raise ConfigError(
                f"model.features: name the tabular input the flow learns (candidates: {found}; "
                f"the data have: {_available(schema)})"
            )
        features = tabular[0]
    if features == condition:
        raise ConfigError(
            f"model.features and model.condition are both {features!r}; a flow cannot be "
            "conditioned on what it learns"
        )
    if params.inputs is not None:
        others = sorted(set(params.inputs) - {features, condition})
        if others:
            raise ConfigError(
                f"model.inputs: a flow reads its features ({features!r}) and its condition "
                f"({condition!r}), not {others}; remove model.inputs or those names"
            )
    return features, condition


def _zuko_flow(params: FlowParams, features: int, context: int) -> zuko.flows.Flow:
    """The zuko flow of ``features`` variables given ``context`` condition variables."""
    hidden = tuple(params.hidden)
    if params.transform == "nsf":
        return zuko.flows.NSF(
            features,
            context,
            bins=params.bins,
            transforms=params.transforms,
            hidden_features=hidden,
        )
    return zuko.flows.MAF(features, context, transforms=params.transforms, hidden_features=hidden)


class Flow(nn.Module):
    """A normalizing flow of one tabular input, optionally conditioned on another.

    Parameters
    ----------
    params : FlowParams
        Transformation type, number, widths and bins; the names of the inputs.
    schema : InputSchema
        The inputs the flow reads (its features and its condition).

    Attributes
    ----------
    features_name : str
        The input the flow learns and draws.
    condition_name : str or None
        The input it is conditioned on.
    """

    def __init__(self, params: FlowParams, schema: InputSchema) -> None:
        super().__init__()
        self.features_name, self.condition_name = flow_inputs(params, schema)
        self.n_features = schema[self.features_name].features
        self.n_conditions = (
            schema[self.condition_name].features if self.condition_name is not None else 0
        )
        self.flow = _zuko_flow(params, self.n_features, self.n_conditions)

    def _distribution(self, context: Tensor | None) -> torch.distributions.Distribution:
        return self.flow() if context is None else self.flow(context)

    def _context(self, inputs: Inputs | None) -> Tensor | None:
        if self.condition_name is None:
            return None
        if inputs is None or self.condition_name not in inputs:
            raise ValueError(f"this flow is conditioned on the input {self.condition_name!r}")
        return inputs[self.condition_name]

    def event_losses(self, inputs: Inputs) -> Tensor:
        """The negative log-likelihood of every event's features, ``(batch,)``."""
        distribution = self._distribution(self._context(inputs))
        return -distribution.log_prob(inputs[self.features_name])

    def forward(self, inputs: Inputs) -> Tensor:
        """The negative log-likelihood per event, ``(batch, 1)``."""
        return self.event_losses(inputs).unsqueeze(1)

    @torch.no_grad()
    def sample(self, count: int, conditions: Inputs | None = None) -> Inputs:
        """Draw ``count`` events of the features, in standardised units.

        Parameters
        ----------
        count : int
            Events to draw.
        conditions : dict of Tensor, optional
            For a conditional flow, the condition input (standardised), ``(count,
            conditions)``: one event is drawn for each row. ``None`` for an
            unconditional flow.

        Returns
        -------
        dict of Tensor
            ``{features_name: (count, features)}``.
        """
        if self.condition_name is None:
            if conditions:
                raise ValueError("this flow is unconditional; draw without conditions")
            values = self.flow().sample((count,))
        else:
            context = self._context(conditions)
            assert context is not None
            if len(context) != count:
                raise ValueError(f"{len(context)} rows of conditions for {count} events")
            values = self.flow(context).sample()
        return {self.features_name: values}


def build(params: FlowParams, schema: InputSchema, n_outputs: int) -> Flow:
    """The flow for its features and condition inputs (``n_outputs`` is 1: the NLL)."""
    if n_outputs != 1:
        raise ConfigError(f"a flow has one output per event (its NLL), not {n_outputs}")
    return Flow(params, schema)


FAMILY = ModelFamily(
    name="flow",
    params=FlowParams,
    build=build,
    main_kind=None,
    accepts=frozenset({"tabular"}),
    objective="generative",
    samples=True,
    event_loss_name="nll",
)
