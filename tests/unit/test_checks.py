import json

import numpy as np
import pytest

from scalelab.checks import VERDICTS, Check, Report, ValidityError, Verdict


def _report(passed=(True, True), verdicts=("reproduced", "contradicted")):
    checks = [Check(f"check {i}", p, f"value {i}", f"criterion {i}") for i, p in enumerate(passed)]
    vs = [Verdict(f"C9.{i}", f"claim {i}", v, "rule", "numbers", "arXiv 0000.00000 §1") for i, v in enumerate(verdicts)]
    return Report("demo", "smoke", checks, vs)


def test_verdict_vocabulary():
    assert VERDICTS == ("reproduced", "not resolved at this scale", "contradicted")


def test_unknown_verdict_names_the_valid_ones():
    with pytest.raises(ValueError) as err:
        Verdict("C1.1", "s", "confirmed", "c", "e", "src")
    for v in VERDICTS:
        assert v in str(err.value)


def test_unknown_scale_rejected():
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        Report("demo", "huge", [], [])


def test_numpy_bool_becomes_bool_so_reports_serialise():
    c = Check("x", np.bool_(True), "v", "c")
    assert type(c.passed) is bool
    json.dumps(Report("demo", "cpu", [c], []).to_dict())


def test_non_string_fields_rejected():
    with pytest.raises(TypeError, match="value"):
        Check("x", True, 0.5, "c")
    with pytest.raises(TypeError, match="evidence"):
        Verdict("C1.1", "s", "reproduced", "c", 3.0, "src")


def test_valid_report_passes():
    r = _report()
    assert r.all_valid and r.failed_checks() == []
    r.assert_valid()


def test_failed_check_is_listed_with_value_and_criterion():
    r = _report(passed=(True, False, False))
    assert not r.all_valid
    assert [c.name for c in r.failed_checks()] == ["check 1", "check 2"]
    with pytest.raises(ValidityError) as err:
        r.assert_valid()
    msg = str(err.value)
    assert "2 of 3" in msg and "check 1: value 1 (criterion: criterion 1)" in msg and "check 0" not in msg


def test_report_without_checks_is_not_valid():
    r = Report("demo", "cpu", [], [])
    assert not r.all_valid
    with pytest.raises(ValidityError, match="no validity checks"):
        r.assert_valid()


def test_contradicted_claim_is_not_a_validity_failure():
    r = _report(verdicts=("contradicted", "contradicted"))
    r.assert_valid()
    assert r.verdict_counts() == {"reproduced": 0, "not resolved at this scale": 0, "contradicted": 2}


def test_dict_and_file_round_trip(tmp_path):
    r = _report(passed=(True, False), verdicts=VERDICTS)
    assert Report.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    path = r.save(tmp_path / "sub" / "demo.json")
    assert path.exists() and Report.load(path) == r


def test_default_save_location(tmp_root):
    path = _report().save()
    assert path == tmp_root.resolve() / "_build" / "reports" / "smoke" / "demo.json"
    assert Report.load(path).verdicts[1].verdict == "contradicted"


def test_tables():
    r = _report(passed=(True, False))
    ct, vt = r.checks_table(), r.verdict_table()
    assert list(ct["check"]) == ["check 0", "check 1"] and list(ct["passed"]) == ["✓", "✗"]
    assert list(vt["verdict"]) == ["reproduced", "contradicted"]
    assert list(vt.columns) == ["claim", "statement", "verdict", "evidence", "criterion", "source"]
    assert Report("demo", "cpu").checks_table().empty


def test_rule_outcome_and_regions():
    from scalelab.checks import claim_region, power_target, rule_outcome

    assert claim_region(0.0, 0.5, "two-sided") == (-0.5, 0.5)
    assert claim_region(-1.0, 0.5, "less") == (-np.inf, -0.5) and claim_region(1.0, 0.5, "greater") == (0.5, np.inf)
    assert power_target(0.0, 0.5) == 0.5 and power_target(-1.0, 0.5) == 1.0
    assert rule_outcome((-0.2, 0.3), (-0.5, 0.5), 9.0, 0.5) == "reproduced"  # inside: power is not needed
    assert rule_outcome((0.7, 0.9), (-0.5, 0.5), 0.4, 0.5) == "contradicted"
    assert rule_outcome((0.7, 0.9), (-0.5, 0.5), 0.6, 0.5) == "not resolved at this scale"  # no power
    assert rule_outcome((0.3, 0.9), (-0.5, 0.5), 0.1, 0.5) == "not resolved at this scale"  # straddles
    with pytest.raises(ValueError, match="two-sided"):
        claim_region(0.0, 0.5, "both")


def test_text_only_verdicts_serialise_as_before():
    v = Verdict("C1.1", "s", "reproduced", "c", "e", "src")
    assert v.to_dict() == {"claim": "C1.1", "statement": "s", "verdict": "reproduced", "criterion": "c",
                           "evidence": "e", "source": "src"}
    assert v.outcome == "reproduced" and v.kind is None and Verdict.from_dict(v.to_dict()) == v


def _branch_pair(parent_sha, branch_sha, start_eval, parent_eval_at_400):
    parent = {"config_key": "P", "experiment": "constant", "config": {"total_steps": 500},
              "result": {"status": "finished", "checkpoints": {"400": {"sha256": parent_sha}},
                         "eval_curve": {"step": [400, 500], "loss": [parent_eval_at_400, 2.0]}}}
    branch = {"config_key": "B", "experiment": "wsd", "config": {"init_from": "P", "init_step": 400,
                                                                  "total_steps": 500},
              "result": {"status": "finished", "parent_checkpoint_sha256": branch_sha, "start_eval_loss": start_eval}}
    return [parent, branch]


def test_branches_reuse_checkpoints_bitwise_or_recreated():
    from scalelab.checks import RECREATED_TOL, branches_reuse_checkpoints

    assert branches_reuse_checkpoints(_branch_pair("a", "a", None, 2.2)).passed  # the same file
    ok = branches_reuse_checkpoints(_branch_pair("a", "b", 2.2 + 1e-7, 2.2))  # recreated, same state
    assert ok.passed and "1 start from a recreated checkpoint" in ok.value
    assert not branches_reuse_checkpoints(_branch_pair("a", "b", 2.2 + 10 * RECREATED_TOL, 2.2)).passed
    assert not branches_reuse_checkpoints(_branch_pair("a", "b", None, 2.2)).passed  # no evidence: refused
    pair = _branch_pair("a", "b", 2.2, 2.2)
    pair[0]["result"]["eval_curve"] = {"step": [500], "loss": [2.0]}  # the branch step is not an eval step
    assert not branches_reuse_checkpoints(pair).passed
