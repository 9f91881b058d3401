"""Chapter 6's module on synthetic records: the fit set, predictions, per-LR errors, and the proposals' planning."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from scalelab.experiments import lr_schedule_law as law
from scalelab.fit import schedule_law as sl


def test_plan_trains_only_the_recorded_proposals():
    specs = law.plan("cpu")
    prop = law.PROPOSED["cpu"]
    assert len(specs) == 2 * len({tuple(sorted(s.items())) for s in prop["schedules"].values()})
    assert {s.experiment for s in specs} == {law.EXP_PROPOSED}
    assert all(s.config.total_steps == prop["budget"] and s.config.lr == prop["lr"] for s in specs)
    assert law.plan("smoke") == [] and law.stage_plans("smoke") == {"proposed": []}
    assert not law.stage_complete([], "smoke")  # an empty stage is never complete
    with pytest.raises(ValueError, match="valid"):
        law.chapter_plan("tpu")


def test_family_members_are_valid_schedules_and_wsd_like_is_falsifiable():
    fam = law.family("cpu")
    assert any(f["schedule"] == "cosine" for f in fam) and any(f["schedule"] == "wsd" for f in fam)
    assert law.wsd_like({"schedule": "wsd", "decay_frac": 0.2, "decay_shape": "linear", "final_frac": 0.0}, "cpu")[0]
    assert not law.wsd_like({"schedule": "cosine", "final_frac": 0.1}, "cpu")[0]
    assert not law.wsd_like({"schedule": "wsd", "decay_frac": 0.2, "decay_shape": "linear", "final_frac": 0.5},
                            "cpu")[0]


def test_schedule_scores_pick_the_generators_best():
    """Under a known annealing law a longer cooldown area wins until the forward area is lost: the best member
    must beat cosine under that law, and the table is sorted."""
    truth = sl.AnnealingLaw(L0=1.0, A=20.0, alpha=0.5, C=0.01, decay=0.95)
    sc = law.schedule_scores(truth, "cpu")
    assert sc["predicted"].is_monotonic_increasing
    cos = sc[(sc["schedule"] == "cosine") & (sc["final_frac"] == 0.1)]["predicted"].iloc[0]
    assert sc["predicted"].iloc[0] <= cos


def test_per_lr_error_takes_the_worst_family():
    pred = pd.DataFrame({"law": "annealing", "schedule": ["a", "a", "b", "a"], "log2_lr": [-6, -6, -6, -5],
                         "seed": 0, "in_fit": False, "error": [0.01, -0.03, 0.05, -0.02]})
    per = law.per_lr_error(pred, "annealing")
    assert per.to_dict() == pytest.approx({-6: 0.05, -5: 0.02})


def test_schedule_labels():
    assert law.schedule_label({"schedule": "cosine", "final_frac": 0.1}, "cosine") == "cosine→10%"
    assert law.schedule_label({"schedule": "cosine", "final_frac": 0.0}, "cosine_to_zero") == "cosine→0"
    lab = law.schedule_label({"schedule": "wsd", "decay_frac": 0.2, "decay_shape": "1-sqrt", "final_frac": 0.0}, "wsd")
    assert lab == "WSD .2 1-sqrt"
    assert np.isfinite(law.annealing_areas("cpu", 0.95)["S2_per_drop"]).all()


def test_glue_values_from_an_analysis():
    pred = pd.DataFrame({"law": ["annealing", "annealing", "multi-power"],
                         "schedule": ["cosine→10%", "multistep", "cosine→10%"], "log2_lr": [-6, -6, -6], "seed": 0,
                         "in_fit": False, "error": [0.02, -0.01, 0.03]})
    fit = types.SimpleNamespace(law=sl.AnnealingLaw(L0=1.0, A=1.0, alpha=0.5, C=0.1, decay=0.99))
    virt = pd.DataFrame({"d_model": [64, 64], "in_fit": [True, False], "error": [0.0, -0.004]})
    a = law.Analysis(runs=pd.DataFrame(), fits={("annealing", 2.0 ** -6): fit}, pred=pred, sigma=0.001, n_pairs=3,
                     tau=0.0028, virtual=virt, decay5=0.99)
    g = law.glue_values(a, "cpu")
    assert g["ann_cos_err"] == pytest.approx(0.02) and g["ann_ms_err"] == pytest.approx(-0.01)
    assert g["ann_mean_abs"] == pytest.approx(0.02)  # per LR, the worst family
    assert g["mpl_cos_err"] == pytest.approx(0.03) and np.isnan(g["mpl_ms_err"])
    assert g["decay_median"] == 0.99 and g["virtual_mean_abs"] == pytest.approx(0.004) and g["virtual_n"] == 1
