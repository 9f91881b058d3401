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
