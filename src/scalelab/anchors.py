"""Published data sets the book's fits are checked against, fetched at pinned commits.

Each data set is a file in a public repository, pinned to a commit and a sha256. A file is taken
from, in order:

1. the directory named by ``SCALELAB_ANCHORS_DIR`` (the book's CI points it at a local copy);
2. the cache, ``$SCALELAB_CACHE/anchors`` or ``~/.cache/scalelab/anchors`` (the package's one cache
   variable, shared with the corpus cache);
3. ``https://raw.githubusercontent.com/<repo>/<commit>/<path>``, verified, then cached.

A file whose sha256 differs from the pinned one is refused wherever it comes from, and a
download that fails the check is never written to the cache. Some files are *derived* (converted
from pickles, or typed out of a notebook) and exist in no repository as such: those need
``SCALELAB_ANCHORS_DIR``, and the error says so. The data files are never part of this package.

Sources: Besiroglu et al. arXiv 2404.10102 (Epoch's points from Hoffmann et al. Fig. 4);
Hoffmann et al. arXiv 2203.15556 Table A9; Porian et al. arXiv 2406.19146; Llama 3 arXiv
2407.21783 Fig. 2 (points read off by a third party); Stanford CS336 assignment 3 (synthetic);
Li, Kudugunta & Zettlemoyer, "(Mis)Fitting Scaling Laws" (ICLR 2025). Used by chapters 4 and 5 and the tests.

A chapter checks the data sets it needs (:data:`CHAPTER_DATA`) before its first run
(:func:`require_for_chapter`), so a missing or damaged file stops it before any training.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ENV_DIR = "SCALELAB_ANCHORS_DIR"
ENV_CACHE = "SCALELAB_CACHE"  # the package's cache root; anchors live in its ``anchors/`` folder
LEGACY_ENV_CACHE = "SCALELAB_CACHE_DIR"  # no longer read: a warning says so


class AnchorError(RuntimeError):
    """A data set could not be provided (offline, derived without a local copy, or checksum mismatch)."""


@dataclass(frozen=True)
class Dataset:
    """One pinned file.

    Attributes:
        filename: name in the anchors directory and the cache.
        sha256: expected checksum of the file's bytes.
        repo, path, commit: where it lives upstream (``repo`` None for derived files).
        derived: True when no upstream file has these bytes (conversion or transcription).
        origin: one line on where the numbers come from.
    """

    filename: str
    sha256: str
    repo: str | None
    path: str | None
    commit: str | None
    derived: bool
    origin: str

    @property
    def url(self) -> str | None:
        """The raw.githubusercontent.com URL at the pinned commit (None for derived files)."""
        if self.derived or not self.repo:
            return None
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.path}"


DATASETS: dict[str, Dataset] = {
    "epoch_chinchilla": Dataset(
        "epoch2024_chinchilla_svg_extracted_data.csv",
        "193478df4e90f040016431996c45682659306840ecdadf83cfb9cd5ca0aa1b30",
        "epoch-research/analyzing-chinchilla", "data/svg_extracted_data.csv",
        "92258837425e1b5f2851d624287f0120583a3d0e", False,
        "Besiroglu et al. 2024 (arXiv 2404.10102): 245 points read off Hoffmann et al. Fig. 4"),
    "cs336_isoflops": Dataset(
        "cs336_a3_isoflops_curves.json",
        "da6a464c3f5e5039d3f20e137dfcab3031a3d8e7ef0ac2f376f96e295d4afd27",
        "stanford-cs336/assignment3-scaling", "data/isoflops_curves.json",
        "24a558ee8f1078d0d44e0e3b1e8c17697e72a153", False,
        "Stanford CS336 assignment 3: synthetic IsoFLOP curves, 9 budgets 6e18..3e21 (MIT)"),
    "llama3_isoflops": Dataset(
        "llama3_isoflops_points_extracted.csv",
        "5675ea68f14be53bd09bf0d65667c0f25668aa82ecc48020864ae371e7a38a8a",
        "eric-czech/llama3_isoflop_extraction", "isoflops_points.csv",
        "1bc1755b76e6ee55a911549c8ec52b71cb480320", False,
        "Points read off Llama 3 (arXiv 2407.21783) Fig. 2 by a third party"),
    "misfitting": Dataset(
        "misfitting2025_scaling_results.csv",
        "193b4b7665365112605417e2ef06d55efe599cfa08412354e3ae42c3af7a9f58",
        "hadasah/scaling_laws", "data/scaling_results.csv",
        "1f3708c0a12df0effb0ee906b1da5f9f0ff4f4f1", False,
        "Li, Kudugunta & Zettlemoyer 2025 (ICLR): open_lm runs with intermediate checkpoints"),
    "misfitting_last": Dataset(
        "misfitting2025_scaling_results_last_ckpt_only.csv",
        "cd96b9eb8e5b2adc80e6739a642dd8554590edc96234d36859ab6ed0f5c30562",
        "hadasah/scaling_laws", "data/scaling_results_last_ckpt_only.csv",
        "1f3708c0a12df0effb0ee906b1da5f9f0ff4f4f1", False,
        "Same runs, final checkpoints only"),
    "openathena_isoflops": Dataset(
        "openathena_isoflops_combined_transform.csv",
        "b04d611253611490c5cc339fb95cb28d4f38f279a97438cb804a80f03171caa0",
        "Open-Athena/scaling-law-analysis", "data/isoflops/transform/isoflops.csv",
        "3e0656ee3dce1a2c89aa67691920f5eb9d30f0fc", False,
        "Harmonised multi-source IsoFLOP table with outlier flags"),
    "chinchilla_table_a9": Dataset(
        "chinchilla_table_a9_models.csv",
        "5b762838e7145348620bc7ba68616fd8bb8d998b1dc211ffa770632c8d4a4353",
        None, None, None, True,
        "Hoffmann et al. Table A9 (50 model shapes), transcribed from a JSON string in "
        "karpathy/nanoGPT scaling_laws.ipynb @ 3adf61e1"),
    "chinchilla_projected_tokens": Dataset(
        "chinchilla_projected_optimal_tokens.csv",
        "ee2eb5436125e8bef69d151c14783507e086a310a300698f8c95df587513c956",
        None, None, None, True,
        "Hoffmann et al. Table 3/A3 projections, transcribed in karpathy/nanoGPT scaling_laws.ipynb"),
    "porian_isoflop_curves": Dataset(
        "porian2024_isoflop_curves.csv",
        "1b9b63f788ef9e364695780440e4dc7d0efc8ca847f08289afecfb173f2af12c",
        None, None, None, True,
        "Porian et al. 2024 (arXiv 2406.19146): converted from data/summary_df*.pickle.xz in "
        "formll/resolving-scaling-law-discrepancies @ 0dc60d91"),
    "porian_isoflop_optima": Dataset(
        "porian2024_isoflop_optima.csv",
        "e127e3d6164a7c43754b328b60dfd2bdfb56856b966a324a86645385d22a6089",
        None, None, None, True, "Porian et al. 2024: per (config, budget) optima, converted from the same pickles"),
    "porian_fit_exponents": Dataset(
        "porian2024_fit_exponents.csv",
        "72aa404f44ad9728720da2cb0b372a1554f0d7cda3e0c3135634c8e6d136ad4e",
        None, None, None, True, "Porian et al. 2024: exponent a per config with bootstrap percentiles"),
    "published_figures": Dataset(
        "published_figures.json",
        "276c5f96ec83971895a10c3c8ffd6d06474031373721d1bf2f179e76c5ee07b5",
        None, None, None, True, "The published constants compiled for the book (see scalelab.published)"),
}


def anchors_dir() -> Path | None:
    """The local directory named by ``SCALELAB_ANCHORS_DIR``, or None."""
    env = os.environ.get(ENV_DIR)
    return Path(env).expanduser() if env else None


def cache_dir() -> Path:
    """``$SCALELAB_CACHE/anchors`` or ``~/.cache/scalelab/anchors``."""
    if os.environ.get(LEGACY_ENV_CACHE):
        warnings.warn(f"{LEGACY_ENV_CACHE} is no longer read; the package's one cache variable is {ENV_CACHE} "
                      f"(anchors go to ${ENV_CACHE}/anchors)", stacklevel=2)
    env = os.environ.get(ENV_CACHE)
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "scalelab") / "anchors"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch(url: str, timeout: float = 30.0) -> bytes:
    """Download ``url`` (the one network call of this module; tests replace it)."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - fixed https URL
        return resp.read()


def _looked_in() -> str:
    """Where a local copy was looked for, in words (the directory named, and whether it exists)."""
    local = anchors_dir()
    if local is None:
        return f"{ENV_DIR} is not set"
    if not local.is_dir():
        return f"{ENV_DIR}={local} does not exist"
    return f"{ENV_DIR}={local} exists"


def _how_to_get(ds: Dataset) -> str:
    where = (f"looked in: {_looked_in()}, and the cache {cache_dir()}. Set {ENV_DIR} to a directory holding "
             f"{ds.filename}")
    if ds.url:
        return f"{where}, or download {ds.url} (sha256 {ds.sha256}) into {cache_dir()}"
    return where + " (the book's repository CI uses ../shared/anchors/data)"


def _check(ds: Dataset, data: bytes, source: str) -> None:
    got = sha256_bytes(data)
    if got != ds.sha256:
        raise AnchorError(
            f"{ds.filename} from {source} has sha256 {got}, expected {ds.sha256}; refusing a corrupt or "
            f"different file. Replace it: {_how_to_get(ds)}"
        )


def path(name: str, *, download: bool = True) -> Path:
    """A verified local path to data set ``name`` (see :data:`DATASETS`).

    Raises:
        KeyError: unknown name (the message lists the known ones).
        AnchorError: checksum mismatch, a derived file without ``SCALELAB_ANCHORS_DIR``, or a
            failed download; the message says how to get the file.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; known: {sorted(DATASETS)}")
    ds = DATASETS[name]
    local = anchors_dir()
    if local is not None and (local / ds.filename).is_file():
        p = local / ds.filename
        _check(ds, p.read_bytes(), str(p))
        return p
    cached = cache_dir() / ds.filename
    if cached.is_file():
        if sha256_bytes(cached.read_bytes()) == ds.sha256:
            return cached
        cached.unlink()  # a stale or corrupt cache entry is dropped, then fetched again
    if ds.derived:
        raise AnchorError(
            f"{ds.filename} is derived ({ds.origin}); it is not a file of any upstream repository, so it "
            f"cannot be downloaded. {_how_to_get(ds)}"
        )
    if not download:
        raise AnchorError(f"{ds.filename} is not available locally and download=False. {_how_to_get(ds)}")
    try:
        data = _fetch(ds.url)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise AnchorError(f"could not download {ds.url} ({exc}). Offline? {_how_to_get(ds)}") from exc
    _check(ds, data, ds.url)
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=f".{ds.filename}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, cached)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return cached


# The published data each chapter reads; checked before the chapter's first run.
CHAPTER_DATA: dict[str, tuple[str, ...]] = {
    "chinchilla": ("epoch_chinchilla", "cs336_isoflops", "llama3_isoflops", "porian_isoflop_curves",
                   "porian_isoflop_optima", "porian_fit_exponents"),
}


def require(names) -> list[Path]:
    """Verified paths to every data set in ``names``, or one error listing each that is missing or damaged.

    Raises:
        AnchorError: naming every failing data set, the directory looked in and how to get the files.
    """
    paths, problems = [], []
    for name in names:
        try:
            paths.append(path(name))
        except AnchorError as err:
            problems.append(f"  {name}: {err}")
    if problems:
        raise AnchorError(f"{len(problems)} published data set(s) unavailable ({_looked_in()}):\n"
                          + "\n".join(problems))
    return paths


def require_for_chapter(slug: str) -> list[Path]:
    """:func:`require` the data sets chapter ``slug`` reads (:data:`CHAPTER_DATA`); nothing for the others."""
    return require(CHAPTER_DATA.get(slug, ()))


# ---- loaders --------------------------------------------------------------------------------


def epoch_chinchilla(*, drop_highest: int = 5) -> pd.DataFrame:
    """Epoch's Chinchilla points with ``N`` (params), ``D`` (tokens = C/(6N)), ``C`` (FLOPs), ``loss``.

    Besiroglu et al. drop the 5 highest-loss points (245 → 240) before fitting.
    """
    df = pd.read_csv(path("epoch_chinchilla"))
    if drop_highest:
        df = df.drop(index=df["loss"].nlargest(drop_highest).index)
    df = df.reset_index(drop=True)
    df["N"] = df["Model Size"].astype(float)
    df["C"] = df["Training FLOP"].astype(float)
    df["D"] = df["C"] / (6.0 * df["N"])
    return df


def epoch_chinchilla_ndl(*, drop_highest: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, D, L) arrays of :func:`epoch_chinchilla`, ready for :func:`scalelab.fit.approach3`."""
    df = epoch_chinchilla(drop_highest=drop_highest)
    return df["N"].to_numpy(), df["D"].to_numpy(), df["loss"].to_numpy()


def cs336_isoflops() -> pd.DataFrame:
    """CS336's synthetic IsoFLOP runs: ``N`` (parameters), ``C`` (budget, FLOPs), ``loss``, ``D`` = C/(6N)."""
    with open(path("cs336_isoflops")) as fh:
        rows = json.load(fh)
    df = pd.DataFrame(rows).rename(columns={"parameters": "N", "compute_budget": "C", "final_loss": "loss"})
    df["D"] = df["C"] / (6.0 * df["N"])
    return df[["N", "D", "C", "loss"]]


def llama3_isoflops() -> pd.DataFrame:
    """Llama 3 Fig. 2 points: ``C`` (budget), ``D`` (tokens), ``loss``, ``N`` = C/(6D)."""
    df = pd.read_csv(path("llama3_isoflops")).rename(
        columns={"compute_budget": "C", "training_tokens": "D", "validation_loss": "loss"})
    df["N"] = df["C"] / (6.0 * df["D"])
    return df[["N", "D", "C", "loss"]]


def chinchilla_table_a9() -> pd.DataFrame:
    """Hoffmann et al. Table A9: params, d_model, ffw_size, kv_size, n_heads, n_layers (50 rows)."""
    return pd.read_csv(path("chinchilla_table_a9"))


def chinchilla_projected_tokens() -> pd.DataFrame:
    """Hoffmann et al. Table 3/A3 projected optimal tokens per model size (approaches 1 and 2)."""
    return pd.read_csv(path("chinchilla_projected_tokens"))


def porian_isoflop_curves() -> pd.DataFrame:
    """Porian et al. IsoFLOP points per config: ``flops, n, tokens, loss`` plus config columns."""
    return pd.read_csv(path("porian_isoflop_curves"))


def porian_isoflop_optima() -> pd.DataFrame:
    """Porian et al. per (config, budget) optima ``n_star, tokens_star, loss_star`` and their std."""
    return pd.read_csv(path("porian_isoflop_optima"))


def porian_fit_exponents() -> pd.DataFrame:
    """Porian et al. exponent ``a_n_exponent`` per config with ``a_ci_2.5``/``a_ci_97.5``."""
    return pd.read_csv(path("porian_fit_exponents"))


def misfitting(*, last_checkpoint_only: bool = False) -> pd.DataFrame:
    """(Mis)Fitting runs (Li et al. 2025): loss, N, D, C, peak_lr, model, checkpoints."""
    return pd.read_csv(path("misfitting_last" if last_checkpoint_only else "misfitting"))


def openathena_isoflops() -> pd.DataFrame:
    """Open-Athena's harmonised IsoFLOP table (source, tokens, params, budget, loss, outlier, reason)."""
    return pd.read_csv(path("openathena_isoflops"))


def published_figures() -> dict:
    """The compiled published constants (``published_figures.json``)."""
    with open(path("published_figures")) as fh:
        return json.load(fh)
