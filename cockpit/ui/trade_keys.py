"""Trade management keys of the cockpit (a mixin of ``CockpitApp``): ``X`` close the position (confirm),
``S`` / ``T`` move its stop-loss / take-profit (price prompt), ``C`` cancel all open orders (confirm).

Each writes one operator command (``cockpit.data.operator``) through the app's command path, like the
kill switch and approvals, so it works the same in-process, attached to a headless engine and over SSH.
The engine's answer (done, or why it was refused) is read back at the next polls and shown as a
notification.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from textual import work
from textual.app import SystemCommand

from cockpit.ui import render
from cockpit.ui.screens.trade_modals import PriceModal, TradeConfirmModal

if TYPE_CHECKING:
    from textual.app import App

    from cockpit.config import Config
    from cockpit.data import DataService
    from cockpit.ui.state import Snapshot

    _AppBase = App[None]  # for the type checker only: at run time the mixin is a plain class
else:
    _AppBase = object

TRADE_COMMANDS = ("close_position", "set_stop_loss", "set_take_profit", "cancel_all")
TRADE_KEYMAP: list[tuple[str, str, str]] = [
    ("X", "close_position", "Close the position: reduce-only market order, no kill switch (asks to confirm)"),
    ("S", "move_stop", "Move the position's stop-loss (asks for the price)"),
    ("T", "move_take_profit", "Move the position's take-profit (asks for the price)"),
    ("C", "cancel_all", "Cancel every open order; the position and its stop stay (asks to confirm)"),
    ("t", "trades", "Closed trades: entry, exit, exit reason, P&L, fees, funding; what each strategy earned"),
]


class TradeActions(_AppBase):
    """Mixed into CockpitApp (which provides run_command, snapshot, cfg, ds, notify, push_screen)."""

    # What CockpitApp provides besides App's own methods (declared for the type checker).
    cfg: Config
    ds: "DataService"
    snapshot: "Snapshot | None"
    _awaiting_results: dict[int, str]

    if TYPE_CHECKING:

        def run_command(self, command: str, order_id: int | None, payload: dict[str, Any] | None) -> object: ...
        def _close_thread_connection(self) -> None: ...
        def _push_named(self, cls_path: str, cls_name: str) -> None: ...

    def _position(self) -> tuple[str, float, dict[str, Any]] | None:
        snap = self.snapshot
        pos = (snap.position if snap else None) or {}
        side, _, _ = render.position_parts(pos)
        if side not in ("LONG", "SHORT"):
            return None
        return side.lower(), float(pos["size"]), pos

    def _no_position(self) -> None:
        self.notify("no open position (the last position snapshot is flat, or none was read yet)", severity="warning")

    def action_close_position(self) -> None:
        p = self._position()
        if p is None:
            self._no_position()
            return
        side, size, pos = p
        mark = (self.snapshot.price or {}).get("mark_price") if self.snapshot else None

        def after(ok: bool | None) -> None:
            if ok:
                self.run_command("close_position", None, {"reason": "closed from the cockpit", "side": side})

        self.push_screen(
            TradeConfirmModal(
                f"[b]CLOSE POSITION[/b]: sell the {side.upper()} {size:g} BTC (entry {render.num(pos.get('entry_price'))}, "
                f"mark {render.num(mark)}) back with a reduce-only market order? Trading is not halted."
                if side == "long"
                else f"[b]CLOSE POSITION[/b]: buy back the SHORT {size:g} BTC (entry {render.num(pos.get('entry_price'))}, "
                f"mark {render.num(mark)}) with a reduce-only market order? Trading is not halted.",
                yes="Close",
            ),
            after,
        )

    def action_cancel_all(self) -> None:
        snap = self.snapshot
        from cockpit.ui.state import OPEN_STATUSES

        n = sum(o["status"] in OPEN_STATUSES for o in (snap.orders if snap else []))
        if not n:
            self.notify("no open orders to cancel", severity="warning")
            return

        def after(ok: bool | None) -> None:
            if ok:
                self.run_command("cancel_all", None, {"reason": "cancel all from the cockpit"})

        self.push_screen(
            TradeConfirmModal(
                f"[b]CANCEL ALL[/b] {n} open order(s) (waiting for approval or working)? "
                "The position and its stop-loss/take-profit stay.",
                yes="Cancel all",
            ),
            after,
        )

    def action_move_stop(self) -> None:
        self._move_level("stop_loss")

    def action_move_take_profit(self) -> None:
        self._move_level("take_profit")

    def _move_level(self, kind: str) -> None:
        from cockpit.risk.manager import RiskLimits
        from cockpit.risk.protection import KINDS, check_protection

        p = self._position()
        snap = self.snapshot
        if p is None or snap is None:  # (no snapshot read yet means no position either)
            self._no_position()
            return
        side, size, pos = p
        mark = (snap.price or {}).get("mark_price") or pos.get("mark_price")
        current = (snap.levels or {}).get("SL" if kind == "stop_loss" else "TP")
        equity = float(snap.balance["total"]) if snap.balance else None
        limits = RiskLimits.from_config(self.cfg)
        name = KINDS[kind]

        def check(price: float) -> list[str]:
            return check_protection(
                limits, kind=kind, price=price, side=side, size=size, mark=mark, equity=equity, current=current
            )

        def after(price: float | None) -> None:
            if price is not None:
                self.run_command("set_" + kind, None, {"price": price, "side": side})

        self.push_screen(
            PriceModal(
                f"Move the {name}",
                f"{side.upper()} {size:g} BTC @ {render.num(pos.get('entry_price'))}, mark "
                f"{render.num(mark)}; {name} now {render.num(current)}. A {side}'s {name} goes "
                f"{'below' if (kind == 'stop_loss') == (side == 'long') else 'above'} the price.",
                current,
                check,
            ),
            after,
        )

    # ---------------------------------------------------------------- the engine's answer

    def note_trade_command(self, command: str, command_id: int) -> None:
        if command in TRADE_COMMANDS:
            self._awaiting_results[command_id] = command

    def check_trade_results(self) -> None:
        if self._awaiting_results:
            self.read_trade_results(dict(self._awaiting_results))

    @work(thread=True, exit_on_error=False, group="trade-results")
    def read_trade_results(self, ids: dict[int, str]) -> None:
        try:
            rows = self.ds.operator_commands(status=None, since_id=min(ids) - 1, limit=200)
        except Exception:  # noqa: BLE001 - asked again at the next poll
            return
        finally:
            self._close_thread_connection()
        for r in rows:
            if r["id"] in ids and r["status"] != "pending":
                self.call_from_thread(self._trade_result, r["id"], ids[r["id"]], r["status"], r.get("result") or "")

    def _trade_result(self, cid: int, command: str, status: str, result: str) -> None:
        if self._awaiting_results.pop(cid, None) is None:
            return
        what = command.replace("_", " ")
        if status == "done":
            self.notify(f"{what}: {result or 'done'}", timeout=8)
        else:
            self.notify(f"{what} refused: {result or status}", severity="error", timeout=15)

    def action_trades(self) -> None:
        self._push_named("cockpit.ui.screens.trades", "TradesScreen")

    def trade_system_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Closed trades", "t: exits, P&L, fees, funding; by strategy", self.action_trades)
        yield SystemCommand("Close position", "X: reduce-only market close (confirm)", self.action_close_position)
        yield SystemCommand("Move stop-loss", "S: new stop-loss price", self.action_move_stop)
        yield SystemCommand("Move take-profit", "T: new take-profit price", self.action_move_take_profit)
        yield SystemCommand("Cancel all orders", "C: cancel every open order (confirm)", self.action_cancel_all)
