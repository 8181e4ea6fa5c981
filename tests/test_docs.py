"""The documentation stays inside the repository and its generated parts are current."""

import re
from pathlib import Path

import pytest

from helpers import docs_script
from heplearn.data.readers.registry import READERS

REPOSITORY = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [REPOSITORY / "README.md", *REPOSITORY.glob("docs/*.md"), *REPOSITORY.glob("examples/*.md")]
)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPOSITORY)))
def test_no_link_leaves_the_repository(page):
    text = page.read_text(encoding="utf-8")
    assert not re.findall(r"https?://\S+", text)
    for target in re.findall(r"\]\(([^)#]+)", text):  # markdown links to files
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(REPOSITORY), target
        assert resolved.exists(), target
    assert "../shared" not in text


def test_the_formats_of_config_md_are_those_of_the_registry():
    module = docs_script("generate_format_reference")
    committed = (REPOSITORY / "docs" / "config.md").read_text(encoding="utf-8")
    assert committed == module.config_page(committed), (
        "docs/config.md's formats are out of date: run "
        ".venv/bin/python docs/generate_format_reference.py"
    )
    table = module.format_table()
    rows = [line for line in table.splitlines() if line.startswith("| `")][1:]  # no header
    assert [row.split("`")[1] for row in rows] == list(READERS)
    assert "| `jetclass` |" in table and "`label`: `QCD`, `Hbb`" in table


def test_a_stale_formats_table_is_rewritten():
    module = docs_script("generate_format_reference")
    stale = f"before\n{module.BEGIN}\n| `root` | old |\n{module.END}\nafter\n"
    page = module.config_page(stale)
    assert page.startswith("before\n") and page.endswith("\nafter\n")
    assert "| old |" not in page and "| `hls4ml-images` |" in page
