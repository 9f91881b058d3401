"""Input checks and the printing/conversion behaviour shared by the fit results.

Every public fit validates its inputs here so that a bad table fails with one clear message
(which argument, what was wrong, how many rows) instead of a NaN deep inside an optimiser.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd


class FitInputError(ValueError):
    """Raised when the data handed to a fit cannot be fitted (NaN, non-positive, too few points)."""


def as_positive_array(name: str, values: Any) -> np.ndarray:
    """``values`` as a 1-D float array, every entry finite and > 0.

    Raises:
        FitInputError: when the values are not 1-D, contain NaN/inf, or are not all positive.
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 0 else arr
        if arr.ndim != 1:
            raise FitInputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise FitInputError(
            f"{name} has {int(bad.sum())} NaN/inf value(s) (first at index {int(np.argmax(bad))}); "
            "drop or fill those rows before fitting"
        )
    nonpos = arr <= 0
    if nonpos.any():
        i = int(np.argmax(nonpos))
        raise FitInputError(
            f"{name} must be > 0 everywhere (the fits work in log space); "
            f"{int(nonpos.sum())} value(s) are <= 0, first {arr[i]!r} at index {i}"
        )
    return arr


def same_length(**arrays: np.ndarray) -> int:
    """The common length of ``arrays``.

    Raises:
        FitInputError: naming each array and its length when they differ.
    """
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        desc = ", ".join(f"len({k})={n}" for k, n in lengths.items())
        raise FitInputError(f"inputs must have the same length: {desc}")
    return next(iter(lengths.values()))


def require_columns(table: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise a :class:`FitInputError` listing the columns ``what`` needs and the ones present."""
    if not isinstance(table, pd.DataFrame):
        raise FitInputError(f"{what} expects a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise FitInputError(
            f"{what} needs columns {list(columns)}; missing {missing} (present: {list(table.columns)})"
        )


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Two-sided percentile interval of the finite ``samples``."""
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(s, [50 * (1 - level), 50 * (1 + level)])
    return (float(lo), float(hi))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


class TableResult:
    """Mixin: a result prints as a small ``parameter | value | ci_low | ci_high`` table.

    Subclasses implement :meth:`rows`, a list of ``(name, value, (lo, hi) or None)``.
    """

    def rows(self) -> list[tuple[str, float, tuple[float, float] | None]]:  # pragma: no cover
        raise NotImplementedError

    def to_frame(self) -> pd.DataFrame:
        """One row per reported quantity: ``value`` and the CI bounds (NaN without a bootstrap)."""
        recs = []
        for name, value, ci in self.rows():
            lo, hi = ci if ci is not None else (np.nan, np.nan)
            recs.append({"parameter": name, "value": value, "ci_low": lo, "ci_high": hi})
        return pd.DataFrame.from_records(recs).set_index("parameter")

    def to_dict(self) -> dict[str, Any]:
        """``{name: value}`` plus ``{name}_ci: [lo, hi]`` where a CI exists; JSON-serialisable."""
        out: dict[str, Any] = {}
        for name, value, ci in self.rows():
            out[name] = float(value) if isinstance(value, (float, np.floating, int)) else value
            if ci is not None:
                out[f"{name}_ci"] = [float(ci[0]), float(ci[1])]
        return out

    def __str__(self) -> str:
        frame = self.to_frame()
        title = type(self).__name__
        show_ci = frame[["ci_low", "ci_high"]].notna().any().any()
        cols = ["value", "ci_low", "ci_high"] if show_ci else ["value"]
        lines = [title]
        width = max(len(str(i)) for i in frame.index) if len(frame) else 8
        header = " " * width + "  " + "  ".join(f"{c:>12}" for c in cols)
        lines.append(header)
        for name, row in frame.iterrows():
            vals = "  ".join(f"{_fmt(float(row[c])):>12}" for c in cols)
            lines.append(f"{str(name):<{width}}  {vals}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_frame().to_html()
