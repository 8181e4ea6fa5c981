"""The samples ``heplearn generate`` knows, by name."""

from heplearn.errors import ConfigError
from heplearn.generate.jet_samples import FiveJetClasses, TopVsQCD
from heplearn.generate.lepton_samples import Higgs4l, HWWvsDY
from heplearn.generate.samples import Sample

SAMPLES: dict[str, Sample] = {
    sample.name: sample for sample in (TopVsQCD(), FiveJetClasses(), HWWvsDY(), Higgs4l())
}


def get_sample(name: str) -> Sample:
    """Return the sample called ``name``, or raise a :class:`ConfigError` listing them all."""
    try:
        return SAMPLES[name]
    except KeyError:
        raise ConfigError(f"unknown sample {name!r}; choose one of: {', '.join(SAMPLES)}") from None
