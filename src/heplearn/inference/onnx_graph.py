"""The ONNX graph of a run's network: what the ``onnx`` engine scores with and what
``heplearn export`` writes (with its metadata and checks, in :mod:`heplearn.deploy.export`).

:class:`ScoringModel` wraps the network with the run's standardisation before it and the
task's output function after it; :func:`export_graph` traces it with torch.onnx, batch
axis dynamic and particle axis dynamic where the model allows it;
:func:`write_scoring_graph` makes the graph fed already standardised inputs (the ``onnx``
engine of predict and evaluate, kept in the run directory).
"""

import logging
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from heplearn.extras import missing_extra

try:  # the heplearn[export] extra
    import onnx
    import onnxscript  # noqa: F401  (torch's exporter needs it)
except ModuleNotFoundError as _missing:
    raise missing_extra(_missing.name or "onnx", "export", "the ONNX export") from None
from heplearn.data.batch import Batch, mask_key
from heplearn.data.spec import DatasetSpec, ParticlesInput
from heplearn.errors import InputError, OutputError
from heplearn.files import atomic_path
from heplearn.inference.memory import MemoryCost
from heplearn.inference.onnx_cache import METADATA_KEY, GraphInfo
from heplearn.inference.onnx_probe import measure_graph_cost
from heplearn.inference.options import ScoringOptions
from heplearn.inference.torch_engine import TorchEngine
from heplearn.models.registry import model_family, select_inputs
from heplearn.models.schema import InputSchema, batch_keys
from heplearn.parallel import available_cores
from heplearn.run_directory import RunDirectory
from heplearn.training.task import Task

BATCH_AXIS = "batch"
# torch.onnx's operator library is written for opset 18; it converts down to older opsets
# with the ONNX version converter, which breaks some graphs (ParT's at 17)
MIN_OPSET = 18

# torch.export (inside the exporter) pickles pytree specs, which trips torch 2.13's own
# deprecation of `isinstance(treespec, LeafSpec)`; nothing a user can change.
_EXPORT_WARNINGS = (r".*isinstance\(treespec, LeafSpec\).*",)
# The exporter's registry logs a warning per torchvision operator when torchvision is not
# installed; our models use none of them.
_QUIET_LOGGERS = ("torch.onnx._internal.exporter._registration",)


class ScoringModel(nn.Module):
    """A network with the run's standardisation before it and the task's scores after it.

    ``forward`` takes the inputs positionally in the order of
    :func:`~heplearn.models.schema.batch_keys` (each input raw, ``<name>_mask`` after each
    particles input) and returns ``(scores, logits)`` for classification, ``(scores,)``
    for one value per event.

    Parameters
    ----------
    model : torch.nn.Module
        The trained network (``model(batch) -> (batch, n_outputs)``).
    schema : InputSchema
        The inputs the network reads, in order.
    spec : DatasetSpec
        The run's dataset spec (pad values of the particles inputs).
    scaling : dict
        ``{input: (mean, std)}``, the float32 arrays of the run's
        :meth:`Preprocessing.scaling <heplearn.data.preprocessing.Preprocessing.scaling>`.
    task : Task
        The learning task (which output function applies).
    """

    def __init__(
        self,
        model: nn.Module,
        schema: InputSchema,
        spec: DatasetSpec,
        scaling: dict[str, tuple[np.ndarray, np.ndarray]],
        task: Task,
    ) -> None:
        super().__init__()
        self.model = model
        self.schema = dict(schema)
        self.task = task
        self.names = batch_keys(schema)
        self.pad_values = {name: pad_value(spec, name) for name in schema}
        self.standardised = [name for name in schema if name in scaling]
        for index, name in enumerate(self.standardised):
            mean, std = scaling[name]  # float32: the roundings of Preprocessing.standardise
            self.register_buffer(f"mean_{index}", torch.from_numpy(mean.copy()))
            self.register_buffer(f"std_{index}", torch.from_numpy(std.copy()))

    def standardise(self, batch: Batch) -> Batch:
        """The batch with standardised inputs, as ``Preprocessing.standardise`` makes them
        (the same arithmetic written in torch, so that it goes into the graph)."""
        batch = dict(batch)
        for index, name in enumerate(self.standardised):
            scaled = (batch[name] - getattr(self, f"mean_{index}")) / getattr(self, f"std_{index}")
            if self.schema[name].kind == "particles":
                real = batch[mask_key(name)].unsqueeze(-1)
                scaled = torch.where(real, scaled, self.pad_values[name])
            batch[name] = scaled
        return batch

    def outputs(self, raw_outputs: Tensor) -> tuple[Tensor, ...]:
        """``(scores, logits)`` (classification) or ``(scores,)`` from the network's outputs."""
        scores = self.task.scores(raw_outputs)
        if self.task.scores_values:
            return (scores,)
        logits = raw_outputs[:, 0] if self.task.kind == "binary" else raw_outputs
        return scores, logits

    def forward(self, *tensors: Tensor) -> tuple[Tensor, ...]:
        """Scores (and logits) from the raw inputs and masks, in graph order."""
        batch = dict(zip(self.names, tensors, strict=True))
        return self.outputs(self.model(self.standardise(batch)))


def output_names(task: Task) -> list[str]:
    """``["scores", "logits"]`` for classification, ``["scores"]`` for one value per event."""
    return ["scores"] if task.scores_values else ["scores", "logits"]


def pad_value(spec: DatasetSpec, name: str) -> float:
    """The pad value of a particles input (0 for other kinds)."""
    definition = spec.inputs[name]
    return definition.pad_value if isinstance(definition, ParticlesInput) else 0.0


def write_scoring_graph(run: RunDirectory, key: str, path: Path | None = None) -> bytes:
    """The run's network and output function as ONNX, fed *standardised* inputs.

    This is the graph of the ONNX Runtime engine of ``predict`` and ``evaluate``
    (:mod:`heplearn.inference.onnx_engine`): the data layer standardises, as it does for
    the PyTorch engine, so both engines see the same arrays. Its outputs are those of
    :func:`heplearn.deploy.export.export_onnx`. Its ``metadata_props`` hold a
    :class:`~heplearn.inference.onnx_engine.GraphInfo` (``key``, the memory per event
    measured in ONNX Runtime, model facts).

    Parameters
    ----------
    run : RunDirectory
        A finished run of a neural network.
    key : str
        :func:`~heplearn.inference.onnx_engine.graph_key` of the run.
    path : Path, optional
        Where to keep the graph (written atomically); a folder that cannot be written
        is no error: the graph is then used from memory.

    Returns
    -------
    bytes
        The serialised graph.

    Raises
    ------
    InputError
        For a scikit-learn estimator (no ONNX graph).
    OutputError
        When torch.onnx cannot export the model (one line saying why).
    """
    config = run.config()
    if model_family(config.model.name).estimator:
        raise InputError(
            f"{run.path} holds a {config.model.name!r} model, a scikit-learn estimator, which "
            "has no ONNX graph; score it with --engine torch"
        )
    engine = TorchEngine(run, ScoringOptions(accelerator="cpu"), available_cores())
    schema = select_inputs(config.model, run.schema())
    scoring = ScoringModel(engine.model, schema, config.model_data(), {}, run.task()).eval()
    proto, dynamic, _ = export_graph(scoring, schema, None)
    cost = _onnxruntime_cost(proto, schema) or engine.memory_cost()
    assert cost is not None  # (a network)
    info = GraphInfo(
        key, cost.fixed, cost.per_event, engine.latent_dim, engine.padding_invariant, dynamic
    )
    proto.metadata_props.add(key=METADATA_KEY, value=info.to_json())
    graph: bytes = proto.SerializeToString()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as temporary:
                temporary.write_bytes(graph)
        except OSError:  # a run directory this user cannot write: no cache this time
            pass
    return graph


def _onnxruntime_cost(proto: onnx.ModelProto, schema: InputSchema) -> MemoryCost | None:
    """ONNX Runtime's memory for a forward pass of the graph, measured in a fresh process."""
    shapes: dict[str, tuple[str, list[int]]] = {}
    for name, info in schema.items():
        shapes[name] = ("float32", list(info.shape))
        if info.kind == "particles":
            shapes[mask_key(name)] = ("bool", [info.shape[0]])
    with tempfile.TemporaryDirectory() as folder:
        graph = Path(folder) / "scoring.onnx"
        graph.write_bytes(proto.SerializeToString())
        return measure_graph_cost(graph, shapes, available_cores())


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's known, harmless warnings and log lines (see the constants)."""
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        for message in _EXPORT_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def _example_inputs(schema: InputSchema) -> tuple[Tensor, ...]:
    """Random inputs of the training shapes; the batch size differs from every length."""
    lengths = {info.shape[0] for info in schema.values() if info.kind == "particles"}
    batch = next(size for size in range(2, 1000) if size not in lengths)
    generator = torch.Generator().manual_seed(0)
    tensors: list[Tensor] = []
    for info in schema.values():
        tensors.append(torch.randn((batch, *info.shape), generator=generator))
        if info.kind == "particles":
            length = info.shape[0]
            real = torch.arange(length).unsqueeze(0) < torch.arange(
                length, length - batch, -1
            ).clamp(min=1).unsqueeze(1)
            tensors.append(real)
    return tuple(tensors)


def _dynamic_shapes(schema: InputSchema) -> tuple[tuple[dict[int, Any], ...]]:
    """Batch and particle axes as ``Dim.AUTO``, one entry per positional input."""
    auto = torch.export.Dim.AUTO
    shapes: list[dict[int, Any]] = []
    for info in schema.values():
        if info.kind == "particles":
            shapes += [{0: auto, 1: auto}, {0: auto, 1: auto}]
        else:
            shapes.append({0: auto})
    return (tuple(shapes),)  # one entry: forward takes the tensors as *args


def _export_program(scoring: ScoringModel, schema: InputSchema, opset: int | None) -> Any:
    with _quiet_exporter(), torch.no_grad():
        try:
            return torch.onnx.export(
                scoring,
                _example_inputs(schema),
                dynamo=True,
                input_names=scoring.names,
                output_names=output_names(scoring.task),
                dynamic_shapes=_dynamic_shapes(schema),
                opset_version=opset,
                verbose=False,
            )
        except Exception as error:  # the exporter's errors are long; keep their summary
            summary = str(error).split("## Exception summary", 1)[-1].strip().splitlines()
            reason = next((line for line in summary if line.strip()), type(error).__name__)
            raise OutputError(
                f"torch.onnx could not export model {scoring.model.__class__.__name__}: "
                f"{reason}. This is a limitation of the model or of torch.onnx "
                f"{torch.__version__}; report it with the run's config.yaml"
            ) from error


def _axis_is_dynamic(program: Any, position: int, axis: int) -> bool:
    """Whether the exported program kept an input axis symbolic with a range of sizes."""
    exported = program.exported_program
    placeholders = {node.name: node for node in exported.graph.nodes if node.op == "placeholder"}
    value = placeholders[exported.graph_signature.user_inputs[position]].meta["val"]
    size = value.shape[axis]
    if isinstance(size, int):
        return False
    bounds = exported.range_constraints.get(size.node.expr)
    return bounds is None or bounds.lower != bounds.upper


def export_graph(
    scoring: ScoringModel, schema: InputSchema, opset: int | None
) -> tuple[onnx.ModelProto, bool | None, dict[str, list[int | str]]]:
    """The ONNX model, whether its particle axis is dynamic (``None``: no particles) and
    the shapes its inputs declare.

    Every axis is exported as ``Dim.AUTO``: torch.export keeps an axis symbolic where the
    model allows it and pins it to the example's size otherwise (``torch.tril_indices``
    of the length would, for instance: ParT builds its pairs from ``torch.arange``
    instead). A pinned axis is still symbolic in the ONNX graph, which then
    computes wrong numbers for other sizes; :func:`_name_axes` declares it static, so
    that ONNX Runtime rejects other lengths.
    """
    positions = {name: index for index, name in enumerate(scoring.names)}
    particles = [name for name, info in schema.items() if info.kind == "particles"]
    program = _export_program(scoring, schema, opset)
    for name in scoring.names:
        if not _axis_is_dynamic(program, positions[name], 0):
            raise OutputError(
                f"torch.onnx pinned the batch axis of input {name!r}; the model cannot be "
                "exported with a dynamic batch size"
            )
    dynamic = None
    if particles:
        dynamic = all(_axis_is_dynamic(program, positions[name], 1) for name in particles)
    proto: onnx.ModelProto = program.model_proto
    return proto, dynamic, _name_axes(proto, schema, dynamic)


def _name_axes(
    proto: onnx.ModelProto, schema: InputSchema, dynamic_particles: bool | None
) -> dict[str, list[int | str]]:
    """Name the symbolic axes ``batch`` and ``particles`` (torch calls them ``s0``, ``s1``).

    A particle axis that the export pinned gets its training length instead of a name.
    Particles inputs whose axes torch found independent get ``<input>_particles``.

    Returns
    -------
    dict
        The declared shape of every graph input.
    """
    masks = {mask_key(name): name for name, info in schema.items() if info.kind == "particles"}
    renames: dict[str, str] = {}
    shapes: dict[str, list[int | str]] = {}
    for value in proto.graph.input:
        dims = value.type.tensor_type.shape.dim
        if dims[0].dim_param:
            renames.setdefault(dims[0].dim_param, BATCH_AXIS)
            dims[0].dim_param = BATCH_AXIS
        particles = masks.get(value.name, value.name)
        if schema[particles].kind == "particles" and dims[1].dim_param:
            if dynamic_particles:
                if dims[1].dim_param not in renames:
                    taken = "particles" in renames.values()
                    renames[dims[1].dim_param] = f"{particles}_particles" if taken else "particles"
                dims[1].dim_param = renames[dims[1].dim_param]
            else:
                dims[1].dim_value = schema[particles].shape[0]
        shapes[value.name] = [dim.dim_param or dim.dim_value for dim in dims]
    for value in [*proto.graph.output, *proto.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in renames:
                dim.dim_param = renames[dim.dim_param]
    for value in proto.graph.output:
        dims = value.type.tensor_type.shape.dim
        if dims and dims[0].dim_param:
            dims[0].dim_param = BATCH_AXIS
    return shapes
