from pathlib import Path

import pytest

from scalelab import paths


def test_root_is_the_checkout_by_default(monkeypatch, repo_root):
    monkeypatch.delenv("SCALELAB_ROOT", raising=False)
    assert paths.repo_root() == repo_root
    assert paths.build_dir() == repo_root / "_build"


def test_env_overrides_root(tmp_root):
    assert paths.repo_root() == tmp_root.resolve()
    assert paths.build_dir() == tmp_root.resolve() / "_build"


def test_results_path_per_scale(tmp_root):
    root = tmp_root.resolve()
    assert paths.results_path("wsd_vs_cosine", "smoke") == root / "_build" / "results" / "smoke" / "wsd_vs_cosine.jsonl"
    assert paths.results_path("wsd_vs_cosine", "cpu") == root / "results" / "cpu" / "wsd_vs_cosine.jsonl"
    assert paths.results_path("wsd_vs_cosine", "gpu") == root / "results" / "gpu" / "wsd_vs_cosine.jsonl"


def test_report_path(tmp_root):
    expected = tmp_root.resolve() / "_build" / "reports" / "cpu" / "chinchilla.json"
    assert paths.report_path("chinchilla", "cpu") == expected


@pytest.mark.parametrize("fn", [paths.results_path, paths.report_path])
def test_unknown_scale_is_an_error(fn):
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        fn("chinchilla", "laptop")


def test_relative_for_display(tmp_root):
    assert paths.relative(tmp_root / "results" / "cpu" / "x.jsonl") == str(Path("results/cpu/x.jsonl"))
    assert paths.relative(Path("/elsewhere/x")) == "/elsewhere/x"
