"""ONNX export of a trained network: raw inputs in, scores out, checked against PyTorch.

The exported graph is the whole prediction of a run, so that a C++ (or any other) user
feeds what the dataset spec describes and gets what ``heplearn evaluate`` sees:

- **inputs**, named as in the dataset spec, in the model's order: each input the model
  reads, ``float32``, *before* standardisation (the values of the spec's expressions,
  padded and imaged as the data layer makes them), and ``<name>_mask`` (``bool``, true
  for real particles) after every particles input;
- **inside**: the run's standardisation (padded particles keep the pad value), the
  network and the task's output function;
- **outputs**: ``scores`` (the signal probability ``(batch,)`` for two classes, the class
  probabilities ``(batch, K)`` for more, the predicted value ``(batch,)`` for
  regression) and, for classification, ``logits`` (the network's raw outputs, ``(batch,)``
  or ``(batch, K)``), which keep their resolution where probabilities saturate near 0 or 1.

The batch axis is dynamic, and so is the particle axis when the model allows it (PFN,
ParticleNet(-Lite), the Particle Transformer with its pair features): the same jets
padded to another length give the same scores. A model whose export pins the particle
axis gets it static, at the training length (``dynamic_length: false`` in the metadata).

What to feed is written twice: as JSON in the model's ``metadata_props`` (key
``heplearn``) and beside the file (``model.onnx.json``): input names, kinds, columns
(the expressions), shapes, pad values, standardisation, class names, versions.
"""

import dataclasses
import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import heplearn
from heplearn.extras import missing_extra

try:  # the heplearn[export] extra
    import onnx
    import onnxruntime
    import onnxscript  # noqa: F401  (torch's exporter needs it)
    from google.protobuf.message import DecodeError
except ModuleNotFoundError as _missing:
    raise missing_extra(_missing.name or "onnx", "export", "the ONNX export") from None
from heplearn.data.batch import batch_arrays, contiguous, mask_key
from heplearn.data.dataset import load_dataset
from heplearn.data.preprocessing import Preprocessing
from heplearn.data.spec import DatasetSpec
from heplearn.data.splits import SPLIT_NAMES
from heplearn.errors import ConfigError, HeplearnError, InputError, OutputError
from heplearn.files import atomic_path
from heplearn.inference.onnx_graph import (
    BATCH_AXIS,
    MIN_OPSET,
    ScoringModel,
    export_graph,
    output_names,
    pad_value,
)
from heplearn.models.registry import model_family, select_inputs
from heplearn.models.schema import InputSchema, batch_keys
from heplearn.run_directory import RunDirectory
from heplearn.training.task import Task
from heplearn.versions import package_versions

ONNX_FILE = "model.onnx"
METADATA_KEY = "heplearn"
FORMAT = "heplearn-onnx"
FORMAT_VERSION = 1
TOLERANCE = 1e-5
CHECK_EVENTS = 10_000
CHECK_BATCH = 256
AXES_CHECK_EVENTS = 128


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_onnx` wrote and how well it agrees with PyTorch.

    Attributes
    ----------
    path : Path
        The ONNX file.
    metadata_path : Path
        The JSON sidecar (the same metadata as in the model's ``metadata_props``).
    size_bytes : int
        Size of the ONNX file.
    opset : int
        The ``ai.onnx`` opset of the graph.
    inputs, outputs : tuple of str
        Names of the graph's inputs and outputs, in order.
    dynamic_particles : bool or None
        Whether the particle axis is dynamic (``None``: the model reads no particles).
    events_compared : int
        Test events run through both ONNX Runtime and PyTorch (0 without the check).
    max_abs_difference : float or None
        Largest ``|ONNX Runtime - PyTorch|`` of the scores over every comparison (the
        test events, other batch sizes, other padded lengths); ``None`` without the check.
    max_abs_difference_logits : float or None
        The same for the logits (``None`` for regression, anomaly and generative runs,
        or without the check).
    lengths_checked : tuple of int
        Particle lengths at which the scores were compared (the training length first).
    """

    path: Path
    metadata_path: Path
    size_bytes: int
    opset: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    dynamic_particles: bool | None
    events_compared: int = 0
    max_abs_difference: float | None = None
    max_abs_difference_logits: float | None = None
    lengths_checked: tuple[int, ...] = ()

    def summary(self) -> str:
        """A few lines for the command line."""
        lines = [f"wrote {self.path} ({self.size_bytes / 1e6:.2f} MB, opset {self.opset})"]
        lines.append(f"inputs: {', '.join(self.inputs)}; outputs: {', '.join(self.outputs)}")
        if self.dynamic_particles is not None:
            axis = "dynamic" if self.dynamic_particles else "static (the training length)"
            lines.append(f"particle axis: {axis}")
        if self.max_abs_difference is not None:
            lines.append(
                f"ONNX Runtime vs PyTorch on {self.events_compared} test events: "
                f"max |Δ score| = {self.max_abs_difference:.2e}"
            )
        return "\n".join(lines)


def export_onnx(
    run: RunDirectory | Path | str,
    out: Path | str | None = None,
    *,
    opset: int | None = None,
    check: bool = True,
    check_events: int | None = CHECK_EVENTS,
) -> ExportReport:
    """Export the network of a finished run to ONNX, checked against PyTorch.

    Parameters
    ----------
    run : RunDirectory or path
        The run directory (``--out`` of ``heplearn train``).
    out : path, optional
        The ONNX file to write, or a folder to write ``model.onnx`` into; default
        ``RUN_DIR/model.onnx``. The metadata goes beside it, ``.json`` appended to the name.
    opset : int, optional
        The ``ai.onnx`` opset, at least 18; default: the exporter's recommended one.
    check : bool
        Compare ONNX Runtime with PyTorch on the run's test split before writing: the
        scores must agree to ``1e-5`` (relative above 1), at the training length, at
        other batch sizes and, for a dynamic particle axis, padded longer and cut shorter.
    check_events : int or None
        How many test events to compare (the first ones); ``None``: all of them.

    Returns
    -------
    ExportReport
        The file, its size and the measured differences.

    Raises
    ------
    ConfigError
        For an opset below 18 or a ``check_events`` below 1.
    InputError
        When ``run`` is not a finished run directory, holds a ``bdt`` (a scikit-learn
        estimator), or its test data cannot be read for the check.
    OutputError
        When the file cannot be written, or ONNX Runtime and PyTorch disagree (nothing
        is written then).
    """
    if opset is not None and opset < MIN_OPSET:
        raise ConfigError(
            f"opset {opset} is too old: torch.onnx writes opset {MIN_OPSET} or newer; "
            "choose one your runtime supports (ONNX Runtime >= 1.14 reads 18)"
        )
    if check_events is not None and check_events < 1:
        raise ConfigError(f"check_events must be at least 1 (or None for all), not {check_events}")
    run = run if isinstance(run, RunDirectory) else RunDirectory(Path(run))
    config = run.config()
    if model_family(config.model.name).estimator:
        raise InputError(
            f"{run.path} holds a {config.model.name!r} model, a scikit-learn estimator: ONNX "
            "export covers the neural networks only. Convert the estimator yourself with "
            "skl2onnx (not installed with heplearn), or predict with heplearn predict"
        )
    model = run.load_model()
    task = run.task()
    schema = select_inputs(config.model, run.schema())
    spec = config.model_data()
    preprocessing = run.preprocessing()
    scoring = ScoringModel(model, schema, spec, preprocessing.scaling(), task).eval()
    proto, dynamic_particles, shapes = export_graph(scoring, schema, opset)
    names, outputs = batch_keys(schema), output_names(task)
    opset_used = next(
        entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx")
    )
    metadata = export_metadata(
        run, spec, schema, task, preprocessing, dynamic_particles, shapes, opset_used
    )
    proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(metadata))
    proto.doc_string = (
        f"heplearn {heplearn.__version__}: {config.model.name} ({task.kind}) from run "
        f"{run.path.name}; raw inputs, standardised inside; metadata under {METADATA_KEY!r}"
    )

    path = Path(out) if out is not None else run.path
    if path.is_dir():
        path = path / ONNX_FILE
    sidecar = path.with_name(path.name + ".json")
    comparison = _Comparison()
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as onnx_temporary, atomic_path(sidecar) as json_temporary:
        with _writing(path):
            onnx.save_model(proto, onnx_temporary)
        if check:  # before the rename: a model that fails it is never written
            comparison = _check(
                onnx_temporary, scoring, run, spec, preprocessing, check_events, dynamic_particles
            )
        with _writing(sidecar):
            json_temporary.write_text(json.dumps(metadata, indent=2) + "\n")
    return ExportReport(
        path=path,
        metadata_path=sidecar,
        size_bytes=path.stat().st_size,
        opset=opset_used,
        inputs=tuple(names),
        outputs=tuple(outputs),
        dynamic_particles=dynamic_particles,
        events_compared=comparison.events,
        max_abs_difference=comparison.scores if check else None,
        max_abs_difference_logits=comparison.logits if check and not task.scores_values else None,
        lengths_checked=tuple(comparison.lengths),
    )


def read_metadata(path: Path | str) -> dict[str, Any]:
    """The heplearn metadata of an exported ONNX file (inputs, classes, versions...).

    Raises
    ------
    InputError
        When the file is not an ONNX model written by :func:`export_onnx`.
    """
    path = Path(path)
    try:
        proto = onnx.load_model(path, format="protobuf", load_external_data=False)
    except (OSError, DecodeError) as error:
        raise InputError(f"{path}: not a readable ONNX model ({error})") from None
    for entry in proto.metadata_props:
        if entry.key == METADATA_KEY:
            metadata: dict[str, Any] = json.loads(entry.value)
            return metadata
    raise InputError(f"{path}: no heplearn metadata; export the run with heplearn export")


def export_metadata(
    run: RunDirectory,
    spec: DatasetSpec,
    schema: InputSchema,
    task: Task,
    preprocessing: Preprocessing,
    dynamic_particles: bool | None,
    shapes: dict[str, list[int | str]],
    opset: int,
) -> dict[str, Any]:
    """Everything a user of the ONNX file needs to know to feed it and read its outputs.

    ``shapes`` are the shapes the graph declares for its inputs (axis names or sizes).
    """
    info = run.info()
    inputs: list[dict[str, Any]] = []
    for name, input_info in schema.items():
        definition = spec.inputs[name].model_dump(mode="json")
        entry: dict[str, Any] = {
            "name": name,
            "kind": input_info.kind,
            "dtype": "float32",
            "shape": shapes[name],
            "columns": list(input_info.columns),
            "standardised_in_graph": name in preprocessing.standardisation,
            "definition": definition,
        }
        if input_info.kind == "particles":
            length = input_info.shape[0]
            entry |= {
                "mask": mask_key(name),
                "pad_value": pad_value(spec, name),
                "length": length,
                "dynamic_length": bool(dynamic_particles),
            }
        inputs.append(entry)
        if input_info.kind == "particles":
            inputs.append(
                {
                    "name": mask_key(name),
                    "kind": "mask",
                    "dtype": "bool",
                    "shape": shapes[mask_key(name)],
                    "of": name,
                    "meaning": "true for real particles, false for padding",
                }
            )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "heplearn_version": heplearn.__version__,
        "versions": package_versions() | {"onnx": onnx.__version__},
        "opset": opset,
        "model": info.get("model"),
        "task": task.kind,
        "class_names": run.class_names(),
        "inputs": inputs,
        "outputs": _output_descriptions(task, run.class_names()),
        "dynamic_axes": {
            "batch": True,
            "particles": dynamic_particles,
        },
        "variables": dict(spec.variables),
        "selection": spec.selection,
        "standardisation": preprocessing.standardisation,
        "run": {"path": str(run.path.resolve()), "finished": info.get("finished")},
    }


def _output_descriptions(task: Task, class_names: list[str] | None) -> list[dict[str, Any]]:
    if task.scores_values:
        meaning = {
            "regression": "the predicted value",
            "anomaly": "the anomaly score (reconstruction error)",
            "generative": "the model's loss per event (a flow: negative log-likelihood)",
        }[task.kind]
        return [{"name": "scores", "shape": [BATCH_AXIS], "meaning": meaning}]
    if task.kind == "binary":
        signal = class_names[1] if class_names else "class 1"
        return [
            {"name": "scores", "shape": [BATCH_AXIS], "meaning": f"probability of {signal}"},
            {"name": "logits", "shape": [BATCH_AXIS], "meaning": f"logit of {signal}"},
        ]
    k = task.n_outputs
    return [
        {"name": "scores", "shape": [BATCH_AXIS, k], "meaning": "class probabilities (softmax)"},
        {"name": "logits", "shape": [BATCH_AXIS, k], "meaning": "logits of the classes"},
    ]


# ---------------------------------------------------------------------------- export


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn an operating-system error while writing ``path`` into an :class:`OutputError`."""
    try:
        yield
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None


# ----------------------------------------------------------------------------- check


@dataclass
class _Comparison:
    events: int = 0
    scores: float = 0.0
    logits: float = 0.0
    lengths: list[int] = dataclasses.field(default_factory=list)

    def add(
        self, reference: Sequence[np.ndarray], exported: Sequence[np.ndarray], what: str
    ) -> None:
        """Fold in one comparison; raise when it is outside the tolerance."""
        for index, (expected, got) in enumerate(zip(reference, exported, strict=True)):
            difference = np.abs(got.astype(np.float64) - expected)
            allowed = TOLERANCE * np.maximum(1.0, np.abs(expected))
            output = "scores" if index == 0 else "logits"
            largest = float(difference.max(initial=0.0))
            if not np.all(difference <= allowed):  # NaN fails too
                raise OutputError(
                    f"ONNX Runtime and PyTorch disagree on the {output} ({what}): max |Δ| = "
                    f"{largest:.3g} > {TOLERANCE:g}; nothing was written. Report it with the "
                    "run's config.yaml, or export with check=False at your own risk"
                )
            if output == "scores":
                self.scores = max(self.scores, largest)
            else:
                self.logits = max(self.logits, largest)


def _test_events(
    run: RunDirectory, spec: DatasetSpec, preprocessing: Preprocessing, limit: int | None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The first test events twice: raw (standardisation off) and as the model saw them."""
    raw_preprocessing = dataclasses.replace(preprocessing, standardisation={})
    try:
        dataset = load_dataset(spec, run.config().seed, raw_preprocessing)
    except HeplearnError as error:
        raise type(error)(
            f"{error} (the check reads the run's test split; make the data readable again "
            "or export with check=False)"
        ) from error
    events = dataset.events.take(dataset.events.split == SPLIT_NAMES.index("test"))
    if len(events) == 0:
        raise InputError(
            f"the test split of {run.path} is empty, so the export cannot be checked; "
            "give the dataset spec a test fraction or export with check=False"
        )
    if limit is not None:
        events = events.take(slice(0, limit))
    standardised = preprocessing.apply(spec, events)
    return contiguous(batch_arrays(events.inputs, events.masks)), contiguous(
        batch_arrays(standardised.inputs, standardised.masks)
    )


def _in_batches(arrays: dict[str, np.ndarray], batch: int) -> Iterator[dict[str, np.ndarray]]:
    events = len(next(iter(arrays.values())))
    for start in range(0, events, batch):
        yield {name: values[start : start + batch] for name, values in arrays.items()}


def torch_outputs(
    scoring: ScoringModel, standardised: dict[str, np.ndarray], batch: int = CHECK_BATCH
) -> list[np.ndarray]:
    """PyTorch's outputs on standardised inputs (as the data layer makes them), batch by batch.

    This is the computation of ``heplearn.inference.Scorer``, the network run eagerly
    without gradients, with the logits kept.
    """
    parts: list[tuple[Tensor, ...]] = []
    with torch.no_grad():
        for chunk in _in_batches({name: standardised[name] for name in scoring.names}, batch):
            tensors = {name: torch.from_numpy(values) for name, values in chunk.items()}
            parts.append(scoring.outputs(scoring.model(tensors)))
    return [torch.cat(outputs).numpy() for outputs in zip(*parts, strict=True)]


def onnx_outputs(
    session: Any, arrays: dict[str, np.ndarray], batch: int = CHECK_BATCH
) -> list[np.ndarray]:
    """ONNX Runtime's outputs on a batch dictionary, batch by batch."""
    names = [value.name for value in session.get_inputs()]
    parts = [
        session.run(None, chunk) for chunk in _in_batches({n: arrays[n] for n in names}, batch)
    ]
    return [np.concatenate(outputs) for outputs in zip(*parts, strict=True)]


def _resized(
    arrays: dict[str, np.ndarray],
    schema: InputSchema,
    spec: DatasetSpec,
    length: Callable[[int], int],
) -> dict[str, np.ndarray]:
    """Each particles input cut to ``length(L)`` or padded to it (pad value, mask false)."""
    resized = dict(arrays)
    for name, info in schema.items():
        if info.kind != "particles":
            continue
        values, mask = arrays[name], arrays[mask_key(name)]
        current, wanted = values.shape[1], length(values.shape[1])
        if wanted <= current:
            resized[name], resized[mask_key(name)] = values[:, :wanted], mask[:, :wanted]
            continue
        shape = (len(values), wanted - current)
        padding = np.full((*shape, values.shape[2]), pad_value(spec, name), np.float32)
        resized[name] = np.concatenate([values, padding], axis=1)
        resized[mask_key(name)] = np.concatenate([mask, np.zeros(shape, bool)], axis=1)
    return resized


def _longer(length: int) -> int:
    return length + max(4, length // 4)


def _shorter(length: int) -> int:
    return max(1, math.ceil(length / 2))


def _check(
    path: Path,
    scoring: ScoringModel,
    run: RunDirectory,
    spec: DatasetSpec,
    preprocessing: Preprocessing,
    limit: int | None,
    dynamic_particles: bool | None,
) -> _Comparison:
    """Compare ONNX Runtime with PyTorch on real test events; raise when they disagree."""
    raw, standardised = _test_events(run, spec, preprocessing, limit)
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # leave the CPU
    try:
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime's errors have no common public base class
        raise OutputError(
            f"ONNX Runtime {onnxruntime.__version__} cannot load the exported model ({error}); "
            "nothing was written. Choose an opset it supports, or export with check=False"
        ) from None
    comparison = _Comparison(events=len(raw[scoring.names[0]]))
    # the reference is what evaluate and predict compute (heplearn.inference.Scorer): the
    # data layer standardises, then the network and the task's output function run eagerly
    reference = torch_outputs(scoring, standardised)
    comparison.add(reference, onnx_outputs(session, raw), "test events")
    few = {name: values[:AXES_CHECK_EVENTS] for name, values in raw.items()}
    few_standardised = {name: values[:AXES_CHECK_EVENTS] for name, values in standardised.items()}
    few_reference = [values[:AXES_CHECK_EVENTS] for values in reference]
    comparison.add(few_reference, onnx_outputs(session, few, batch=1), "one event at a time")
    lengths = [info.shape[0] for info in scoring.schema.values() if info.kind == "particles"]
    comparison.lengths = lengths[:1]
    if dynamic_particles:
        schema = scoring.schema
        padded = _resized(few, schema, spec, _longer)
        comparison.add(few_reference, onnx_outputs(session, padded), "padded longer")
        comparison.add(
            torch_outputs(scoring, _resized(few_standardised, schema, spec, _shorter)),
            onnx_outputs(session, _resized(few, schema, spec, _shorter)),
            "with fewer particles",
        )
        comparison.lengths += [_longer(lengths[0]), _shorter(lengths[0])]
    return comparison
