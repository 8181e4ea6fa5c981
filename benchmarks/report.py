"""The benchmark report: machine and versions, then one section per benchmark module."""

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from heplearn.files import atomic_path
from heplearn.versions import package_versions


@dataclass
class Section:
    """One benchmark's table and the text that says what it measures."""

    title: str
    description: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def markdown(self) -> str:
        """Render as a Markdown heading, paragraph and table."""
        lines = [f"## {self.title}", "", self.description, ""]
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "---|" * len(self.headers))
        lines.extend("| " + " | ".join(row) + " |" for row in self.rows)
        return "\n".join(lines) + "\n"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_description() -> str:
    """One line naming the machine the numbers were taken on."""
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB memory"
    except (ValueError, OSError):
        pass
    return (
        f"{_cpu_model()}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.machine()}"
    )


def _header_value(text: str, key: str) -> str:
    """The value of a ``- key: value`` line of a report's header ("" if missing)."""
    prefix = f"- {key}: "
    line = next((line for line in text.splitlines() if line.startswith(prefix)), "")
    return line.removeprefix(prefix)


def _previous_sections(path: Path) -> tuple[str, dict[str, str]]:
    """When and where the existing report was measured, and its sections (title → Markdown)."""
    if not path.is_file():
        return "", {}
    text = path.read_text()
    measured = f"{_header_value(text, 'date')} on {_header_value(text, 'machine')}"
    parts = text.split("\n## ")[1:]
    return measured, {part.split("\n", 1)[0]: "## " + part.rstrip("\n") + "\n" for part in parts}


def _dated(body: str, title: str, measured: str) -> str:
    """A kept section, marked with the date and machine it was measured on (once)."""
    if "*Measured " in body:
        return body
    return body.replace(
        f"## {title}\n", f"## {title}\n\n*Measured {measured}, in an earlier run.*\n", 1
    )


def write_report(sections: list[Section], path: Path, keep_others: bool = False) -> None:
    """Write ``docs/benchmarks.md`` with the machine, versions, date and every section.

    With ``keep_others`` the sections of the existing file that this run did not measure
    are kept in their places, marked with the date and machine they were measured on (the
    numbers of different machines do not compare); new ones follow.
    """
    versions = ", ".join(f"{name} {version}" for name, version in package_versions().items())
    header = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks`); do not edit by hand.",
        "Every speed is compared with a baseline measured in the same run, on the same machine.",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine_description()}",
        f"- versions: {versions}",
        "",
    ]
    new = {section.title: section.markdown() for section in sections}
    bodies = list(new.values())
    if keep_others:
        measured, previous = _previous_sections(path)
        bodies = [
            new.get(title) or _dated(body, title, measured) for title, body in previous.items()
        ]
        bodies += [body for title, body in new.items() if title not in previous]
    text = "\n".join(header) + "\n" + "\n".join(bodies)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_text(text)
