"""The position line: what the trader holds and what it has earned, read in the poll worker and rendered as
Rich Text (no Textual here, like ``cockpit.ui.render``).

Wide (two lines):  side, size, entry, mark, unrealised P&L, liquidation price and its distance, margin
ratio, funding on the position, leverage, SL/TP | realised P&L (after fees) today and since start, an equity
sparkline, the last closed trade, the trade-management keys. Compact (one line, 80 columns): side, size,
entry, uPnL, liq, realised today and since start, the sparkline. Missing figures show as "—", never 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from cockpit.data.account import AccountReads, closed_trades, realised
from cockpit.ui.render import num, position_parts, side_style

DAY_MS = 86_400_000
SPARK = "▁▂▃▄▅▆▇█"
EQUITY_EVERY_S = 5.0  # the equity history is re-aggregated at most this often (wall seconds)
TRADES_KEPT = 50


@dataclass
class AccountView:
    realised_today: float | None = None
    realised_total: float | None = None
    equity: list[float] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)  # newest first
    open_trade: dict[str, Any] | None = None
    sig: Any = None


class AccountPoller:
    """Re-reads fills only when a new one is stored, the equity history at most every EQUITY_EVERY_S."""

    def __init__(self, db: Any, symbol: str) -> None:
        self.reads = AccountReads(db)
        self.symbol = symbol
        self._fill_sig: Any = None
        self._fills: list[dict[str, Any]] = []
        self._closed: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None
        self._equity: list[float] = []
        self._equity_at = 0.0
        self._balance_sig: Any = None

    def poll(self, ds: Any, exchange_ms: int | None, balance: dict[str, Any] | None) -> AccountView:
        newest = ds.trades(symbol=self.symbol, limit=1)
        nid = newest[0]["id"] if newest else None
        if nid != self._fill_sig:
            self._fills = self.reads.fills_with_orders(self.symbol) if nid is not None else []
            self._closed, self._open = (
                closed_trades(self.reads, self.symbol, limit=TRADES_KEPT) if nid is not None else ([], None)
            )
            self._fill_sig = nid
        bsig = (balance or {}).get("id")
        if bsig != self._balance_sig and (not self._equity or time.monotonic() - self._equity_at >= EQUITY_EVERY_S):
            self._equity = self.reads.equity_series(buckets=48)
            self._equity_at = time.monotonic()
            self._balance_sig = bsig
        v = AccountView(equity=self._equity, closed=self._closed, open_trade=self._open)
        v.realised_total = realised(self._fills)  # no fill at all: nothing realised (0, not unknown)
        if exchange_ms is not None:
            v.realised_today = realised(self._fills, since_ms=int(exchange_ms) - int(exchange_ms) % DAY_MS)
        v.sig = (
            self._fill_sig,
            len(self._equity),
            self._equity[-1] if self._equity else None,
            None if exchange_ms is None else int(exchange_ms) // DAY_MS,
        )
        return v


def sparkline(values: list[float], width: int) -> str:
    """The last ``width`` values as block characters scaled between their min and max."""
    vals = [v for v in values if v == v][-width:]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    if hi - lo <= 1e-9:
        return SPARK[3] * len(vals)
    return "".join(SPARK[min(len(SPARK) - 1, int((v - lo) / (hi - lo) * (len(SPARK) - 1) + 0.5))] for v in vals)


def _money(t: Text, v: float | None, nd: int = 1) -> None:
    if v is None:
        t.append("—", "dim")
    else:
        t.append(num(v, nd, sign=True), "green" if v >= 0 else "red")


def position_text(
    pos: dict[str, Any] | None,
    mark: float | None,
    levels: dict[str, Any],
    view: AccountView | None,
    *,
    compact: bool,
    equity_now: float | None = None,
    initial_equity: float | None = None,
) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    side, _, upnl = position_parts(pos)
    view = view or AccountView()
    t.append(" ")
    if pos is None:  # no snapshot yet: unknown, never shown as flat
        t.append("position —", "yellow")
        t.append(" (not read yet)" if not compact else "", "dim")
    else:
        t.append(side, side_style(side) + " bold")
    if side != "FLAT" and pos:
        size, entry = float(pos["size"]), pos.get("entry_price")
        mark = mark or pos.get("mark_price")
        liq = pos.get("liquidation_price")
        if compact:
            t.append(f" {size:g}@{num(entry, 0)}")
            t.append(" uPnL ", "dim")
            _money(t, upnl)
            t.append(" liq ", "dim")
            t.append(num(liq, 0))
        else:
            t.append(f" {size:g} BTC @ {num(entry)}")
            t.append("  mark ", "dim")
            t.append(num(mark))
            t.append("  uPnL ", "dim")
            _money(t, upnl)
            t.append("  liq ", "dim")
            t.append(num(liq))
            if liq and mark:
                t.append(f" ({abs(float(mark) - float(liq)) / float(mark):.0%} away)", "dim")
            t.append("  margin ratio ", "dim")
            mr = pos.get("margin_ratio")
            t.append("—" if mr is None else f"{float(mr):.1%}")
            t.append("  funding ", "dim")
            _money(t, pos.get("funding_fee"), 2)
            t.append("  lev ", "dim")
            t.append("—" if pos.get("leverage") is None else f"{float(pos['leverage']):g}x")
            t.append("  SL ", "dim")
            t.append(num(levels.get("SL"), 0), "red")
            t.append(" TP ", "dim")
            t.append(num(levels.get("TP"), 0), "green")
    if compact:
        t.append(" │ day ", "dim")
        _money(t, view.realised_today)
        t.append(" all ", "dim")
        _money(t, view.realised_total)
        spark = sparkline(view.equity, 12)
        if spark:
            t.append(" " + spark, "cyan")
        return t
    t.append("\n ")
    t.append("realised today ", "dim")
    _money(t, view.realised_today)
    t.append(" · since start ", "dim")
    _money(t, view.realised_total)
    spark = sparkline(view.equity, 20)
    t.append("   equity ", "dim")
    if spark:
        t.append(spark, "cyan")
    if equity_now is not None:
        t.append(f" {num(equity_now)}", "bold")
        if initial_equity:
            ch = (equity_now / initial_equity - 1) * 100
            t.append(f" ({ch:+.1f}%)", "green" if ch >= 0 else "red")
    if view.closed:
        last = view.closed[0]
        t.append("   last trade ", "dim")
        t.append(f"{last['side']} → {last['exit_reason']} ")
        _money(t, last["net"], 2)
    t.append("   X close · S stop · T tp · C cancel all · t trades", "dim")
    return t
