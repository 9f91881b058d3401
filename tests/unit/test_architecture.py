"""The package's shape: no import cycles, and the chapters use the one optimum, fit and resampling code.

An AST pass over ``src/scalelab`` (function-local imports included) builds the module import graph; no
module may import one that imports it back. Inside ``experiments/`` no chapter fits curves or resamples
itself (``polyfit``, ``curve_fit``, a ``choice`` with replacement): those live in ``scalelab.optimum``,
``scalelab.fit`` and ``scalelab.resample``, where they are tested once.
"""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "scalelab"


def _modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = ("scalelab", *p.relative_to(SRC).with_suffix("").parts)
        name = ".".join(parts).removesuffix(".__init__")
        out[name] = p
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scalelab"):
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in mods]
                graph[m].update(subs)
                if len(subs) < len(node.names) and node.module in mods:  # names defined in the module itself
                    graph[m].add(node.module)
            elif isinstance(node, ast.Import):
                graph[m].update(a.name for a in node.names if a.name in mods)
        graph[m].discard(m)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            yield name, node


def test_chapters_do_not_fit_or_resample_on_their_own():
    bad = []
    for p in sorted((SRC / "experiments").rglob("*.py")):
        for name, node in _calls(p):
            if name in ("polyfit", "curve_fit"):
                bad.append(f"{p.name}:{node.lineno} {name}")
            if name == "choice":
                replace = {k.arg: k.value for k in node.keywords}.get("replace")
                if not (isinstance(replace, ast.Constant) and replace.value is False):
                    bad.append(f"{p.name}:{node.lineno} choice with replacement (a resampling loop)")
    assert not bad, bad


# Optional dependencies (extras in pyproject.toml) are imported where they are used, so the package imports
# without them; every required module is imported at the top, where the dependency graph can be read.
OPTIONAL = {"submitit", "dask", "distributed", "datasets", "mup", "tokenizers", "papermill", "nbformat", "myst_nb",
            "jupyter_book", "ipykernel", "yaml"}


def function_local_imports() -> list[str]:
    out = []
    for name, p in _modules().items():
        tree = ast.parse(p.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom):
                    top = "." if node.level else (node.module or "").split(".")[0]
                elif isinstance(node, ast.Import):
                    top = node.names[0].name.split(".")[0]
                else:
                    continue
                if top not in OPTIONAL:
                    out.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    return sorted(set(out))


def test_function_local_imports_only_for_optional_dependencies():
    assert function_local_imports() == []


def test_the_local_import_scan_sees_a_hidden_import(tmp_path):
    (tmp_path / "mod.py").write_text("def f():\n    import pandas\n    import submitit\n")
    globals()["SRC"], old = tmp_path, SRC
    try:
        found = function_local_imports()
    finally:
        globals()["SRC"] = old
    assert found == ["scalelab.mod:2 import pandas"]
