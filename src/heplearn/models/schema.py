"""What a model sees: the name, kind, columns and per-event shape of every input."""

from dataclasses import dataclass
from typing import Literal

from heplearn.data.batch import mask_key
from heplearn.data.spec import DatasetSpec, ImageInput, ParticlesInput

InputKind = Literal["tabular", "particles", "image"]


@dataclass(frozen=True)
class InputInfo:
    """One model input as the batches deliver it.

    Attributes
    ----------
    name : str
        Key of the input in the batch dictionary (its mask is ``<name>_mask``).
    kind : {"tabular", "particles", "image"}
        ``(batch, features)``, ``(batch, length, features)`` with a mask, or
        ``(batch, channels, bins, bins)``.
    columns : tuple of str
        Feature names (tabular, particles) or channel names (image), in order.
    shape : tuple of int
        Shape of one event: ``(features,)``, ``(length, features)`` or
        ``(channels, bins, bins)``.
    """

    name: str
    kind: InputKind
    columns: tuple[str, ...]
    shape: tuple[int, ...]

    @property
    def features(self) -> int:
        """Features per event (tabular), per particle (particles) or channels (image)."""
        return self.shape[-1] if self.kind != "image" else self.shape[0]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (the run directory's input schema)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "columns": list(self.columns),
            "shape": list(self.shape),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "InputInfo":
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            kind=data["kind"],  # type: ignore[arg-type]
            columns=tuple(data["columns"]),  # type: ignore[arg-type]
            shape=tuple(data["shape"]),  # type: ignore[arg-type]
        )


InputSchema = dict[str, InputInfo]


def batch_keys(schema: InputSchema) -> list[str]:
    """The batch keys a model reads, in order: every input, ``<name>_mask`` after each
    particles input (also the inputs of the exported ONNX graph)."""
    keys = []
    for name, info in schema.items():
        keys.append(name)
        if info.kind == "particles":
            keys.append(mask_key(name))
    return keys


def input_schema(spec: DatasetSpec) -> InputSchema:
    """The schema of every input of a dataset spec, in the spec's order."""
    schema = {}
    for name, definition in spec.inputs.items():
        if isinstance(definition, ImageInput):
            channels = tuple(definition.channels or ["image"])
            shape: tuple[int, ...] = (len(channels), definition.bins, definition.bins)
            schema[name] = InputInfo(name, "image", channels, shape)
        elif isinstance(definition, ParticlesInput):
            columns = tuple(definition.columns)
            schema[name] = InputInfo(name, "particles", columns, (definition.length, len(columns)))
        else:
            columns = tuple(definition.columns)
            schema[name] = InputInfo(name, "tabular", columns, (len(columns),))
    return schema
