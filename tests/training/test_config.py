import pytest
import yaml

from heplearn.errors import ConfigError
from heplearn.training.config import apply_overrides, load_run_config, parse_run_config

DATA = {
    "sources": [{"files": ["x.root"]}],
    "label": "is_signal",
    "classes": ["qcd", "top"],
    "inputs": {
        "jet": {"kind": "tabular", "columns": ["jet_mass"]},
        "particles": {"kind": "particles", "columns": ["part_pt"]},
    },
    "standardise": {"particles": "none"},
}


def write_config(tmp_path, **sections):
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(DATA))
    config = {"seed": 7, "data": "data.yaml", **sections}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_data_may_live_in_its_own_file_and_set_overrides_any_key(tmp_path):
    path = write_config(tmp_path, model={"name": "mlp"}, training={"epochs": 5})
    config = load_run_config(path, ["training.epochs=3", "model.widths=[8, 4]"])
    assert config.seed == 7
    assert config.training.epochs == 3
    assert config.model.widths == [8, 4]
    assert config.data.classes == ["qcd", "top"]


def test_resolved_config_round_trips_with_every_default(tmp_path):
    config = load_run_config(write_config(tmp_path, model={"name": "mlp"}))
    resolved = yaml.safe_load(config.to_yaml())
    assert resolved["training"]["optimizer"]["name"] == "adamw"
    assert resolved["model"]["activation"] == "relu"
    assert parse_run_config(resolved) == config


def test_the_model_data_keep_only_the_inputs_the_model_reads(tmp_path):
    config = load_run_config(write_config(tmp_path, model={"name": "mlp"}))
    reduced = config.model_data()
    assert list(reduced.inputs) == ["jet"]
    assert reduced.standardise == {}


def test_misspelled_keys_are_named_with_a_suggestion(tmp_path):
    path = write_config(tmp_path, model={"name": "mlp"}, training={"epoch": 3})
    with pytest.raises(
        ConfigError, match=r"training\.epoch: unknown key \(did you mean 'epochs'\?\)"
    ):
        load_run_config(path)
    path = write_config(tmp_path, model={"name": "mlp", "widht": [3]})
    with pytest.raises(ConfigError, match=r"model\.widht: unknown key \(did you mean 'widths'\?\)"):
        load_run_config(path)


def test_unknown_model_lists_the_registry(tmp_path):
    path = write_config(tmp_path, model={"name": "particlenett"})
    with pytest.raises(ConfigError, match=r"did you mean 'particlenet'.*available: .*cnn"):
        load_run_config(path)


def test_a_model_without_its_input_kind_is_refused(tmp_path):
    path = write_config(tmp_path, model={"name": "cnn"})
    with pytest.raises(ConfigError, match="'cnn' needs exactly one image input"):
        load_run_config(path).model_data()


def test_overrides_must_be_key_value():
    with pytest.raises(ConfigError, match="write key=value"):
        apply_overrides({}, ["training.epochs"])
    with pytest.raises(ConfigError, match="'seed' is not a section"):
        apply_overrides({"seed": 1}, ["seed.value=2"])
