"""What a generated sample is: its processes, its selection and its branches.

A sample is a set of Pythia processes, each with a class label and an output file group,
and a selection that turns generated events into the stored columns of the events it
accepts. Processes sharing a group are mixed (and shuffled) in the same files; a process
with a group of its own gets files of its own, as analysis ntuples do.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import awkward as ak
import numpy as np
import pythia8mc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from heplearn.errors import ConfigError
from heplearn.generate.detector import DetectorModel
from heplearn.generate.pythia import charges
from heplearn.io import Column


def concatenate_columns(parts: list[dict[str, Column]]) -> dict[str, Column]:
    """Concatenate column dictionaries with the same keys, entry after entry."""
    return {
        name: (
            ak.concatenate([part[name] for part in parts])
            if isinstance(parts[0][name], ak.Array)
            else np.concatenate([part[name] for part in parts])
        )
        for name in parts[0]
    }


def float32_column(values: Column) -> Column:
    """Store a floating-point column as float32 (awkward arrays packed), as datasets do."""
    if isinstance(values, ak.Array):
        return ak.to_packed(ak.values_astype(values, np.float32))
    return np.asarray(values, dtype=np.float32)


class GenerateOptions(BaseModel):
    """Everything that determines a generated sample, given its name.

    ``events`` counts accepted events per process (per class for the jet samples).
    ``pt_min``/``pt_max`` apply to jet samples; ``None`` takes the sample's default.
    ``pythia_settings`` change the generator for every process (a shower parameter, a
    tune), after the settings that define the process.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: int = Field(gt=0, description="accepted events per process")
    seed: int = Field(42, ge=0, description="one seed drives every process and block")
    detector: DetectorModel = DetectorModel()
    ecm_gev: float = Field(14_000.0, gt=0, description="pp centre-of-mass energy")
    pt_min: float | None = Field(None, ge=0, description="GeV, leading-jet pT window")
    pt_max: float | None = Field(None, gt=0, description="GeV, leading-jet pT window")
    eta_max: float = Field(2.0, gt=0, description="leading-jet |η| acceptance")
    jet_radius: float = Field(0.8, gt=0, le=2.0, description="anti-kT radius R")
    events_per_file: int = Field(100_000, gt=0)
    format: Literal["root", "parquet"] = "root"
    pythia_settings: tuple[str, ...] = Field(
        (),
        description="extra Pythia settings (--pythia), read after each process's settings",
    )

    @field_validator("pythia_settings")
    @classmethod
    def _strip_settings(cls, settings: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(setting.strip() for setting in settings if setting.strip())

    @model_validator(mode="after")
    def _window_is_ordered(self) -> "GenerateOptions":
        if self.pt_min is not None and self.pt_max is not None and self.pt_min >= self.pt_max:
            raise ValueError(
                f"the jet pT window is inverted: --pt-min {self.pt_min:g} must be below "
                f"--pt-max {self.pt_max:g}"
            )
        return self


@dataclass(frozen=True)
class Process:
    """One Pythia process of a sample.

    Attributes
    ----------
    name : str
        Short name, used in metadata (``"ttbar"``).
    label : int
        Class label of its events.
    settings : tuple[str, ...]
        Pythia settings selecting the process, its decays and phase space.
    group : str
        Output file group; files are named ``{group}_{index:04d}.{ext}``.
    cross_section_note : str
        Anything a reader of the cross-section should know (generator cuts).
    """

    name: str
    label: int
    settings: tuple[str, ...]
    group: str
    cross_section_note: str = ""


@dataclass(frozen=True)
class Selection:
    """The outcome of a sample's selection on a batch of generated events.

    Attributes
    ----------
    accepted : numpy.ndarray
        Boolean per generated event.
    columns : dict[str, numpy.ndarray | ak.Array]
        The stored branches, one entry per accepted event, in generation order.
    """

    accepted: np.ndarray
    columns: dict[str, Column]


@dataclass
class BlockContext:
    """What a selection may use besides the events: the generator and a seeded RNG."""

    pythia: pythia8mc.Pythia
    rng: np.random.Generator
    options: GenerateOptions

    def charge_of(self, pdg_ids: np.ndarray) -> np.ndarray:
        """Charges of the given PDG ids (see :func:`heplearn.generate.pythia.charges`)."""
        return charges(self.pythia, pdg_ids)


class Sample(ABC):
    """A named, labelled sample that ``heplearn generate`` can produce."""

    name: ClassVar[str]
    summary: ClassVar[str]
    label_branch: ClassVar[str]
    class_names: ClassVar[tuple[str, ...]]
    tree_name: ClassVar[str] = "Events"

    def resolve(self, options: GenerateOptions) -> GenerateOptions:
        """Fill sample-specific defaults into ``options``; reject options that do not apply."""
        if options.pt_min is not None or options.pt_max is not None:
            raise ConfigError(
                f"--pt-min/--pt-max select jets and do not apply to {self.name}; "
                "leave them out, or generate top-vs-qcd or jets5"
            )
        return options

    @abstractmethod
    def processes(self, options: GenerateOptions) -> list[Process]:
        """The processes to generate, in a fixed order."""

    @abstractmethod
    def select(self, records: ak.Array, process: Process, context: BlockContext) -> Selection:
        """Select events from a batch of Pythia event records and build their columns.

        The generator adds the ``event`` number, the ``XSWeight`` and the label branch
        itself.
        """
