"""The command line: help everywhere, one-line errors with exit code 2, nothing written."""

import pytest
from typer.testing import CliRunner

from helpers import assert_one_line_error, run_heplearn
from heplearn.cli import USER_ERROR_EXIT_CODE, app

runner = CliRunner()


def _generate(*arguments: str):
    return runner.invoke(app, ["generate", *arguments])


@pytest.mark.parametrize(
    "command",
    [[], ["generate"], ["demo"], ["train"], ["evaluate"], ["predict"], ["sample"], ["reweight"]],
)
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_unknown_sample_lists_the_samples(tmp_path):
    out = tmp_path / "out"
    result = _generate("top-vs-gcd", "-n", "10", "--out", str(out))
    assert_one_line_error(result, "'top-vs-gcd'", "top-vs-qcd", "jets5", "hww-vs-dy", "higgs-4l")
    assert not out.exists()


@pytest.mark.parametrize("events", ["0", "-5"])
def test_event_count_must_be_positive(tmp_path, events):
    out = tmp_path / "out"
    result = _generate("top-vs-qcd", "--events", events, "--out", str(out))
    assert_one_line_error(result, "--events", "greater than 0")
    assert not out.exists()


def test_inverted_pt_window(tmp_path):
    out = tmp_path / "out"
    result = _generate(
        "top-vs-qcd", "-n", "10", "-o", str(out), "--pt-min", "700", "--pt-max", "600"
    )
    assert_one_line_error(result, "--pt-min 700", "--pt-max 600", "inverted")
    assert not out.exists()


def test_pt_window_on_a_lepton_sample(tmp_path):
    out = tmp_path / "out"
    result = _generate("hww-vs-dy", "-n", "10", "-o", str(out), "--pt-min", "100")
    assert_one_line_error(result, "--pt-min", "hww-vs-dy")
    assert not out.exists()


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = _generate("top-vs-qcd", "-n", "10", "-o", str(blocker / "sample"))
    assert_one_line_error(result, str(blocker / "sample"), "writable")
    assert blocker.read_text() == "not a directory"


def test_non_empty_output_needs_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = _generate("top-vs-qcd", "-n", "10", "-o", str(out))
    assert_one_line_error(result, "not empty", "--overwrite")
    assert [path.name for path in out.iterdir()] == ["notes.txt"]


def test_bad_detector_config_names_the_key(tmp_path):
    config = tmp_path / "detector.yaml"
    config.write_text("cell_size_eta: -1\ntrack_resolution: 0.1\n")
    out = tmp_path / "out"
    result = _generate(
        "top-vs-qcd",
        "-n",
        "10",
        "-o",
        str(out),
        "--detector",
        "calo",
        "--detector-config",
        str(config),
    )
    assert_one_line_error(result, "cell_size_eta", "track_resolution")
    assert not out.exists()


def test_debug_shows_the_traceback(tmp_path):
    result = run_heplearn("--debug", "generate", "nope", "-n", "1", "-o", str(tmp_path / "out"))
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "ConfigError" in result.stderr


def test_the_installed_command_exits_with_2(tmp_path):
    result = run_heplearn("generate", "nope", "-n", "1", "-o", str(tmp_path / "out"))
    assert result.returncode == USER_ERROR_EXIT_CODE
    assert result.stderr.strip() == (
        "error: unknown sample 'nope'; choose one of: top-vs-qcd, jets5, hww-vs-dy, higgs-4l"
    )


def test_shuffle_names_a_missing_input(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["shuffle", str(tmp_path / "nope.root"), "--out", str(out)])
    assert_one_line_error(result, "nope.root")
    assert not out.exists()


def test_shuffle_rejects_a_bad_memory_budget(tmp_path):
    result = runner.invoke(
        app,
        ["shuffle", str(tmp_path / "x.root"), "--out", str(tmp_path / "o"), "--max-memory", "lots"],
    )
    assert result.exit_code == USER_ERROR_EXIT_CODE
    assert "error: " in result.stderr


def test_error_messages_keep_their_square_brackets(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        "data:\n  sources: [{files: [x.root], label: 0}]\n  classes: [a, b]\n"
        "  inputs: {jet: {kind: tabular, columns: [jet_pt]}}\n"
        "model: {name: mlp, inputs: [nope]}\n"
    )
    result = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "run")])
    assert_one_line_error(result, "['nope']")
    assert not (tmp_path / "run").exists()
