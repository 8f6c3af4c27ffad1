"""Figures for people (CLI output): UTC dates instead of epoch milliseconds, money rounded to cents,
percentages with a sign. Pure formatting, no clock reads; ``None`` and non-numbers print as ``-``."""

from __future__ import annotations

import math
import time
from typing import Any


def _f(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def utc(ms: Any, *, seconds: bool = False) -> str:
    """Epoch milliseconds as ``YYYY-MM-DD HH:MM[:SS] UTC``."""
    f = _f(ms)
    if f is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "") + " UTC", time.gmtime(f / 1000))


def money(v: Any, nd: int = 2, *, sign: bool = False) -> str:
    """A cash amount with thousands separators, rounded to ``nd`` decimals."""
    f = _f(v)
    if f is None:
        return "-"
    return f"{f:+,.{nd}f}" if sign else f"{f:,.{nd}f}"


def price(v: Any) -> str:
    """A price: two decimals under 1,000, one above (BTC at 67,412.5), none above 100,000."""
    f = _f(v)
    if f is None:
        return "-"
    return f"{f:,.{2 if abs(f) < 1_000 else 1 if abs(f) < 100_000 else 0}f}"


def pct(v: Any, nd: int = 2, *, sign: bool = True) -> str:
    """A fraction as a percentage (0.1234 -> +12.34%)."""
    f = _f(v)
    if f is None:
        return "-"
    return f"{f * 100:+.{nd}f}%" if sign else f"{f * 100:.{nd}f}%"


def table(
    rows: list[tuple[str, ...]],
    header: tuple[str, ...] | None = None,
    *,
    right: set[int] | frozenset[int] = frozenset(),
) -> str:
    """Rows as aligned columns (``right``: the column indexes aligned right, e.g. numbers)."""
    allrows = ([header] if header else []) + rows
    if not allrows:
        return ""
    widths = [max(len(str(r[i])) if i < len(r) else 0 for r in allrows) for i in range(max(map(len, allrows)))]
    out = []
    for r in allrows:
        cells = [str(c).rjust(widths[i]) if i in right else str(c).ljust(widths[i]) for i, c in enumerate(r)]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)
