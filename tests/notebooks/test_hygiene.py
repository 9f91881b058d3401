"""Committed notebooks are clean: one literal parameters cell, no outputs, no definitions, python3 kernel."""

from __future__ import annotations

import ast
import importlib

import nbformat
import pytest
from nbhelpers import chapters, ids, notebooks

NOTEBOOKS, CHAPTERS = notebooks(), chapters()
DEFAULTS = {"scale": "smoke", "seed": 0, "refresh": False, "device": "auto", "records_only": False}


def test_notebooks_exist():
    assert any(nb.stem == "00_setup" for nb in NOTEBOOKS), "notebooks/00_setup.ipynb is missing"


def _read(nb):
    return nbformat.read(str(nb.path), as_version=4)


def _python(source: str) -> str:
    # IPython magics and shell escapes are not Python; blank them so ast can parse the rest.
    return "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines())


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_one_literal_parameters_cell_with_the_standard_defaults(nb):
    doc = _read(nb)
    tagged = [c for c in doc.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{nb.name}: {len(tagged)} cells tagged `parameters`, expected exactly one"
    cell = tagged[0]
    assert cell.cell_type == "code"
    values = {}
    for stmt in ast.parse(cell.source).body:
        assert isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name), \
            f"{nb.name}: the parameters cell holds only `name = literal` lines, found {ast.dump(stmt)[:60]}"
        values[stmt.targets[0].id] = ast.literal_eval(stmt.value)
    for name, default in DEFAULTS.items():
        assert name in values, f"{nb.name}: parameter `{name}` missing"
        assert values[name] == default and type(values[name]) is type(default), \
            f"{nb.name}: `{name} = {values[name]!r}`, expected `{default!r}` (the cheapest default)"
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in doc.cells)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_outputs_committed(nb):
    dirty = [i for i, c in enumerate(_read(nb).cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{nb.name}: cells {dirty} carry outputs or execution counts; strip them before committing"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_definitions_in_notebooks(nb):
    for i, cell in enumerate(_read(nb).cells):
        if cell.cell_type != "code":
            continue
        tree = ast.parse(_python(cell.source))
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        assert not defs, f"{nb.name} cell {i}: defines `{defs[0].name}`; move it into src/scalelab and test it"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_kernel_and_title(nb):
    doc = _read(nb)
    assert doc.metadata.get("kernelspec", {}).get("name") == "python3", f"{nb.name}: kernelspec must be python3"
    assert doc.cells and doc.cells[0].cell_type == "markdown" and doc.cells[0].source.startswith("# "), \
        f"{nb.name}: the first cell is a markdown cell starting with the title (`# …`)"


@pytest.mark.parametrize("nb", CHAPTERS, ids=ids(CHAPTERS))
def test_chapter_module_and_report(nb):
    mod = importlib.import_module(nb.module)
    assert mod.SLUG == nb.slug and mod.NOTEBOOK == nb.name
    for fn in ("plan", "stage_plans", "analyze", "glue_values"):
        assert callable(getattr(mod, fn, None)), f"{nb.module} lacks {fn}()"
    assert not hasattr(mod, "run"), f"{nb.module} wraps the runner: records come from runner.chapter_records"
    code = "\n".join(c.source for c in _read(nb).cells if c.cell_type == "code")
    assert ".save(" in code and ".assert_valid()" in code, \
        f"{nb.name}: save the Report (report.save(paths.report_path(SLUG, scale))) and call report.assert_valid()"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_python_cross_references(nb):
    """The book has no API pages, so `{py:func}` and friends cannot resolve and fail the -n build."""
    bad = [c.source[:60] for c in _read(nb).cells if c.cell_type == "markdown" and "{py:" in c.source]
    assert not bad, f"{nb.name}: Python cross-reference roles in markdown (use code literals): {bad}"


@pytest.mark.parametrize("nb", CHAPTERS, ids=ids(CHAPTERS))
def test_one_notebook_template(nb):
    """Every chapter imports itself and its figures under the same names, builds its report path once, fetches
    its records through the one runner body, and has a "By hand" cell that asserts a number against the library."""
    doc = _read(nb)
    code = "\n".join(c.source for c in doc.cells if c.cell_type == "code")
    slug = nb.stem[3:]
    for line in (f"from scalelab.experiments import {slug} as ch", f"from scalelab.plotting import {slug} as figures",
                 "report_file = paths.report_path(ch.SLUG, scale)", "chapter_records(ch, scale"):
        assert line in code, f"{nb.name}: missing `{line}`"
    assert code.count("report_path(") == 1, f"{nb.name}: build the report path once (report_file)"
    by_hand = [i for i, c in enumerate(doc.cells) if c.cell_type == "markdown" and "By hand" in c.source]
    assert by_hand, f"{nb.name}: no 'By hand' cell"
    nxt = doc.cells[by_hand[0] + 1]
    assert nxt.cell_type == "code" and ("assert" in nxt.source or "np.isclose" in nxt.source), \
        f"{nb.name}: the cell after 'By hand' does not check its number against the library"
