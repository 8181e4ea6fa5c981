"""The layers of src/heplearn import downward only, and no module imports itself back.

The import graph is read with ``ast`` (nothing is imported); imports inside functions
count as much as those at the top of a module.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "heplearn"

# Layer of each subpackage or top-level module, lowest first; a module may import its own
# layer and the ones below. Shared utilities sit at 0.
LAYERS: dict[str, int] = {
    **dict.fromkeys(
        (
            "errors",
            "config",
            "files",
            "versions",
            "extras",
            "parallel",
            "allocator",
            "roc",
            "angles",
        ),
        0,
    ),
    "io": 1,
    "data": 2,
    "generate": 3,
    "models": 4,
    **dict.fromkeys(("training", "run_directory"), 5),
    **dict.fromkeys(("inference", "sampling"), 6),
    "evaluation": 7,
    "deploy": 8,
    "demo": 9,
    **dict.fromkeys(("cli", "cli_group", "__main__"), 10),
}
# generate is a command of its own (it needs heplearn[generate]): only these import it
IMPORTERS_OF_GENERATE = {"generate", "demo", "cli"}
# Upward imports still to remove, each with its reason. Keep this list short.
KNOWN_UPWARD: set[tuple[str, str]] = set()
# Import cycles still to break, each with its reason. Keep this list short.
KNOWN_CYCLES: list[list[str]] = []


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the heplearn modules it imports (``from a import b`` counts ``a.b`` when
    that is a module, else ``a``)."""
    modules = {_module_name(path, package): path for path in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if full in modules else node.module)
        graph[name] = {target for target in imported if target in modules and target != name}
    return graph


def _layer(module: str) -> str:
    return module.split(".")[1]


def test_every_module_has_a_layer() -> None:
    unplaced = {_layer(m) for m in import_graph() if m != "heplearn"} - set(LAYERS)
    assert not unplaced, f"place {sorted(unplaced)} in LAYERS of {__file__}"


def test_layers_import_downward_only() -> None:
    upward = []
    for module, targets in import_graph().items():
        if module == "heplearn":  # the package's facade (heplearn.train, __version__)
            continue
        for target in targets:
            if target == "heplearn" or (module, target) in KNOWN_UPWARD:
                continue  # (heplearn.__version__ is for everyone)
            if LAYERS[_layer(target)] > LAYERS[_layer(module)]:
                upward.append(f"{module} -> {target}")
            elif _layer(target) == "generate" and _layer(module) not in IMPORTERS_OF_GENERATE:
                upward.append(f"{module} -> {target} (generate is for cli and demo only)")
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_known_upward_imports_are_still_there() -> None:
    """An entry of KNOWN_UPWARD that was fixed must leave the list."""
    graph = import_graph()
    assert all(target in graph[module] for module, target in KNOWN_UPWARD)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert [cycle for cycle in found if cycle not in KNOWN_CYCLES] == []
    assert all(cycle in found for cycle in KNOWN_CYCLES), "a known cycle is gone: unlist it"


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """A package with a cycle and an upward import is caught."""
    package = tmp_path / "heplearn"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "data" / "__init__.py").write_text("")
    (package / "data" / "a.py").write_text("from heplearn.data import b\n")
    (package / "data" / "b.py").write_text("def f():\n    import heplearn.data.a\n")
    (package / "cli.py").write_text("from heplearn.data.a import x\n")
    (package / "errors.py").write_text("from heplearn import cli\n")
    graph = import_graph(package)
    assert cycles(graph) == [["heplearn.data.a", "heplearn.data.b"]]
    assert graph["heplearn.cli"] == {"heplearn.data.a"}
    assert LAYERS[_layer("heplearn.cli")] > LAYERS[_layer("heplearn.errors")]
    assert graph["heplearn.errors"] == {"heplearn.cli"}
