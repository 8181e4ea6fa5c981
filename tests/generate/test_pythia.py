"""Extra Pythia settings (``generate --pythia``): they change the events, bad ones are named."""

import numpy as np
import pytest

from helpers import read_events, read_metadata, run_heplearn
from heplearn.cli import USER_ERROR_EXIT_CODE
from heplearn.errors import ConfigError
from heplearn.generate.pythia import check_settings
from heplearn.generate.run import generate_sample
from heplearn.generate.samples import GenerateOptions

# Few events, but alpha_s far apart: the final-state shower of the soft value radiates
# about half as many particles (measured: 54 vs 93 constituents per QCD jet).
SHOWER = {"events": 30, "events_per_file": 100, "seed": 11}
SOFT, HARD = "TimeShower:alphaSvalue = 0.08", "TimeShower:alphaSvalue = 0.2"


def test_a_stronger_final_state_shower_gives_more_constituents(generated_sample):
    soft = generated_sample("top-vs-qcd", **SHOWER, pythia_settings=[SOFT])
    hard = generated_sample("top-vs-qcd", **SHOWER, pythia_settings=[HARD])
    soft_events, hard_events = read_events(soft), read_events(hard)
    for label in (0, 1):
        fewer = np.asarray(soft_events.jet_nparticles[soft_events.is_signal == label])
        more = np.asarray(hard_events.jet_nparticles[hard_events.is_signal == label])
        assert more.mean() > 1.25 * fewer.mean(), label
    assert read_metadata(hard)["options"]["pythia_settings"] == [HARD]


def test_settings_are_stripped_and_empty_ones_dropped():
    options = GenerateOptions(events=1, pythia_settings=("  TimeShower:pTmin=0.6 ", " "))
    assert options.pythia_settings == ("TimeShower:pTmin=0.6",)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("TimeShower:alphaSvalu = 0.15", r"not found.*did you mean TimeShower:alphaSvalue "),
        ("TimeShower:alphaSvalue = 5", "out of range"),
        ("TimeShower:alphaSvalue = many", "not meaningful"),
        ("Random:seed = 3", "seeds are set per block from --seed"),
        ("Beams:eCM = 13000", "use --ecm"),
    ],
)
def test_a_setting_pythia_rejects_is_named(setting, expected, capfd):
    with pytest.raises(ConfigError, match=expected) as error:
        check_settings([SOFT, setting])
    assert repr(setting) in str(error.value)
    assert capfd.readouterr().out == ""  # Pythia's own printout is captured


def test_a_bad_setting_stops_generate_before_any_output(tmp_path):
    with pytest.raises(ConfigError, match="Pythia manual"):
        generate_sample(
            "top-vs-qcd",
            GenerateOptions(events=5, pythia_settings=("TimeShower:alphaSvalu = 0.1",)),
            tmp_path / "out",
            workers=2,
        )
    assert not (tmp_path / "out").exists()


def test_the_cli_prints_one_line_and_exits_2(tmp_path):
    result = run_heplearn(
        "generate",
        "top-vs-qcd",
        "--events",
        "5",
        "--out",
        str(tmp_path / "out"),
        "--pythia",
        "TimeShower:alphaSvalue = 0.12",
        "--pythia",
        "TimeShower:alphaSvalu = 0.15",
    )
    assert result.returncode == USER_ERROR_EXIT_CODE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "'TimeShower:alphaSvalu = 0.15'" in lines[0]
    assert "spelling" in lines[0]
    assert "Pythia manual" in lines[0]
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()
