"""The model registry: names to families, validated parameters, input selection, building."""

import difflib
from typing import Any, Protocol, runtime_checkable

from heplearn.config import parse_spec
from heplearn.errors import ConfigError
from heplearn.models import (
    autoencoder,
    bdt,
    cnn,
    deepsets,
    diffusion,
    efn,
    flow,
    forest,
    lgatr,
    logistic,
    lorentznet,
    mlp,
    part,
    particlenet,
)
from heplearn.models.base import ModelFamily, ModelParams
from heplearn.models.schema import InputSchema

MODELS: dict[str, ModelFamily] = {
    family.name: family
    for family in (
        logistic.FAMILY,
        mlp.FAMILY,
        bdt.FAMILY,
        forest.FAMILY,
        cnn.FAMILY,
        *deepsets.FAMILIES,
        efn.FAMILY,
        *particlenet.FAMILIES,
        *part.FAMILIES,
        lorentznet.FAMILY,
        lgatr.FAMILY,
        *autoencoder.FAMILIES,
        flow.FAMILY,
        diffusion.FAMILY,
    )
}


def model_family(name: str) -> ModelFamily:
    """The family registered as ``name``; an unknown name lists the valid ones."""
    if name in MODELS:
        return MODELS[name]
    close = difflib.get_close_matches(name, MODELS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"model.name: unknown model {name!r}{hint}; available: {', '.join(MODELS)}")


def model_params(section: Any) -> ModelParams:
    """Validate a config's ``model`` section with its family's parameter class."""
    if not isinstance(section, dict) or "name" not in section:
        raise ConfigError(f"model: needs a 'name', one of {', '.join(MODELS)}")
    family = model_family(str(section["name"]))
    return parse_spec(family.params, section, prefix="model.")


@runtime_checkable
class ChoosesInputs(Protocol):
    """Parameters that name their inputs by role and pick them from the data's schema."""

    def choose_inputs(self, schema: InputSchema) -> list[str]:
        """The names of the inputs the model reads; a :class:`ConfigError` if it cannot."""
        ...


def select_inputs(params: ModelParams, schema: InputSchema) -> InputSchema:
    """The inputs a model reads, checked against the kinds its family accepts.

    Raises
    ------
    ConfigError
        When a named input does not exist, has a kind the model cannot read, or the
        model's main kind (an image for ``cnn``, particles for ``particlenet``) is missing
        or given more than once.
    """
    family = model_family(params.name)
    available = ", ".join(f"{name} ({info.kind})" for name, info in schema.items())
    if isinstance(params, ChoosesInputs):  # e.g. a flow: its features and its condition
        params = params.model_copy(update={"inputs": params.choose_inputs(schema)})
    if params.inputs is not None:
        unknown = [name for name in params.inputs if name not in schema]
        if unknown:
            raise ConfigError(
                f"model.inputs: {unknown} are not inputs of the data; they are: {available}"
            )
        chosen = {name: schema[name] for name in schema if name in params.inputs}
        wrong = [f"{n} ({i.kind})" for n, i in chosen.items() if i.kind not in family.accepts]
        if wrong:
            raise ConfigError(
                f"model {params.name!r} reads {'/'.join(sorted(family.accepts))} inputs, "
                f"not {', '.join(wrong)}"
            )
    else:
        chosen = {n: i for n, i in schema.items() if i.kind in family.accepts}
    if family.main_kind is not None:
        main = [name for name, info in chosen.items() if info.kind == family.main_kind]
        if len(main) != 1:
            found = "none" if not main else ", ".join(main)
            raise ConfigError(
                f"model {params.name!r} needs exactly one {family.main_kind} input "
                f"(found {found}); the data have: {available}. Add an input with "
                f"kind: {family.main_kind}, or choose them with model.inputs"
            )
    if not chosen:
        raise ConfigError(
            f"model {params.name!r} reads {'/'.join(sorted(family.accepts))} inputs; "
            f"the data have: {available}"
        )
    return chosen


def build_model(params: ModelParams, schema: InputSchema, n_outputs: int) -> Any:
    """Build the model for the inputs it reads (``select_inputs``) and ``n_outputs``."""
    family = model_family(params.name)
    return family.build(params, select_inputs(params, schema), n_outputs)
