"""``cockpit strategies --report`` for people: the technical-analysis report as a table per timeframe
(the JSON stays available with ``--json``)."""

from __future__ import annotations

from typing import Any, Mapping

from cockpit.domain.humanize import price, table, utc


def _n(v: Any, nd: int = 2) -> str:
    return "-" if v is None else f"{float(v):,.{nd}f}"


def report_table(rep: Mapping[str, Any]) -> str:
    per = rep.get("timeframes") or {}
    tfs = [tf for tf, r in per.items() if r.get("bars")]
    lines = [f"regime {rep.get('regime', 'unknown')} on {rep.get('primary_timeframe')}", ""]
    if not tfs:
        return "\n".join(lines + ["no candles"])
    rows: list[tuple[str, ...]] = []

    def row(label: str, fn) -> None:
        rows.append((label, *[fn(per[tf]) for tf in tfs]))

    row("last bar", lambda r: utc(r.get("timestamp")))
    row("bars", lambda r: str(r.get("bars")))
    row("close", lambda r: price(r.get("close")))
    row("change", lambda r: "-" if r.get("change_pct") is None else f"{r['change_pct']:+.2f}%")
    row("regime", lambda r: str(r.get("regime")))
    row("trend", lambda r: str(r.get("trend")))
    for k in ("ema12", "ema26", "ema50", "ema200"):
        row(k.upper(), lambda r, k=k: price((r.get("ema") or {}).get(k)))
    row("RSI 14", lambda r: _n(r.get("rsi14"), 1))
    row("MACD hist", lambda r: _n((r.get("macd") or {}).get("hist")))
    row("BB upper", lambda r: price((r.get("bollinger") or {}).get("upper")))
    row("BB lower", lambda r: price((r.get("bollinger") or {}).get("lower")))
    row("BB %b", lambda r: _n((r.get("bollinger") or {}).get("percent_b")))
    row("ATR 14", lambda r: f"{price(r.get('atr14'))} ({_n(r.get('atr_pct'))}%)")
    row("ADX", lambda r: _n((r.get("adx") or {}).get("adx"), 1))
    row(
        "Donchian 20",
        lambda r: (
            f"{price((r.get('donchian20') or {}).get('lower'))} - {price((r.get('donchian20') or {}).get('upper'))}"
        ),
    )
    row("z-score 20", lambda r: _n(r.get("zscore20")))
    row("patterns", lambda r: _patterns(r.get("patterns")))
    lines.append(table(rows, ("", *tfs), right=set(range(1, len(tfs) + 1))))
    lines += ["", "summary: " + str(rep.get("summary", ""))]
    return "\n".join(lines)


def _patterns(p: Any) -> str:
    if isinstance(p, dict):
        names = [k for k, v in p.items() if v]
        return ", ".join(names) or "none"
    if isinstance(p, (list, tuple)):
        return ", ".join(str(x.get("name", x)) if isinstance(x, dict) else str(x) for x in p) or "none"
    return "-" if p is None else str(p)
