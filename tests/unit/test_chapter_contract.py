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


def test_chapter_records_grows_a_staged_plan_and_admits_only_complete_later_stages(monkeypatch, tmp_path):
    """The one records body: a plan taking records= is planned again until it stops growing; a later stage
    enters only once every run of it is recorded."""
    import types

    import scalelab.runner as R
    from scalelab.store import RunStore

    class Spec:
        def __init__(self, k):
            self.config_key = k

    def plan(scale, seed=0, records=None):
        have = {r["config_key"] for r in records or []}
        return [Spec("a"), Spec("b")] + ([Spec("held")] if {"a", "b"} <= have else [])

    def stage_plans(scale, seed=0, records=None):
        return {"base": plan(scale, seed, records), "extra": [Spec("x"), Spec("y")]}

    calls = []

    def fake_run_chapter(slug, nb, specs, scale, **kw):
        calls.append([s.config_key for s in specs])
        return [{"config_key": s.config_key} for s in specs]

    monkeypatch.setattr(R, "run_chapter", fake_run_chapter)
    mod = types.SimpleNamespace(SLUG="demo", NOTEBOOK="09_demo.ipynb", plan=plan, stage_plans=stage_plans,
                                ANALYSED_STAGES=("extra",))
    store = RunStore(tmp_path / "demo.jsonl")
    monkeypatch.setattr(R, "recorded", lambda specs, store: {"x": {"config_key": "x"}})  # 'extra' part way
    recs = R.chapter_records(mod, "smoke", store=store)
    assert calls == [["a", "b"], ["held"]] and [r["config_key"] for r in recs] == ["a", "b", "held"]
    monkeypatch.setattr(R, "recorded", lambda specs, store: {k: {"config_key": k} for k in ("x", "y")})
    calls.clear()
    recs = R.chapter_records(mod, "smoke", store=store)
    assert [r["config_key"] for r in recs] == ["a", "b", "held", "x", "y"]
    with pytest.raises(ValueError, match="seed must be"):
        R.chapter_records(mod, "smoke", seed=-1, store=store)


def test_no_chapter_wraps_the_runner():
    for mod in chapters():
        assert not hasattr(mod, "run"), mod.SLUG


def test_a_planned_stage_reaches_analyze_only_when_declared(monkeypatch, tmp_path):
    import types

    import scalelab.runner as R
    from scalelab.store import RunStore

    class Spec:
        def __init__(self, k):
            self.config_key = k

    monkeypatch.setattr(R, "run_chapter", lambda slug, nb, specs, scale, **kw: [{"config_key": s.config_key}
                                                                               for s in specs])
    monkeypatch.setattr(R, "recorded", lambda specs, store: {s.config_key: {"config_key": s.config_key}
                                                             for s in specs})
    mod = types.SimpleNamespace(SLUG="demo", NOTEBOOK="09_demo.ipynb", plan=lambda scale, seed=0: [Spec("a")],
                                stage_plans=lambda scale, seed=0: {"base": [Spec("a")], "planned": [Spec("p")],
                                                                   "read": [Spec("r")]})
    store = RunStore(tmp_path / "demo.jsonl")
    assert [r["config_key"] for r in R.chapter_records(mod, "smoke", store=store)] == ["a"]
    mod.ANALYSED_STAGES = ("read",)
    assert [r["config_key"] for r in R.chapter_records(mod, "smoke", store=store)] == ["a", "r"]
