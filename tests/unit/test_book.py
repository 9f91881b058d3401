"""The book runner's pure parts: discovery, selection, the table of contents, staging, status."""

import json

import nbformat
import pytest

from scalelab import book


def _notebook(path, tags=("parameters",)):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"),
                nbformat.v4.new_code_cell('scale = "smoke"', metadata={"tags": list(tags)}),
                nbformat.v4.new_code_cell("x = 1")]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def fake_repo(tmp_root):
    for name in ("00_setup", "01_mup_derivation", "03_wsd_vs_cosine"):
        _notebook(tmp_root / "notebooks" / f"{name}.ipynb")
    (tmp_root / "notebooks" / "scratch.ipynb").write_text("{}")  # not NN_*: ignored
    return tmp_root


def test_discover_in_order(fake_repo):
    nbs = book.discover()
    assert [nb.stem for nb in nbs] == ["00_setup", "01_mup_derivation", "03_wsd_vs_cosine"]
    assert nbs[2].number == "03" and nbs[2].slug == "wsd_vs_cosine"
    assert nbs[2].make_command("cpu") == "make chapter NB=03 SCALE=cpu"


def test_select_by_number_slug_or_file(fake_repo):
    nbs = book.discover()
    assert [nb.stem for nb in book.select(nbs, ["03"])] == ["03_wsd_vs_cosine"]
    assert [nb.stem for nb in book.select(nbs, ["wsd_vs_cosine", "notebooks/00_setup.ipynb"])] == [
        "03_wsd_vs_cosine", "00_setup"]
    assert book.select(nbs, None) == nbs


def test_select_unknown_lists_valid(fake_repo):
    with pytest.raises(ValueError, match="valid: 00_setup, 01_mup_derivation, 03_wsd_vs_cosine"):
        book.select(book.discover(), ["07"])


def test_run_rejects_unknown_scale(fake_repo):
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        book.run("huge")


def test_cli_unknown_scale_exit_code(fake_repo, capsys):
    assert book.main(["run", "--scale", "huge"]) == 2
    assert "valid: smoke, cpu, gpu" in capsys.readouterr().err


def test_toc_lists_setup_chapters_and_back_matter():
    toc = book.toc_yaml(["00_setup", "01_mup_derivation", "05_chinchilla"])
    lines = [ln.strip() for ln in toc.splitlines()]
    files = [ln.removeprefix("- file: ") for ln in lines if ln.startswith("- file:")]
    assert files == ["verdicts", "notation", "chapters/00_setup", "chapters/01_mup_derivation",
                     "chapters/05_chinchilla", "verdict_rules", "reproducibility", "record_schema", "performance",
                     "references"]
    assert "root: intro" in lines


def test_prepare_collapses_parameters_and_adds_banner(fake_repo):
    nb = book.discover()[2]
    doc = book.prepare(nb.path, nb, banner=True)
    assert doc.cells[0].source == "# Title"
    assert book.BANNER in doc.cells[1].source.lower() and "make chapter NB=03 SCALE=cpu" in doc.cells[1].source
    assert doc.cells[2].metadata["tags"] == ["parameters", "hide-cell"]
    assert "tags" not in doc.cells[3].metadata
    assert len(book.prepare(nb.path, nb, banner=False).cells) == 3


def _record(device, seconds, status="finished"):
    return {"key": f"{device}{seconds}{status}", "meta": {"device": device, "torch": "2.13.0", "seconds": seconds},
            "result": {"status": status}}


def test_status_rows(fake_repo):
    store = fake_repo / "results" / "cpu" / "wsd_vs_cosine.jsonl"
    store.parent.mkdir(parents=True)
    store.write_text("\n".join(json.dumps(r) for r in [_record("cpu", 1800.0), _record("cpu", 1800.0, "diverged"),
                                                         _record("cuda", 3600.0)]) + "\nnot json\n")
    rows = book.status_rows()
    assert rows == [{"chapter": "03_wsd_vs_cosine", "scale": "cpu", "runs": 3, "diverged": 1,
                     "devices": "cpu, cuda", "torch": "2.13.0", "hours": 2.0}]
    assert "| 03_wsd_vs_cosine | cpu | 3 | 1 |" in book.status_markdown()


def test_status_without_records(fake_repo):
    assert "No records" in book.status_markdown()


def test_performance_placeholder_and_record(fake_repo):
    assert "Not yet measured" in book.performance_markdown()
    bench = fake_repo / "results" / "bench"
    bench.mkdir(parents=True)
    record = {
        "at": "2026-01-01T00:00:00Z", "environment": {"torch": "2.13.0", "device": "cpu", "cpu_count": 2},
        "train": {"config": {"model": {"n_layer": 4, "d_model": 128, "seq_len": 128}, "batch_size": 32},
                  "num_params": 868352, "tokens_per_s": 1234.5, "model_flops_per_s": 6.4e9,
                  "matmul_peak_flops_per_s": 1.28e10, "utilisation": 0.5},
        "batched": {"steps": 20, "rows": [{"d_model": 64, "K": 8, "sequential_s": 2.0, "batched_s": 1.0,
                                           "speedup": 2.0, "parallel_s": 1.6, "parallel_speedup": 1.25}],
                    "jobs": 2, "threads_sequential": 2},
        "fit": {"grid_fit_s": 0.9},
    }
    (bench / "bench_cpu.json").write_text(json.dumps(record))
    text = book.performance_markdown()
    assert "torch 2.13.0" in text and "1,234" in text and "| 0.500 |" in text
    assert "| 64 | 8 |" in text and "2.00×" in text and "grid_fit_s" in text
    assert "1.25×" in text and "2 worker processes" in text


def test_stage_needs_an_execution(fake_repo):
    with pytest.raises(book.BookError, match="00_setup.ipynb: no smoke execution"):
        book.plan_stage()


def test_fresh_entry_tracks_the_notebook_and_the_records(fake_repo):
    nb = book.discover()[2]
    out = fake_repo / "_build" / "executed" / "cpu" / nb.name
    out.parent.mkdir(parents=True)
    out.write_text("{}")
    store = fake_repo / "results" / "cpu" / f"{nb.slug}.jsonl"
    store.parent.mkdir(parents=True)
    store.write_text(json.dumps(_record("cpu", 1.0)) + "\n")
    params = {"scale": "cpu", "seed": 0, "refresh": False, "device": "auto", "records_only": True}
    entry = {"status": "ok", "output": f"_build/executed/cpu/{nb.name}", "parameters": params,
             "inputs_sha256": book.inputs_digest(nb, "cpu", True)}
    book._save_manifest("cpu", {nb.name: entry})
    assert book.fresh_entry(nb, "cpu", True) == entry
    assert book.fresh_entry(nb, "cpu", False) is None  # a different mode is a different execution
    store.write_text(store.read_text() + json.dumps(_record("cpu", 2.0)) + "\n")
    assert book.fresh_entry(nb, "cpu", True) is None  # new records: the page must be re-rendered
    entry["inputs_sha256"] = book.inputs_digest(nb, "cpu", True)
    book._save_manifest("cpu", {nb.name: entry})
    assert book.fresh_entry(nb, "cpu", True) == entry
    _notebook(nb.path, tags=("parameters", "x"))
    assert book.fresh_entry(nb, "cpu", True) is None  # an edited notebook is stale


def test_run_reuses_fresh_executions(fake_repo, monkeypatch):
    calls = []

    def fake_execute(nb, scale, **kw):
        calls.append(nb.name)
        out = fake_repo / "_build" / "executed" / scale / nb.name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("{}")
        entry = {"notebook": nb.name, "status": "ok", "seconds": 0.0, "executed_at": "now",
                 "output": str(out.relative_to(fake_repo.resolve())),
                 "parameters": {"scale": scale, "seed": 0, "refresh": False, "device": "auto",
                                "records_only": kw.get("records_only", False)},
                 "inputs_sha256": book.inputs_digest(nb, scale, kw.get("records_only", False))}
        manifest = book._load_manifest(scale)
        manifest[nb.name] = entry
        book._save_manifest(scale, manifest)
        return entry

    monkeypatch.setattr(book, "execute", fake_execute)
    book.run("smoke", only=["00"], reuse=True, log=lambda *_: None)
    book.run("smoke", only=["00"], reuse=True, log=lambda *_: None)
    assert calls == ["00_setup.ipynb"]
    book.run("smoke", only=["00"], log=lambda *_: None)  # without --reuse it always executes
    assert calls == ["00_setup.ipynb"] * 2


def test_runner_reports_the_failing_cell_and_runs_in_notebooks_dir(tmp_root, capsys):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# Broken"),
                nbformat.v4.new_code_cell('scale = "smoke"', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import os\nassert os.path.basename(os.getcwd()) == 'notebooks'\n"
                                          "assert scale == 'smoke' and records_only is False"),
                nbformat.v4.new_code_cell("raise ValueError('records for run 7 are missing')")]
    (tmp_root / "notebooks").mkdir()
    nbformat.write(nb, str(tmp_root / "notebooks" / "99_broken.ipynb"))
    assert book.main(["run", "--scale", "smoke"]) == 1
    err = capsys.readouterr().err
    # cell 4 of the executed copy: papermill inserts the injected-parameters cell after the parameters
    assert "notebooks/99_broken.ipynb: cell 4 (In [4]" in err and "ValueError: records for run 7 are missing" in err
    entry = json.loads((tmp_root / "_build" / "executed" / "smoke" / "manifest.json").read_text())["99_broken.ipynb"]
    assert entry["status"] == "failed" and entry["seconds"] > 0
