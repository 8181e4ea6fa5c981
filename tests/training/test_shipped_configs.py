"""Every config in configs/ is valid: its data, model and training sections all validate."""

from pathlib import Path

import pytest

from heplearn.models.registry import model_family
from heplearn.training.config import load_run_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SHIPPED = sorted(path for path in CONFIGS.glob("*/*.yaml") if path.name != "data.yaml")


# the folders that read another folder's sample (or, for reweighting, its own two samples)
SAMPLE_OF = {
    "anomaly": "top-vs-qcd",
    "surrogate": "top-vs-qcd",
    "jet-images-generative": "top-vs-qcd",
}


def test_every_sample_has_configs():
    assert {path.parent.name for path in SHIPPED} == {
        "top-vs-qcd",
        "jets5",
        "hww-vs-dy",
        "anomaly",
        "surrogate",
        "jet-images-generative",
        "reweighting",
    }
    names = {path.stem for path in SHIPPED if path.parent.name == "top-vs-qcd"}
    assert {"particlenet-lite", "part-small", "pfn", "cnn", "bdt"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_shipped_config_is_valid(path):
    config = load_run_config(path)
    assert config.model.name == path.stem or path.stem.startswith(config.model.name)
    model_family(config.model.name)
    reduced = config.model_data()
    assert set(reduced.inputs) <= set(config.data.inputs)
    sample = SAMPLE_OF.get(path.parent.name, path.parent.name)
    assert all(source.files[0].startswith(f"data/{sample}/") for source in config.data.sources)
