"""The dataset spec: validation errors name the key and say what to do."""

import pytest

from heplearn.config import parse_spec
from heplearn.data.readers import FORMATS
from heplearn.data.spec import DatasetSpec, load_dataset_spec
from heplearn.errors import ConfigError

MINIMAL = {
    "sources": [{"files": ["s.root"], "label": "signal"}, {"files": ["b.root"], "label": "bkg"}],
    "classes": ["bkg", "signal"],
    "inputs": {"features": {"kind": "tabular", "columns": ["x", "y"]}},
}


def _write(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def test_yaml_data_section_is_read(tmp_path):
    path = _write(
        tmp_path,
        """
seed: 1
data:
  sources:
    - {files: ["s.root"], label: signal}
    - {files: ["b.root"], label: bkg}
  classes: [bkg, signal]
  inputs:
    features: {kind: tabular, columns: [x]}
    parts: {kind: particles, columns: [part_pt], length: 30, sort_by: part_pt}
""",
    )
    spec = load_dataset_spec(path)
    assert spec.inputs["parts"].length == 30
    assert spec.split.train == pytest.approx(0.6)
    assert spec.task == "classification"
    assert spec.weights.normalise.to == "mean"


def test_misspelled_key_is_named_with_a_suggestion(tmp_path):
    path = _write(
        tmp_path,
        """
data:
  sources: [{files: [s.root], label: 0}]
  inputs: {features: {kind: tabular, colums: [x]}}
""",
    )
    with pytest.raises(
        ConfigError,
        match=r"data\.inputs\.features.*colums: unknown key \(did you mean 'columns'\?\)",
    ):
        load_dataset_spec(path)


def test_splits_must_sum_to_one():
    with pytest.raises(ConfigError, match="must sum to 1"):
        parse_spec(
            DatasetSpec, {**MINIMAL, "split": {"train": 0.7, "validation": 0.2, "test": 0.2}}
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"classes": None}, "list them under 'classes'"),
        ({"classes": ["bkg", "other"]}, "not among classes"),
        ({"label": "is_signal"}, "either per source or with 'label'"),
        ({"target": "jet_mass"}, "takes no label"),
        ({"standardise": {"featurs": "none"}}, "not inputs"),
        ({"inputs": {"f": {"kind": "picture"}}}, "kind"),
    ],
)
def test_inconsistent_specs_are_rejected(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_spec(DatasetSpec, {**MINIMAL, **change})


def test_unreadable_yaml_names_the_file(tmp_path):
    path = _write(tmp_path, "data: [unclosed\n")
    with pytest.raises(ConfigError, match=r"spec\.yaml, line 2, column 1: not valid YAML"):
        load_dataset_spec(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_dataset_spec(tmp_path / "missing.yaml")


def test_a_source_format_is_one_the_readers_register():
    public = {**MINIMAL, "sources": [{**MINIMAL["sources"][0], "format": "jetclass"}]}
    assert parse_spec(DatasetSpec, public).sources[0].format == "jetclass"
    misspelt = {**MINIMAL, "sources": [{**MINIMAL["sources"][0], "format": "jetclas"}]}
    allowed = ", ".join(FORMATS)
    with pytest.raises(ConfigError) as error:
        parse_spec(DatasetSpec, misspelt, prefix="data.")
    assert str(error.value) == (
        "data.sources.0.format: unknown format 'jetclas' (did you mean 'jetclass'?); "
        f"choose one of {allowed}"
    )
    assert allowed == "auto, root, parquet, hdf5, top-landscape, jetclass, hls4ml-images"
