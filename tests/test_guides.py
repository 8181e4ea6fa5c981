"""The batch-cluster recipes of the guides are well-formed scripts."""

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide-many-machines.md"


def code_blocks(language: str) -> list[str]:
    """The fenced code blocks of the many-machines guide in ``language``."""
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


def test_every_shell_recipe_passes_bash_syntax_check(tmp_path):
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    blocks = code_blocks("bash")
    recipes = "\n".join(blocks)
    # the SLURM job (with requeue and --resume), the HTCondor executable, torchrun
    for needed in ("#SBATCH --requeue", "scontrol requeue", "--resume", "torchrun --nnodes"):
        assert needed in recipes, needed
    for index, block in enumerate(blocks):
        script = tmp_path / f"recipe_{index}.sh"
        script.write_text(block)
        result = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{block}\n{result.stderr}"


def test_the_python_recipes_parse_and_the_condor_file_names_its_executable():
    python = code_blocks("python")
    assert any("SLURMCluster" in block for block in python)
    for block in python:
        ast.parse(block)
    (submit,) = code_blocks("text")
    settings = {
        key.strip(): value.strip()
        for key, value in (line.split("=", 1) for line in submit.splitlines() if "=" in line)
        if not key.startswith("#")
    }
    assert settings["executable"] == "train.sh"
    assert settings["request_gpus"] == "2"
    assert "train.sh: the executable" in "".join(code_blocks("bash"))
