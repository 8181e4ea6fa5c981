"""Optional extras: a missing one is one error line naming the pip install to run."""

import importlib
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from heplearn.cli import app
from heplearn.errors import MissingExtraError
from heplearn.extras import EXTRAS, require, require_extra

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


def _forget(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """Make ``package`` and its submodules import afresh (restored after the test)."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)


def test_require_imports_or_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require("json", "dask", "anything") is importlib.import_module("json")
    monkeypatch.setitem(sys.modules, "xgboost", None)  # `import xgboost` now fails
    with pytest.raises(MissingExtraError) as error:
        require("xgboost", "xgboost", "model.backend: xgboost")
    assert str(error.value) == (
        "model.backend: xgboost needs the xgboost package, which is not installed; "
        "pip install 'heplearn[xgboost]'"
    )
    with pytest.raises(ValueError, match="unknown extra 'gpu'"):
        require("xgboost", "gpu", "anything")


def test_require_extra_checks_every_module_without_importing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_extra("generate", "generating events")  # installed for the tests
    monkeypatch.setitem(sys.modules, "fastjet", None)
    with pytest.raises(MissingExtraError, match=r"the fastjet package.*'heplearn\[generate\]'$"):
        require_extra("generate", "generating events")


def test_every_extra_is_declared_and_make_installs_them() -> None:
    optional = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    assert set(EXTRAS) <= set(optional)
    assert "heplearn[generate,export,dask,xgboost,lgatr]" in optional["all"]
    makefile = (PYPROJECT.parent / "Makefile").read_text()
    assert '-e ".[all,dev]"' in makefile


def test_generate_without_pythia_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _forget(monkeypatch, "heplearn.generate")
    monkeypatch.setitem(sys.modules, "pythia8mc", None)
    result = CliRunner().invoke(
        app, ["generate", "top-vs-qcd", "-n", "10", "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        "error: generating events (heplearn generate, heplearn demo) needs the pythia8mc "
        "package, which is not installed; pip install 'heplearn[generate]'"
    ]
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("module", ["onnx", "onnxscript", "onnxruntime"])
def test_export_without_onnx_names_the_extra(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    _forget(monkeypatch, "heplearn.deploy.export")
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError, match=rf"the {module} package.*'heplearn\[export\]'$"):
        importlib.import_module("heplearn.deploy.export")
