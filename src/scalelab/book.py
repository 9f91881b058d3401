"""The book pipeline: execute chapter notebooks with papermill, stage them into the book, report records.

Commands (``python -m scalelab.book <command> --help`` for options):

* ``run --scale smoke [--only 03] [--records-only] [--fallback-smoke]`` executes ``notebooks/NN_*.ipynb``
  with the parameters ``scale, seed, refresh, device, records_only`` into ``_build/executed/<scale>/``,
  with the kernel's working directory in ``notebooks/``. A failure names the notebook, the cell and the
  error, and the command exits non-zero after trying the other notebooks.
  With ``--records-only`` at ``cpu``/``gpu`` only chapters that have records at that scale run; with
  ``--fallback-smoke`` every other notebook is executed at smoke scale so that the book can render it.
* ``stage --scale cpu`` copies the executed notebooks into ``book/chapters/`` (parameter cells collapsed,
  a banner on chapters rendered at smoke scale), writes ``book/_toc.yml`` from the notebooks present and
  the generated fragments that ``reproducibility.md``, ``performance.md`` and ``verdicts.md`` (the
  "Verdicts at a glance" page, from the chapter reports) include.
* ``status`` prints the records per chapter and scale (runs, devices, torch versions, seconds).
* ``check-complete --scale cpu`` exits 1 unless every chapter's plan is fully recorded at that scale, i.e.
  unless every chapter would render from its records (the book's publishing workflow runs it first).

A chapter is a notebook whose slug (``03_wsd_vs_cosine`` → ``wsd_vs_cosine``) names a module
``scalelab.experiments.<slug>``; other notebooks (``00_setup``) have no records and render as executed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scalelab import __version__, glance
from scalelab.chapter import takes_records
from scalelab.paths import build_dir, repo_root, report_path, results_path
from scalelab.records import schema_markdown
from scalelab.scales import SCALES, validate_scale
from scalelab.store import RunStore

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
RENDER_SCALE = "cpu"  # the scale the book renders from committed records
BANNER = "rendered at smoke scale: cpu records not yet produced"
HIDDEN_TAGS = ("parameters", "injected-parameters")  # cells collapsed on the page (tag `hide-cell`)


class BookError(RuntimeError):
    """A notebook failed or cannot be staged; the message says which and what to run."""


@dataclass(frozen=True)
class Notebook:
    """One notebook under ``notebooks/``: ``NN_slug.ipynb``."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def number(self) -> str:
        return self.path.name[:2]

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def slug(self) -> str:
        return self.path.stem[3:]

    @property
    def module(self) -> str:
        return f"scalelab.experiments.{self.slug}"

    @property
    def is_chapter(self) -> bool:
        """True when an experiment module backs the notebook (it then has run records)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:
            return False

    def make_command(self, scale: str) -> str:
        return f"make chapter NB={self.number} SCALE={scale}"


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"


def executed_dir(scale: str) -> Path:
    """``<root>/_build/executed/<scale>``: executed copies and their ``manifest.json``."""
    return build_dir() / "executed" / validate_scale(scale)


def discover(root: Path | None = None) -> list[Notebook]:
    """Every ``NN_*.ipynb`` under ``notebooks/``, in order."""
    folder = (root / "notebooks") if root is not None else notebooks_dir()
    return [Notebook(p) for p in sorted(folder.glob(NOTEBOOK_GLOB))]


def select(notebooks: Sequence[Notebook], only: Sequence[str] | None) -> list[Notebook]:
    """The notebooks named by ``only`` (``03``, ``wsd_vs_cosine``, ``03_wsd_vs_cosine`` or the file name).

    Raises:
        ValueError: for a name that matches no notebook, listing the valid ones.
    """
    if not only:
        return list(notebooks)
    out = []
    for want in only:
        want = Path(want).name.removesuffix(".ipynb")
        hits = [nb for nb in notebooks if want in (nb.number, nb.slug, nb.stem)]
        if not hits:
            valid = ", ".join(nb.stem for nb in notebooks) or "(none found)"
            raise ValueError(f"no notebook matches {want!r}; valid: {valid}")
        out += [nb for nb in hits if nb not in out]
    return out


def inputs_digest(nb: Notebook, scale: str, records_only: bool) -> str:
    """sha256 of what an execution depends on: the notebook, the package source and, records-only, the records.

    Stored in the manifest so that tests can tell a stale executed copy from a fresh one, and so that
    ``run --reuse`` can skip an execution whose inputs have not changed.
    """
    h = hashlib.sha256()
    files = [nb.path, *sorted((repo_root() / "src" / "scalelab").rglob("*.py"))]
    if records_only and scale != "smoke":
        files += [p for p in chapter_stores(nb, scale) if p.exists()]
    for f in files:
        h.update(str(f.relative_to(repo_root())).encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    h.update(f"{scale}:{records_only}".encode())
    return h.hexdigest()


def fresh_entry(nb: Notebook, scale: str, records_only: bool) -> dict | None:
    """The manifest entry of an ok execution of ``nb`` at default parameters whose inputs are unchanged, else None."""
    entry = _load_manifest(scale).get(nb.name)
    if not entry or entry.get("status") != "ok" or not (repo_root() / entry.get("output", "")).exists():
        return None
    defaults = {"scale": scale, "seed": 0, "refresh": False, "device": "auto", "records_only": records_only}
    if entry.get("parameters") != defaults:
        return None
    return entry if entry.get("inputs_sha256") == inputs_digest(nb, scale, records_only) else None


def _reads(nb: Notebook) -> tuple[str, ...]:
    """Slugs of other chapters whose stores a chapter reads (its module's ``READS``; most read none)."""

    return tuple(getattr(importlib.import_module(nb.module), "READS", ())) if nb.is_chapter else ()


def chapter_stores(nb: Notebook, scale: str) -> list[Path]:
    """The record stores a chapter's execution reads at ``scale``: its own and those of the chapters it ``READS``."""
    return [results_path(slug, scale) for slug in (nb.slug, *_reads(nb))]


def record_progress(nb: Notebook, scale: str) -> tuple[int, int]:
    """(runs of the chapter's plan that have a record, runs planned) at a scale.

    A sweep is resumable and its records are committed as they land, so a chapter can be part way;
    it renders from its records only once every planned run has one. A chapter that reads other
    chapters' stores (``READS``) plans the runs it reads with ``input_plans(scale)``, by store, and
    its own runs with ``plan`` (a stage of its own that renders only when complete).
    """


    if not nb.is_chapter:
        return 0, 0
    mod = importlib.import_module(nb.module)
    if _reads(nb):
        by_store = dict(mod.input_plans(scale))
    elif takes_records(mod.plan):  # a staged design: placed on the chapter's own records, read here
        by_store = {nb.slug: mod.plan(scale, records=RunStore(results_path(nb.slug, scale)).records())}
    else:
        by_store = {nb.slug: mod.plan(scale)}
    done = planned = 0
    for slug, specs in by_store.items():
        have = RunStore(results_path(slug, scale)).by_config_key()
        done += sum(s.config_key in have for s in specs)
        planned += len(specs)
    return done, planned


def records_complete(nb: Notebook, scale: str) -> bool:
    """Whether every planned run of a chapter has a record at ``scale``."""
    if not nb.is_chapter or not any(record_count(p.stem, scale) for p in chapter_stores(nb, scale)):
        return False
    done, planned = record_progress(nb, scale)
    return planned > 0 and done == planned


def record_count(slug: str, scale: str) -> int:
    """How many records a chapter has at a scale (0 when its JSONL does not exist)."""

    return len(RunStore(results_path(slug, scale)).records())


# ----------------------------------------------------------------------------------------------- run
def _load_manifest(scale: str) -> dict:
    path = executed_dir(scale) / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _save_manifest(scale: str, manifest: dict) -> None:
    path = executed_dir(scale) / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def _kernel_env() -> None:
    """Environment the kernel inherits: absolute anchors dir, matplotlib's inline backend."""
    anchors = os.environ.get("SCALELAB_ANCHORS_DIR")
    if anchors and not os.path.isabs(anchors):
        os.environ["SCALELAB_ANCHORS_DIR"] = str(Path(anchors).resolve())
    # A non-inline MPLBACKEND in the kernel would leave figures out of the executed notebook.
    if not os.environ.get("MPLBACKEND", "").startswith("module://matplotlib_inline"):
        os.environ.pop("MPLBACKEND", None)


def execute(nb: Notebook, scale: str, *, seed: int = 0, device: str = "auto", refresh: bool = False,
            records_only: bool = False) -> dict:
    """Execute one notebook into ``_build/executed/<scale>/`` and return its manifest entry.

    The entry has ``status`` ("ok" or "failed"), ``seconds``, ``parameters``, ``output`` and, on
    failure, ``error`` naming the cell and the exception.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    validate_scale(scale)
    out = executed_dir(scale) / nb.name
    out.parent.mkdir(parents=True, exist_ok=True)
    params = {"scale": scale, "seed": seed, "refresh": refresh, "device": device, "records_only": records_only}
    _kernel_env()
    entry = {"notebook": nb.name, "scale": scale, "parameters": params, "output": str(out.relative_to(repo_root())),
             "executed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "started": time.time(),
             "inputs_sha256": inputs_digest(nb, scale, records_only)}
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(str(nb.path), str(out), parameters=params, kernel_name="python3",
                                   cwd=str(nb.path.parent), progress_bar=False, log_output=False)
        entry.update(status="ok")
    except PapermillExecutionError as e:
        first = (e.source or "").strip().splitlines()[:1]
        entry.update(status="failed", error=f"cell {e.cell_index} (In [{e.exec_count}]"
                     + (f": {first[0][:80]}" if first else "") + f") raised {e.ename}: {e.evalue}")
    except Exception as e:  # kernel died, notebook unreadable, …
        entry.update(status="failed", error=f"{type(e).__name__}: {e}")
    entry["seconds"] = round(time.perf_counter() - t0, 2)
    manifest = _load_manifest(scale)
    manifest[nb.name] = entry
    _save_manifest(scale, manifest)
    return entry


def run(scale: str, *, only: Sequence[str] | None = None, records_only: bool = False, fallback_smoke: bool = False,
        seed: int = 0, device: str = "auto", refresh: bool = False, reuse: bool = False, log=print) -> list[dict]:
    """Execute the selected notebooks; see the module docstring for the records-only rules.

    With ``reuse``, a notebook whose last ok execution had the same inputs (notebook, package source,
    records; see :func:`inputs_digest`) and default parameters is not executed again.

    Returns:
        The manifest entries, one per executed notebook (skipped ones have ``status`` "skipped").

    Raises:
        ValueError: on an unknown scale or notebook name.
    """
    validate_scale(scale)
    chosen = select(discover(), only)
    if not chosen:
        raise ValueError(f"no notebooks matching {NOTEBOOK_GLOB} under {notebooks_dir()}")
    entries = []
    for nb in chosen:
        run_scale = scale
        if records_only and scale != "smoke" and not records_complete(nb, scale):
            if not fallback_smoke:
                why = "no experiment module" if not nb.is_chapter else f"{scale} records incomplete"
                log(f"skip  {nb.name:<34} {why}: the book renders its smoke execution")
                entries.append({"notebook": nb.name, "scale": scale, "status": "skipped"})
                continue
            run_scale = "smoke"
        ro = records_only and run_scale != "smoke"
        if reuse and (seed, device, refresh) == (0, "auto", False):
            entry = fresh_entry(nb, run_scale, ro)
            if entry is not None:
                log(f"reuse {nb.name:<34} scale={run_scale}: inputs unchanged since {entry['executed_at']}")
                entries.append(entry)
                continue
        log(f"run   {nb.name:<34} scale={run_scale}{' records-only' if ro else ''} …")
        entry = execute(nb, run_scale, seed=seed, device=device, refresh=refresh, records_only=ro)
        mark = "ok    " if entry["status"] == "ok" else "FAILED"
        log(f"{mark}{nb.name:<34} {entry['seconds']:8.1f} s" + (f"\n      {entry['error']}" if "error" in entry
                                                                   else ""))
        entries.append(entry)
    return entries


# --------------------------------------------------------------------------------------------- stage
def _banner_cell(nb: Notebook):
    import nbformat

    done, planned = record_progress(nb, RENDER_SCALE) if nb.is_chapter else (0, 0)
    progress = f" So far {done} of {planned} {RENDER_SCALE} runs are recorded." if done else ""
    text = (f":::{{warning}}\n**{BANNER[0].upper() + BANNER[1:]}.**{progress} The numbers and verdicts on this page "
            f"come from the smoke scale, which only exercises the code. Produce the records with "
            f"`{nb.make_command(RENDER_SCALE)}`.\n:::")
    return nbformat.v4.new_markdown_cell(text, metadata={"tags": ["smoke-banner"]})


def prepare(executed: Path, nb: Notebook, banner: bool):
    """An executed notebook as the book shows it: parameter cells collapsed, an optional banner."""
    import nbformat

    doc = nbformat.read(str(executed), as_version=4)
    for cell in doc.cells:
        tags = list(cell.metadata.get("tags", []))
        if any(t in tags for t in HIDDEN_TAGS) and "hide-cell" not in tags:
            cell.metadata["tags"] = tags + ["hide-cell"]
    if banner:
        at = 1 if doc.cells and doc.cells[0].cell_type == "markdown" else 0
        doc.cells.insert(at, _banner_cell(nb))
    return doc


def plan_stage(scale: str = RENDER_SCALE) -> list[dict]:
    """Which executed copy renders each notebook, and whether it carries the smoke banner.

    Raises:
        BookError: for a notebook with no usable execution, naming the command that makes one.
    """
    cpu, smoke = _load_manifest(scale), _load_manifest("smoke")
    for entry in (*cpu.values(), *smoke.values()):
        entry["output"] = str(repo_root() / entry.get("output", ""))
    plan, problems = [], []
    for nb in discover():
        has_records = records_complete(nb, scale)
        if has_records:
            entry = cpu.get(nb.name)
            if entry is None or not Path(entry["output"]).exists():
                problems.append(f"{nb.name}: has {scale} records but no records-only execution; run "
                                f"`python -m scalelab.book run --scale {scale} --records-only --only {nb.number}`")
            elif entry["status"] != "ok":
                problems.append(f"{nb.name}: records-only execution at {scale} failed: {entry.get('error')}")
            else:
                plan.append({"notebook": nb, "source": Path(entry["output"]), "scale": scale, "banner": False,
                             "seconds": entry.get("seconds"), "started": entry.get("started")})
            continue
        entry = smoke.get(nb.name)
        if entry is None or not Path(entry["output"]).exists():
            problems.append(f"{nb.name}: no smoke execution; run `python -m scalelab.book run --scale smoke "
                            f"--only {nb.number}`")
        elif entry["status"] != "ok":
            problems.append(f"{nb.name}: smoke execution failed: {entry.get('error')}")
        else:
            plan.append({"notebook": nb, "source": Path(entry["output"]), "scale": "smoke",
                         "banner": nb.is_chapter, "seconds": entry.get("seconds"), "started": entry.get("started")})
    if problems:
        raise BookError("cannot stage the book:\n  " + "\n  ".join(problems))
    return plan


GLANCE = "verdicts"  # "Verdicts at a glance": the first page after the introduction
FRONT = ("notation",)
BACK = ("verdict_rules", "reproducibility", "record_schema", "performance", "references")


def toc_yaml(stems: Sequence[str]) -> str:
    """``_toc.yml`` text: front matter, the notebooks (setup first), back matter."""
    setup = [s for s in stems if s.startswith("00_")]
    chapters = [s for s in stems if not s.startswith("00_")]
    lines = ["# Generated by `python -m scalelab.book stage` from the notebooks present; do not edit.",
             "format: jb-book", "root: intro", "parts:", "  - caption: Getting started", "    chapters:"]
    lines += [f"      - file: {f}" for f in (GLANCE, *FRONT)] + [f"      - file: chapters/{s}" for s in setup]
    if chapters:
        lines += ["  - caption: Case studies", "    chapters:"] + [f"      - file: chapters/{s}" for s in chapters]
    lines += ["  - caption: About the results", "    chapters:"] + [f"      - file: {f}" for f in BACK]
    return "\n".join(lines) + "\n"


def status_rows(root: Path | None = None) -> list[dict]:
    """One row per (chapter, scale) store under ``results/``: runs, devices, torch versions, seconds."""

    root = root or repo_root()
    names = {nb.slug: nb.stem for nb in discover(root)}
    rows = []
    for path in sorted((root / "results").glob("*/*.jsonl")):
        recs = RunStore(path).records()
        metas = [r.get("meta") or {} for r in recs]
        status = [(r.get("result") or {}).get("status", "?") for r in recs]
        rows.append({
            "chapter": names.get(path.stem, path.stem), "scale": path.parent.name, "runs": len(recs),
            "diverged": sum(s == "diverged" for s in status),
            "devices": ", ".join(sorted({str(m.get("device", "?")) for m in metas})) or "–",
            "torch": ", ".join(sorted({str(m.get("torch", "?")) for m in metas})) or "–",
            "hours": round(sum(float(m.get("seconds") or 0.0) for m in metas) / 3600.0, 2),
        })
    return rows


def _md_table(rows: list[dict], columns: Sequence[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "|".join("---" for _ in columns) + "|\n"
    return head + "".join("| " + " | ".join(str(r[c]) for c in columns) + " |\n" for r in rows)


def status_markdown(root: Path | None = None) -> str:
    rows = status_rows(root)
    if not rows:
        return "No records are committed yet: every chapter renders from its smoke execution.\n"
    return _md_table(rows, ["chapter", "scale", "runs", "diverged", "devices", "torch", "hours"])


def rendering_markdown(plan: list[dict]) -> str:
    rows = [{"notebook": f"`{p['notebook'].stem}`", "rendered at": p["scale"],
             "mode": "records only" if p["scale"] != "smoke" else "executed",
             "execution (s)": "–" if p["seconds"] is None else f"{p['seconds']:.1f}",
             "note": BANNER if p["banner"] else ""} for p in plan]
    return _md_table(rows, ["notebook", "rendered at", "mode", "execution (s)", "note"])


def performance_markdown(root: Path | None = None) -> str:
    """The benchmark records under ``results/bench/*.json`` as tables (machine, training, batching, fits)."""
    root = root or repo_root()
    files = sorted((root / "results" / "bench").glob("*.json"))
    if not files:
        return ("Not yet measured: no benchmark record exists under `results/bench/`. Produce one with "
                "`python -m scalelab.bench` on the machine to be described.\n")
    out = []
    for path in files:
        try:
            rec = json.loads(path.read_text())
        except json.JSONDecodeError:
            out.append(f"`{path.name}`: unreadable (not JSON).\n")
            continue
        env = rec.get("environment", {})
        out.append(f"**`results/bench/{path.name}`**, measured {rec.get('at', '?')} "
                   f"on {env.get('device', '?')} ({env.get('cpu_count', '?')} CPUs, "
                   f"{env.get('torch_threads', '?')} torch threads; "
                   f"Python {env.get('python', '?')}, torch {env.get('torch', '?')}, "
                   f"git {str(env.get('git_sha'))[:10]}).\n")
        t = rec.get("train")
        if t:
            m = t.get("config", {}).get("model", {})
            shape = (f"n_layer {m.get('n_layer')}, d_model {m.get('d_model')}, seq_len {m.get('seq_len')}, "
                     f"batch {t['config'].get('batch_size')}")
            rows = [{"quantity": "model", "value": shape},
                    {"quantity": "N (total parameters)", "value": f"{t['num_params']:,}"},
                    {"quantity": "tokens/s", "value": f"{t['tokens_per_s']:,.0f}"},
                    {"quantity": "6·N·tokens/s", "value": f"{t['model_flops_per_s'] / 1e9:.1f} GFLOP/s"},
                    {"quantity": "measured matmul peak", "value": f"{t['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s"},
                    {"quantity": "utilisation", "value": f"{t['utilisation']:.3f}"}]
            out.append("Single-run training:\n\n" + _md_table(rows, ["quantity", "value"]))
        b = rec.get("batched")
        if b:
            par = any("parallel_s" in r for r in b["rows"])
            rows = [{"d_model": r["d_model"], "K": r["K"], "sequential (s)": f"{r['sequential_s']:.2f}",
                     "batched (s)": f"{r['batched_s']:.2f}", "batched speed-up": f"{r['speedup']:.2f}×",
                     "parallel (s)": f"{r['parallel_s']:.2f}" if "parallel_s" in r else "–",
                     "parallel speed-up": f"{r['parallel_speedup']:.2f}×" if "parallel_s" in r else "–"}
                    for r in b["rows"]]
            cols = ["d_model", "K", "sequential (s)", "batched (s)", "batched speed-up"]
            if par:
                cols += ["parallel (s)", "parallel speed-up"]
            how = (f" Sequential uses {b['threads_sequential']} torch threads in one process; parallel uses "
                   f"{b['jobs']} worker processes." if par and "jobs" in b else "")
            out.append(f"K models trained together vs one after another ({b.get('steps')} steps each).{how}\n\n"
                       + _md_table(rows, cols))
        f = rec.get("fit")
        if f:
            rows = [{"fit": k, "value": f"{v:.3g}"} for k, v in f.items() if isinstance(v, (int, float))]
            out.append("Fitting core:\n\n" + _md_table(rows, ["fit", "value"]))
    return "\n".join(out)


def completeness(scale: str = RENDER_SCALE) -> list[dict]:
    """One row per chapter: runs of its plan recorded at ``scale``, runs planned, and whether that is all of them.

    Raises:
        ValueError: on an unknown scale.
    """
    validate_scale(scale)
    rows = []
    for nb in discover():
        if not nb.is_chapter:
            continue
        done, planned = record_progress(nb, scale)
        rows.append({"notebook": nb.stem, "done": done, "planned": planned,
                     "complete": records_complete(nb, scale), "command": nb.make_command(scale)})
    return rows


def _title(path: Path) -> str:
    """The notebook's title: its first markdown line starting with ``# ``."""
    import nbformat

    for cell in nbformat.read(str(path), as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def glance_page(plan: list[dict]) -> str:
    """The generated body of the "Verdicts at a glance" page, from the reports of the executions being staged.

    Raises:
        BookError: when a chapter's report is missing or older than the execution that renders its page.
    """

    chapters, problems = [], []
    for p in plan:
        nb = p["notebook"]
        if not nb.is_chapter:
            continue
        path = report_path(nb.slug, p["scale"])
        if not path.exists() or (p.get("started") and path.stat().st_mtime < p["started"] - 1):
            problems.append(f"{nb.name}: no report from the execution at {p['scale']} ({path.name} "
                            f"{'is older' if path.exists() else 'missing'}); rerun `python -m scalelab.book run "
                            f"--scale {p['scale']}{' --records-only' if p['scale'] != 'smoke' else ''} "
                            f"--only {nb.number}`")
            continue
        commit = (glance.records_commit(results_path(nb.slug, p["scale"]), repo_root())
                  if p["scale"] != "smoke" else None)
        chapters.append({"stem": nb.stem, "title": _title(nb.path), "scale": p["scale"],
                         "report": glance.load_report(path), "records_commit": commit})
    if problems:
        raise BookError("cannot write the glance page:\n  " + "\n  ".join(problems))
    return glance.glance_markdown(chapters, __version__)


def stage(scale: str = RENDER_SCALE, log=print) -> list[dict]:
    """Copy executed notebooks into ``book/chapters``, write ``_toc.yml`` and the generated fragments.

    Raises:
        BookError: when a notebook has no usable execution (the message says what to run).
    """
    import nbformat

    validate_scale(scale)
    book = repo_root() / "book"
    plan = plan_stage(scale)
    chapters = book / "chapters"
    chapters.mkdir(parents=True, exist_ok=True)
    for old in chapters.glob("*.ipynb"):
        old.unlink()
    for p in plan:
        nbformat.write(prepare(p["source"], p["notebook"], p["banner"]), str(chapters / p["notebook"].name))
        log(f"stage {p['notebook'].name:<34} from {p['scale']}" + ("  [smoke banner]" if p["banner"] else ""))
    (book / "_toc.yml").write_text(toc_yaml([p["notebook"].stem for p in plan]))
    gen = book / "_generated"
    gen.mkdir(exist_ok=True)
    (gen / "status.md").write_text(status_markdown())
    (gen / "rendering.md").write_text(rendering_markdown(plan))
    (gen / "performance.md").write_text(performance_markdown())
    (gen / f"{GLANCE}.md").write_text(glance_page(plan))
    (gen / "record_schema.md").write_text(schema_markdown())
    return plan


# ----------------------------------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scalelab.book", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="execute notebooks with papermill into _build/executed/<scale>/")
    r.add_argument("--scale", default="smoke", help=f"one of {', '.join(SCALES)} (default smoke)")
    r.add_argument("--only", nargs="+", help="notebook numbers or slugs, e.g. 03 or wsd_vs_cosine")
    r.add_argument("--records-only", action="store_true", help="never train; fail on missing records")
    r.add_argument("--fallback-smoke", action="store_true",
                   help="with --records-only: execute notebooks without records at smoke scale")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="auto", help="auto | cpu | cuda")
    r.add_argument("--refresh", action="store_true", help="retrain runs that already have records")
    r.add_argument("--reuse", action="store_true",
                   help="skip notebooks whose last ok execution had the same notebook, source and records")
    s = sub.add_parser("stage", help="copy executed notebooks into book/, write _toc.yml and generated pages")
    s.add_argument("--scale", default=RENDER_SCALE)
    sub.add_parser("status", help="records per chapter and scale")
    c = sub.add_parser("check-complete", help="exit 1 unless every chapter's plan is fully recorded at a scale")
    c.add_argument("--scale", default=RENDER_SCALE)
    args = parser.parse_args(argv)

    try:
        if args.command == "run":
            t0 = time.perf_counter()
            entries = run(args.scale, only=args.only, records_only=args.records_only,
                          fallback_smoke=args.fallback_smoke, seed=args.seed, device=args.device,
                          refresh=args.refresh, reuse=args.reuse)
            failed = [e for e in entries if e["status"] == "failed"]
            print(f"{len(entries) - len(failed)} of {len(entries)} notebooks ok in {time.perf_counter() - t0:.1f} s; "
                  f"executed copies in {build_dir() / 'executed'}/<scale>/")
            if failed:
                print("FAILED:\n" + "\n".join(f"  notebooks/{e['notebook']}: {e['error']}\n    executed copy: "
                                              f"{e['output']}" for e in failed), file=sys.stderr)
                return 1
        elif args.command == "stage":
            stage(args.scale)
        elif args.command == "check-complete":
            rows = completeness(args.scale)
            for r in rows:
                print(f"{'ok' if r['complete'] else 'MISSING':<7} {r['notebook']:<34} {r['done']} of {r['planned']} "
                      f"{args.scale} runs recorded" + ("" if r["complete"] else f"; run `{r['command']}`"))
            if not rows or not all(r["complete"] for r in rows):
                print(f"error: a chapter would render from smoke: its {args.scale} plan is not fully recorded"
                      if rows else "error: no chapters found", file=sys.stderr)
                return 1
        elif args.command == "status":
            print(status_markdown(), end="")
    except (ValueError, BookError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
