"""The gpu scale's corpus: a pinned slice of FineWeb-Edu, the same bytes on every machine.

The cpu scale trains on the standard library's source (:mod:`scalelab.data`): offline and identical for one
CPython version, but about 12 MB, which the gpu plans' largest run (chapter 5: 4.35·10⁸ byte tokens) would
repeat about 36 times. The gpu scale needs more text that is still fixed, so that a gpu record can be reproduced
anywhere. This module loads natural-language text through Hugging Face ``datasets``, pinned by dataset revision
(a commit of the dataset repository, never a branch name), as byte-level tokens like every corpus of the book.

**The dataset.** FineWeb-Edu (Penedo et al. 2024, arXiv 2406.17557): English web pages from Common Crawl kept by
an educational-quality classifier. Licence: ODC-By 1.0 (attribution), use also subject to Common Crawl's terms of
use. Its ``sample-10BT`` subset holds about 10⁹·10 GPT-2 tokens (≈ 28 GB of parquet) in 14 files; we pin one, the
last and smallest (``sample/10BT/013_00000.parquet``, ≈ 0.54 GB of parquet at revision ``fc9850d…``). Its
``text`` column is compressed inside that file, so the text is at least ≈ 0.46 GB (the file minus a generous
15% for the other columns): the largest gpu run reads it at most :func:`max_epochs` ≈ 0.95 times. The exact byte
count is measured at the first load and is part of the fingerprint (``python -m scalelab.corpora info``).

Documents are taken in file order, each followed by a blank line; every 50th document (index ≡ 0 mod 50, about
2%) is held out, like the files of :mod:`scalelab.data`. The fingerprint names the dataset, the **resolved**
revision, the files, the document count, the byte counts and the sha256 of the token stream (train, a marker,
held-out), so a record trained on other bytes never shares a key with one trained on these.

**Offline machines.** Set ``SCALELAB_HF_MIRROR`` to a folder holding ``<repo>/REVISION`` (the revision's 40-hex
commit) and the pinned files at their repository paths under ``<repo>/``; ``python -m scalelab.corpora mirror
DIR`` writes one (with a network). A mirror of another revision is refused.

Used through :func:`scalelab.data.load_corpus` by the name ``fineweb_edu``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from huggingface_hub import HfApi, hf_hub_download

from scalelab.corpus_core import HELDOUT_MODULUS, Corpus, cache_dir

MIRROR_ENV = "SCALELAB_HF_MIRROR"
DOC_SEPARATOR = b"\n\n"  # a blank line after every document
OTHER_COLUMNS_MAX = 0.15  # at most this fraction of a FineWeb parquet file is not the text column (a generous bound)


@dataclass(frozen=True)
class HFSource:
    """A pinned slice of a Hugging Face dataset repository.

    Attributes:
        name: the corpus name (``TrainConfig.corpus``).
        repo: the dataset repository, ``owner/name``.
        revision: the commit (40 hex digits) the files are read at.
        files: parquet files, as paths inside the repository.
        parquet_bytes: the files' total size as published (sizes the download and the epoch bound).
        licence: the dataset's licence, as its card states it.
        text_column: the column holding the documents.
    """

    name: str
    repo: str
    revision: str
    files: tuple[str, ...]
    parquet_bytes: int
    licence: str
    text_column: str = "text"

    def __post_init__(self) -> None:
        if len(self.revision) != 40 or any(c not in "0123456789abcdef" for c in self.revision):
            raise ValueError(f"revision must be a 40-hex commit (a branch name is not a pin), got {self.revision!r}")
        if not self.files or not all(f.endswith(".parquet") for f in self.files):
            raise ValueError(f"files must be a non-empty tuple of .parquet paths, got {self.files!r}")

    @property
    def min_text_bytes(self) -> float:
        """A lower bound on the text's bytes before the true count is measured: compression only shrinks it."""
        return self.parquet_bytes * (1 - OTHER_COLUMNS_MAX)


FINEWEB_EDU = HFSource(
    name="fineweb_edu",
    repo="HuggingFaceFW/fineweb-edu",
    revision="fc9850dff5e2d0f8f776efe41b24a1c49556cfc5",
    files=("sample/10BT/013_00000.parquet",),
    parquet_bytes=540_632_672,
    licence="ODC-By 1.0 (and Common Crawl's terms of use)",
)
SOURCES = {FINEWEB_EDU.name: FINEWEB_EDU}


def max_epochs(tokens: int, source: HFSource = FINEWEB_EDU, text_bytes: int | None = None) -> float:
    """How many times a run of ``tokens`` byte tokens reads the corpus: against its measured ``text_bytes`` when
    given, else against the lower bound :attr:`HFSource.min_text_bytes` (so an upper bound on the epochs)."""
    return tokens / (text_bytes if text_bytes else source.min_text_bytes)


def _mirror_files(source: HFSource, mirror: Path) -> tuple[list[Path], str]:
    root = mirror / source.repo
    rev_file = root / "REVISION"
    if not rev_file.is_file():
        raise FileNotFoundError(f"{MIRROR_ENV}={mirror}: no {rev_file} (it holds the mirrored commit); "
                                f"write one with: python -m scalelab.corpora mirror {mirror}")
    revision = rev_file.read_text().strip()
    if revision != source.revision:
        raise ValueError(f"{MIRROR_ENV}={mirror} holds {source.repo} at revision {revision}, but the corpus "
                         f"{source.name!r} is pinned to {source.revision}")
    paths = [root / f for f in source.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{MIRROR_ENV}={mirror} lacks {', '.join(missing)}")
    return paths, revision


def _hub_files(source: HFSource, local_dir: Path | None = None) -> tuple[list[Path], str]:

    resolved = HfApi().dataset_info(source.repo, revision=source.revision).sha
    paths = [Path(hf_hub_download(source.repo, f, repo_type="dataset", revision=resolved,
                                  local_dir=None if local_dir is None else str(local_dir)))
             for f in source.files]
    return paths, resolved


def resolve(source: HFSource) -> tuple[list[Path], str]:
    """Local paths of the source's files and the revision they are at: from ``SCALELAB_HF_MIRROR`` when it is set
    (never the network then), else downloaded from the hub at the pinned revision.

    Raises:
        ValueError: if the mirror holds another revision.
        FileNotFoundError: if the mirror lacks its REVISION file or a pinned file.
    """
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        return _mirror_files(source, Path(mirror).expanduser())
    return _hub_files(source)


def _cache_key(source: HFSource) -> str:
    spec = {"repo": source.repo, "revision": source.revision, "files": list(source.files),
            "column": source.text_column, "heldout_modulus": HELDOUT_MODULUS, "sep": DOC_SEPARATOR.hex(), "v": 1}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _memmaps(fingerprint: dict) -> tuple[np.ndarray, np.ndarray] | None:
    sha = fingerprint["sha256"]
    paths = [cache_dir() / "corpus" / f"{sha[:16]}.{split}.u8" for split in ("train", "val")]
    if not all(p.exists() for p in paths):
        return None
    if paths[0].stat().st_size != fingerprint["bytes"] - fingerprint["val_bytes"]:
        return None
    return tuple(np.memmap(p, dtype=np.uint8, mode="r") for p in paths)


def load_hf_corpus(source: HFSource) -> Corpus:
    """Load ``source`` as byte tokens, through ``datasets``; cached under the scalelab cache after the first load.

    Raises:
        ImportError: without the ``datasets`` package (in the ``dev`` and ``data`` extras).
        ValueError, FileNotFoundError: from :func:`resolve`.
    """
    folder = cache_dir() / "corpus"
    index = folder / f"hf-{_cache_key(source)[:24]}.json"
    if index.exists():
        fingerprint = json.loads(index.read_text())
        maps = _memmaps(fingerprint)
        if maps is not None:
            return Corpus(name=source.name, train=maps[0], val=maps[1], fingerprint=fingerprint)
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - datasets is in the dev extra
        raise ImportError(f"the {source.name!r} corpus needs `datasets`: pip install -e '.[data]'") from err
    paths, revision = resolve(source)
    ds = datasets.load_dataset("parquet", data_files=[str(p) for p in paths], split="train",
                               cache_dir=str(cache_dir() / "hf-datasets"))
    folder.mkdir(parents=True, exist_ok=True)
    tmp = {split: folder / f"hf-{os.getpid()}.{split}.tmp" for split in ("train", "val")}
    h = hashlib.sha256()  # the train stream; the held-out stream follows a marker, as in scalelab.data
    n_docs = n_train = n_val = 0
    with open(tmp["train"], "wb") as ftrain, open(tmp["val"], "wb") as fval:
        for batch in ds.iter(batch_size=4096):
            for text in batch[source.text_column]:
                data = text.encode("utf-8") + DOC_SEPARATOR
                if n_docs % HELDOUT_MODULUS == 0:
                    fval.write(data)
                    n_val += len(data)
                else:
                    ftrain.write(data)
                    h.update(data)
                    n_train += len(data)
                n_docs += 1
    h.update(b"\x00heldout\x00")
    with open(tmp["val"], "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    sha = h.hexdigest()
    fingerprint = {
        "name": source.name, "source": "huggingface", "dataset": source.repo, "revision": revision,
        "data_files": list(source.files), "files": len(source.files), "documents": n_docs,
        "bytes": n_train + n_val, "val_bytes": n_val, "sha256": sha, "licence": source.licence,
    }
    for split in ("train", "val"):
        os.replace(tmp[split], folder / f"{sha[:16]}.{split}.u8")
    tmp_index = index.with_suffix(f".tmp{os.getpid()}")
    tmp_index.write_text(json.dumps(fingerprint))
    os.replace(tmp_index, index)
    train, val = _memmaps(fingerprint)
    return Corpus(name=source.name, train=train, val=val, fingerprint=fingerprint)


def load_named(name: str) -> Corpus:
    """The corpus registered as ``name`` in :data:`SOURCES` (what :func:`scalelab.data.load_corpus` calls).

    Raises:
        ValueError: naming the registered corpora.
    """
    if name not in SOURCES:
        raise ValueError(f"unknown corpus {name!r}; registered here: {', '.join(sorted(SOURCES))}")
    return load_hf_corpus(SOURCES[name])


def write_mirror(folder: str | Path, source: HFSource = FINEWEB_EDU) -> Path:
    """Download ``source``'s pinned files into ``folder`` in the layout ``SCALELAB_HF_MIRROR`` reads (network)."""
    root = Path(folder).expanduser() / source.repo
    root.mkdir(parents=True, exist_ok=True)
    _, resolved = _hub_files(source, local_dir=root)
    (root / "REVISION").write_text(resolved + "\n")
    return root


def main(argv: list[str] | None = None) -> int:

    ap = argparse.ArgumentParser(prog="python -m scalelab.corpora", description="The gpu scale's pinned corpus.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    info = sub.add_parser("info", help="load the corpus (downloading it, or from the mirror) and print its fingerprint")
    info.add_argument("--name", default=FINEWEB_EDU.name, choices=sorted(SOURCES))
    mirror = sub.add_parser("mirror", help=f"write an offline mirror for {MIRROR_ENV}")
    mirror.add_argument("folder")
    mirror.add_argument("--name", default=FINEWEB_EDU.name, choices=sorted(SOURCES))
    args = ap.parse_args(argv)
    if args.cmd == "mirror":
        root = write_mirror(args.folder, SOURCES[args.name])
        print(f"wrote {root}; use it with {MIRROR_ENV}={Path(args.folder).expanduser()}")
        return 0
    corpus = load_named(args.name)
    print(json.dumps(corpus.fingerprint, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
