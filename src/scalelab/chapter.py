"""The chapter contract: what every ``scalelab.experiments.<slug>`` module provides, checked in one place.

A chapter is a module with

* ``SLUG``, ``NOTEBOOK`` (``NN_slug.ipynb``) and ``VERSION`` (part of every run key of the chapter);
* its claims: ``STATEMENTS`` and ``SOURCES`` (claim id → text), and ``CRITERIA`` where the criterion is stated
  as text before the results — :func:`claims_table` joins them into the one claims table;
* its design: ``plan(scale, seed)`` (the first stage, the runs the page renders from) and
  ``stage_plans(scale, seed)`` (every stage in order, the first being ``plan``; a later stage is analysed only
  once all its runs are recorded, so main stays records-complete while a plan grows), and ``ANALYSED_STAGES``,
  the later stages its analysis reads (a stage planned but not yet analysed stays out of ``analyze``);
* ``analyze(records, scale)`` → :class:`scalelab.checks.Report`, and ``glue_values(...)``: the plain numbers the
  notebook glues into its prose.

A chapter does not fetch its own records: :func:`scalelab.runner.chapter_records` does it the same way for every
chapter (the chapters it ``READS``, its first stage — planned again on its records while a staged design grows —
and each later stage once complete). A planning function that takes ``records=`` is a staged design
(:func:`takes_records`); its callers pass the records, and planning never reads a store.

:func:`conformance` lists what a module lacks; the test suite holds every chapter to it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType
from typing import Protocol, runtime_checkable

import pandas as pd

import scalelab.experiments as _experiments


@runtime_checkable
class Chapter(Protocol):
    SLUG: str
    NOTEBOOK: str
    VERSION: int
    STATEMENTS: dict
    SOURCES: dict

    def plan(self, scale: str, seed: int = 0) -> list: ...

    def stage_plans(self, scale: str, seed: int = 0) -> dict: ...

    def analyze(self, records: list[dict], scale: str): ...

    def glue_values(self, *args, **kwargs) -> dict: ...


REQUIRED = ("SLUG", "NOTEBOOK", "VERSION", "STATEMENTS", "SOURCES", "plan", "stage_plans", "analyze", "glue_values")


def chapters() -> list[ModuleType]:
    """Every experiments module that declares a ``SLUG``, in notebook order."""
    mods = []
    for info in pkgutil.iter_modules(_experiments.__path__):
        mod = importlib.import_module(f"scalelab.experiments.{info.name}")
        if getattr(mod, "SLUG", None):
            mods.append(mod)
    return sorted(mods, key=lambda m: m.NOTEBOOK)


def conformance(mod: ModuleType) -> list[str]:
    """What ``mod`` lacks or gets wrong against the contract (empty when it conforms)."""
    problems = [f"missing {name}" for name in REQUIRED if not hasattr(mod, name)]
    if problems:
        return problems
    if not (mod.NOTEBOOK.endswith(".ipynb") and mod.NOTEBOOK[:2].isdigit() and mod.SLUG in mod.NOTEBOOK):
        problems.append(f"NOTEBOOK {mod.NOTEBOOK!r} is not NN_{mod.SLUG}.ipynb")
    if not isinstance(mod.VERSION, int):
        problems.append("VERSION is not an int")
    if set(mod.STATEMENTS) != set(mod.SOURCES):
        odd = sorted(set(mod.STATEMENTS) ^ set(mod.SOURCES))
        problems.append(f"STATEMENTS and SOURCES name different claims: {odd}")
    crit = getattr(mod, "CRITERIA", None)
    if isinstance(crit, dict) and not set(crit) <= set(mod.STATEMENTS):
        problems.append(f"CRITERIA for claims without a statement: {sorted(set(crit) - set(mod.STATEMENTS))}")
    for name in ("plan", "stage_plans"):
        params = inspect.signature(getattr(mod, name)).parameters
        if list(params)[:2] != ["scale", "seed"]:
            problems.append(f"{name} does not take (scale, seed)")
    if hasattr(mod, "run"):
        problems.append("defines run(): records come from scalelab.runner.chapter_records, not a chapter wrapper")
    stages = list(mod.stage_plans("smoke", 0, **({"records": []} if takes_records(mod.stage_plans) else {})))
    odd = [s for s in getattr(mod, "ANALYSED_STAGES", ()) if s not in stages[1:]]
    if odd:
        problems.append(f"ANALYSED_STAGES names {odd}, which are not later stages of stage_plans ({stages[1:]})")
    if takes_records(mod.plan) != takes_records(mod.stage_plans):
        problems.append("plan and stage_plans disagree on taking records= (a staged design takes them in both)")
    return problems


def claims_table(mod: ModuleType) -> pd.DataFrame:
    """The chapter's claims: id, statement, criterion (where stated as text) and source."""
    crit = getattr(mod, "CRITERIA", None) or {}
    return pd.DataFrame([{"claim": c, "statement": mod.STATEMENTS[c], "criterion": crit.get(c, ""),
                          "source": mod.SOURCES[c]} for c in mod.STATEMENTS])


def takes_records(fn) -> bool:
    """Whether a chapter's planning function places runs on records (a ``records=`` keyword): a staged design,
    such as chapter 4's held-out grid placed on the fitted grid. Its caller reads the store and passes them."""
    return "records" in inspect.signature(fn).parameters


def recorded_all(specs: list, records: list[dict]) -> bool:
    """Whether every spec has a record among ``records`` (matched by config key, corpus-independent as the book
    renders): what a chapter's ``stage_complete`` asks of a stage before its analysis uses it."""
    have = {r.get("config_key") for r in records}
    return all(sp.config_key in have for sp in specs)
