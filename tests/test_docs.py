"""The documentation stays inside the repository: no web links, no paths out of it."""

import re
from pathlib import Path

import pytest

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
