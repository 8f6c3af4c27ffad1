"""PromptBuilder: the selector prompt, versioned in ``prompt_versions`` and rendered deterministically.

A template is one text with a ``[system]`` part and a ``[user]`` part and ``$placeholders``
(``string.Template``; a literal dollar is ``$$``). The default template is seeded as
``selector`` / ``v1`` on first use; training publishes new versions, and ``llm.prompt_version``
chooses the active one (only ``published`` rows are used).

Data order in the user message (fixed; every section is present even when empty):

1. decision time (UTC), symbol, decision timeframe; the classifier's regime
2. market snapshot: per configured timeframe (short to long) the last close, change, high and low
   over the last 24 bars; funding (latest, mean of the last 3); open interest (latest, change
   over the last 24 readings); long/short ratio (latest)
3. the technical-analysis report (keys sorted)
4. every enabled strategy's current signal, in config order
5. the scorer's evidence per strategy (expected reward relative to cash in this regime and over all
   regimes, samples: learned offline on the training period), in config order, and the costs
6. account state, then the open position
7. the outcomes of recent decisions, newest first (action, target exposure, selector, the price
   move since)

Every value is rendered through ``canonical`` (sorted keys, floats to 6 significant digits), so a
fixed snapshot always gives the same bytes (tests/decision has a golden file).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from string import Template
from typing import Any, Iterable, Mapping

from cockpit.domain.signals import Regime, StrategySignal

PROMPT_NAME = "selector"
DEFAULT_VERSION = "v1"
SUMMARY_BARS = 24
RECENT_DECISIONS = 5

DEFAULT_TEMPLATE = """\
[system]
You are the strategy selector of an automated BTC/USDT perpetual-swap trading desk.
You only choose which of the enabled strategies run and with what weights. You never set strategy
parameters, leverage, position sizes, prices, stops or orders: risk limits and order placement are
handled by other components, and nothing you write can change them.
Answer with one JSON object and nothing else, in exactly this form:
{"selected": [{"strategy": "<name>", "weight": <number 0..1>}], "confidence": <number 0..1>, "rationale": "<plain text, at most $rationale_max characters>", "regime": "<one of: $regimes>"}
Rules: select 1 to $top_n strategies from this list only: $strategies; "cash" may be selected too
(no position for that share). Weights are between 0 and 1 and sum to 1. Staying in cash is a good
answer when no strategy is expected to beat it after costs. The rationale explains the choice in one
or two sentences.
[user]
Decision time: $time_utc. Instrument: $symbol. Decision timeframe: $timeframe.
Regime (classifier): $regime

## 1. Market snapshot
$market

## 2. Technical analysis
$technical_analysis

## 3. Strategy signals (direction, strength 0..1, reason)
$signals

## 4. Strategy scores: expected reward relative to cash (log growth over the training horizon, net of fees and funding; learned offline, evidence not a forecast) and the costs
$scores

## 5. Account and open position
$account

## 6. Recent decisions (newest first)
$recent

Reply with the JSON object now.
"""


class PromptError(ValueError):
    """The template cannot be used (missing, a draft, or a placeholder it does not know)."""


def _round(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        r = float(f"{v:.6g}")
        return int(r) if r.is_integer() and abs(r) < 1e15 else r
    if isinstance(v, Mapping):
        return {str(k): _round(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_round(x) for x in v]
    if hasattr(v, "value") and isinstance(v.value, (str, int)):  # enums
        return v.value
    try:  # numpy scalars
        return _round(float(v))
    except (TypeError, ValueError):
        return str(v)


def canonical(v: Any) -> str:
    """Stable text of a value: sorted keys, rounded floats, no NaN."""
    return json.dumps(_round(v), sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def utc(ms: int | None) -> str:
    if ms is None:
        return "n/a"
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# ------------------------------------------------------------------ snapshot


def market_snapshot(ds: Any, symbol: str, timeframes: Iterable[str], now_ms: int) -> dict[str, Any]:
    """Section 2 from DataService, using only data at or before ``now_ms`` (safe in backtests)."""
    out: dict[str, Any] = {"candles": {}, "funding": None, "open_interest": None, "long_short_ratio": None}
    for tf in timeframes:
        a = ds.candle_arrays(symbol, tf, limit=SUMMARY_BARS, end=now_ms)
        n = len(a["close"])
        if n == 0:
            out["candles"][tf] = None
            continue
        first, last = float(a["close"][0]), float(a["close"][-1])
        out["candles"][tf] = {
            "bars": n,
            "last_close": last,
            "change_pct": (last / first - 1) * 100 if first else None,
            "high": float(a["high"].max()),
            "low": float(a["low"].min()),
            "last_bar_utc": utc(int(a["timestamp"][-1])),
        }
    f = ds.funding_rates(symbol, end=now_ms, limit=3)
    if len(f):
        rates = [float(x) for x in f["funding_rate"]]
        out["funding"] = {"latest": rates[-1], "mean_last_3": sum(rates) / len(rates)}
    oi = [r for r in ds.open_interest(symbol, limit=200) if r["timestamp"] <= now_ms][-SUMMARY_BARS:]
    if oi:
        a0, a1 = float(oi[0]["open_interest"]), float(oi[-1]["open_interest"])
        out["open_interest"] = {"latest": a1, "change_pct": (a1 / a0 - 1) * 100 if a0 else None}
    ls = [r for r in ds.long_short_ratio(symbol, limit=50) if r["timestamp"] <= now_ms]
    if ls:
        out["long_short_ratio"] = {"latest": float(ls[-1]["ratio"])}
    return out


def recent_outcomes(ds: Any, symbol: str, timeframe: str, now_ms: int, limit: int = RECENT_DECISIONS) -> list[dict]:
    rows = [r for r in ds.decisions(symbol=symbol, limit=limit * 3) if r["timestamp"] <= now_ms][:limit]
    if not rows:
        return []
    a = ds.candle_arrays(symbol, timeframe, start=min(r["timestamp"] for r in rows) - 10 * 86_400_000, end=now_ms)
    ts, close = a["timestamp"], a["close"]
    out = []
    for r in rows:
        move = None
        if len(ts):
            i = int((ts <= r["timestamp"]).sum()) - 1
            if i >= 0 and close[i]:
                move = (float(close[-1]) / float(close[i]) - 1) * 100
        out.append(
            {
                "time_utc": utc(r["timestamp"]),
                "action": r["action"],
                "selector": r.get("selector"),
                "target_exposure": r.get("target_exposure"),
                "price_move_since_pct": move,
            }
        )
    return out


def signal_rows(signals: Mapping[str, StrategySignal], order: Iterable[str]) -> list[dict[str, Any]]:
    rows = []
    for name in order:
        s = signals.get(name)
        if s is None:
            continue
        rows.append(
            {"strategy": name, "direction": s.direction.value, "strength": float(s.strength), "reason": s.reason}
        )
    return rows


# ------------------------------------------------------------------ rendering


class PromptBuilder:
    def __init__(
        self,
        template: str = DEFAULT_TEMPLATE,
        *,
        name: str = PROMPT_NAME,
        version: str = DEFAULT_VERSION,
        prompt_version_id: int | None = None,
    ) -> None:
        if "[system]" not in template or "[user]" not in template:
            raise PromptError(f"prompt {name} {version}: needs a [system] and a [user] part")
        self.template = template
        self.name = name
        self.version = version
        self.prompt_version_id = prompt_version_id

    @classmethod
    def load(cls, ds: Any, store: Any, version: str = DEFAULT_VERSION, name: str = PROMPT_NAME) -> "PromptBuilder":
        """The active template from prompt_versions; the default v1 is seeded on first use."""
        if version == DEFAULT_VERSION and ds.prompt_version(name, version) is None:
            store.ensure_prompt_version(name, version, DEFAULT_TEMPLATE)
        row = ds.prompt_version(name, version)
        if row is None:
            raise PromptError(f"prompt {name} {version} not found in prompt_versions (llm.prompt_version)")
        if row.get("status", "published") != "published":
            raise PromptError(f"prompt {name} {version} is a {row['status']}, not published")
        return cls(row["content"], name=name, version=version, prompt_version_id=int(row["id"]))

    def render(self, snap: Mapping[str, Any]) -> list[dict[str, str]]:
        """The chat messages for a snapshot (see ``snapshot``). Pure and deterministic."""
        sigs = snap["signals"]
        values = {
            "time_utc": utc(snap["now_ms"]),
            "symbol": snap["symbol"],
            "timeframe": snap["timeframe"],
            "regime": snap["regime"],
            "regimes": ", ".join(r.value for r in Regime),
            "strategies": ", ".join(snap["strategies"]) or "(none)",
            "top_n": str(snap["top_n"]),
            "rationale_max": str(snap["rationale_max"]),
            "market": self._market(snap["market"]),
            "technical_analysis": canonical(snap["technical_analysis"]) if snap["technical_analysis"] else "(none)",
            "signals": "\n".join(
                f"- {s['strategy']}: {s['direction']} {_round(s['strength'])} ({s['reason']})" for s in sigs
            )
            or "(none)",
            "scores": (
                "\n".join(
                    f"- {r['strategy']}: expected {_round(r['score'])} (this regime "
                    f"{_opt(r.get('expected'))}, all regimes {_opt(r.get('pooled'))}, "
                    f"samples {r['samples']})"
                    for r in snap["scores"]
                )
                or "(none)"
            )
            + "\n- cash: expected 0 by definition"
            + (f"\n{snap['costs']}" if snap.get("costs") else ""),
            "account": f"account: {canonical(snap['account']) if snap['account'] else '(unknown)'}\n"
            f"position: {canonical(snap['position']) if snap['position'] else '(flat)'}",
            "recent": "\n".join(
                f"- {r['time_utc']}: {r['action']}, target exposure "
                f"{_round(r['target_exposure'])}, selector {r['selector']}, price move since "
                f"{_pct(r['price_move_since_pct'])}"
                for r in snap["recent"]
            )
            or "(none yet)",
        }
        try:
            text = Template(self.template).substitute(values)
        except (KeyError, ValueError) as e:
            raise PromptError(f"prompt {self.name} {self.version}: bad placeholder {e}") from None
        system, _, user = text.partition("[user]")
        return [
            {"role": "system", "content": system.replace("[system]", "", 1).strip()},
            {"role": "user", "content": user.strip()},
        ]

    @staticmethod
    def _market(m: Mapping[str, Any]) -> str:
        lines = []
        for tf, c in m.get("candles", {}).items():
            if c is None:
                lines.append(f"- {tf}: no candles")
            else:
                lines.append(
                    f"- {tf}: last close {_round(c['last_close'])} at {c['last_bar_utc']}, "
                    f"{c['bars']} bars: change {_pct(c['change_pct'])}, high {_round(c['high'])}, "
                    f"low {_round(c['low'])}"
                )
        f = m.get("funding")
        lines.append(
            f"- funding rate: latest {_round(f['latest'])}, mean of last 3 {_round(f['mean_last_3'])}"
            if f
            else "- funding rate: n/a"
        )
        oi = m.get("open_interest")
        lines.append(
            f"- open interest: {_round(oi['latest'])} ({_pct(oi['change_pct'])})" if oi else "- open interest: n/a"
        )
        ls = m.get("long_short_ratio")
        lines.append(f"- long/short ratio: {_round(ls['latest'])}" if ls else "- long/short ratio: n/a")
        return "\n".join(lines)


def _opt(v: Any) -> Any:
    return "no evidence" if v is None else _round(v)


def _pct(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{float(v):+.2f}%"


def snapshot(
    *,
    now_ms: int,
    symbol: str,
    timeframe: str,
    regime: str,
    market: Mapping[str, Any],
    technical_analysis: Mapping[str, Any] | None,
    signals: list[dict[str, Any]],
    scores: list[dict[str, Any]],
    strategies: list[str],
    account: Mapping[str, Any] | None,
    position: Mapping[str, Any] | None,
    recent: list[dict[str, Any]],
    top_n: int,
    rationale_max: int,
    costs: str | None = None,
) -> dict[str, Any]:
    """Everything the prompt shows, as one plain dict (what the golden test fixes)."""
    return {
        "now_ms": int(now_ms),
        "symbol": symbol,
        "timeframe": timeframe,
        "regime": regime,
        "market": market,
        "technical_analysis": dict(technical_analysis or {}),
        "signals": signals,
        "scores": scores,
        "strategies": strategies,
        "account": dict(account) if account else None,
        "position": dict(position) if position else None,
        "recent": recent,
        "top_n": int(top_n),
        "costs": costs,
        "rationale_max": int(rationale_max),
    }
