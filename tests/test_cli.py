"""The command line: help everywhere, one-line errors with exit code 2, nothing written."""

import re
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml
from typer.testing import CliRunner

from helpers import assert_one_line_error, run_config, run_heplearn
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


COMMANDS = [info.name or info.callback.__name__ for info in app.registered_commands]


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        (["frobnicate"], ["no such command 'frobnicate'", "'heplearn --help'"]),
        (["--frob"], ["no such option: --frob", "'heplearn --help'"]),
        (
            ["export", "runs/x", "--format", "tflite"],
            ["'--format'", "'tflite' is not one of 'onnx'", "'heplearn export --help'"],
        ),
        (["generate", "top-vs-qcd"], ["missing option '--events'", "'heplearn generate --help'"]),
        (["train"], ["missing argument 'CONFIG'", "'heplearn train --help'"]),
        (
            ["evaluate", "runs/x", "--working-point", "half"],
            ["'--working-point'", "a valid number"],
        ),
    ],
)
def test_usage_errors_are_one_line(arguments, fragments):
    result = runner.invoke(app, arguments)
    assert_one_line_error(result, *fragments)
    assert "╭" not in result.output
    assert "Value error" not in result.stderr


def test_no_arguments_still_show_the_help():
    result = runner.invoke(app, [])
    assert "Usage" in result.output
    assert "error:" not in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_arguments_and_values_in_plain_words(command):
    text = runner.invoke(app, [command, "--help"], terminal_width=200).output
    for internal in ("<bool>", "<str>", "<path>", "<int>", "<float>", "list[", "{"):
        assert internal not in text
    if command == "train":
        assert "heplearn train [OPTIONS] CONFIG" in text
        assert re.search(r"--set\s+TEXT", text)
        assert re.search(r"--resume\s+--no-resume\s+Continue", text)
    if command == "generate":
        assert "SAMPLE" in text
        assert "root|parquet" in text


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("seed: 42\nmodel:\n  name: mlp\n   inputs: [jet]\n")
    result = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "run")])
    assert_one_line_error(result, f"{config}, line 4, column 10", "not valid YAML")
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def small_config(generated_sample, tmp_path_factory):
    """A quick MLP run config on the shared small top-vs-qcd sample, as a YAML file."""
    sample = generated_sample("top-vs-qcd", events=300, workers=2)
    path = tmp_path_factory.mktemp("config") / "mlp.yaml"
    path.write_text(yaml.safe_dump(run_config(sample, {"name": "mlp", "inputs": ["jet"]})))
    return path


def test_devices_that_are_not_a_number_say_what_is_expected(small_config, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(small_config), "--out", str(out), "--devices", "abc"])
    assert_one_line_error(result, "training.devices: expected an integer or 'auto', got 'abc'")
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--devices", "0"], "'Trainer(devices=0)' value is not a valid input"),
        (["--accelerator", "gpu"], "no GPU is available to PyTorch"),
    ],
)
def test_lightning_misconfiguration_is_one_line(small_config, tmp_path, flags, fragment):
    if "gpu" in flags and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(small_config), "--out", str(out), *flags])
    assert_one_line_error(result, "Lightning cannot train with these settings", fragment)
    assert "--accelerator, --devices and --strategy" in result.stderr
    assert not out.exists()


def _interrupt_when(command: list[str], ready) -> tuple[int, str]:
    """Run ``command``, press Ctrl-C (SIGINT) once ``ready()`` holds; exit code and stderr.

    The command starts with SIGINT's default action, as from a terminal: an ignored SIGINT
    is inherited, and Lightning ignores it in the process (this test process, where other
    tests train) that it saw interrupted.
    """
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not ready() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


def test_ctrl_c_says_how_to_resume_and_resume_warns_of_nothing(generated_sample, tmp_path):
    sample = generated_sample("top-vs-qcd", events=300, workers=2)
    config = run_config(sample, {"name": "mlp", "inputs": ["jet"]}, epochs=1000, progress_bar=False)
    path = tmp_path / "mlp.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    history = out / "history.csv"

    def epochs() -> int:
        return len(history.read_text().splitlines()) - 1 if history.is_file() else 0

    checkpoint = out / "checkpoints" / "last.ckpt"  # (written after the epoch's history row)
    command = [sys.executable, "-m", "heplearn", "train", str(path), "--out", str(out)]
    code, stderr = _interrupt_when(command, lambda: epochs() >= 1 and checkpoint.is_file())
    assert code == 130
    expected = f"interrupted; continue the run with: heplearn train {path} --out {out} --resume"
    assert stderr.strip() == expected
    done = epochs()
    code, stderr = _interrupt_when([*command, "--resume"], lambda: epochs() > done)
    assert code == 130
    assert stderr.strip() == expected  # (no Lightning warning about the checkpoint folder)
