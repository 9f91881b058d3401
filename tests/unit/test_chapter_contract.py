"""Every chapter module honours the chapter contract (scalelab.chapter), and its first stage is its plan."""

import types

import pytest

from scalelab.chapter import Chapter, chapters, claims_table, conformance

CHAPTERS = chapters()


def test_six_chapters_in_notebook_order():
    assert [m.NOTEBOOK[:2] for m in CHAPTERS] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("mod", CHAPTERS, ids=[m.SLUG for m in CHAPTERS])
def test_chapter_conforms(mod):
    assert conformance(mod) == []
    assert isinstance(mod, Chapter)
    table = claims_table(mod)
    assert len(table) == len(mod.STATEMENTS) and table["source"].str.len().min() > 0


@pytest.mark.parametrize("mod", CHAPTERS, ids=[m.SLUG for m in CHAPTERS])
def test_first_stage_is_the_plan(mod):
    stages = mod.stage_plans("smoke", seed=0)
    first = next(iter(stages.values()))
    assert [s.config_key for s in first] == [s.config_key for s in mod.plan("smoke", seed=0)]


def test_conformance_names_what_is_missing():
    fake = types.ModuleType("fake")
    fake.SLUG = "fake"
    assert "missing NOTEBOOK" in conformance(fake)
