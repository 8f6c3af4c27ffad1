"""The cockpit's Textual app: one factory (``create_app``) serves the CLI, attach mode and the tests.

Reads go only through ``DataService`` (a poll worker fills a plain ``Snapshot``; the main thread
renders it inside ``batch_update`` and re-arms a one-shot timer, so polls never overlap). Writes are
only operator commands through ``cockpit.data.operator.submit_command``; the engine executes them,
so the UI behaves the same in-process and attached to a headless engine.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any, Iterable

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.css.query import NoMatches
from textual.timer import Timer

from cockpit.config import mode_label
from cockpit.data import DataService
from cockpit.data.operator import operator_identity, submit_command
from cockpit.domain.clock import WallClock  # the UI's clock (heartbeat age, countdowns); tests pass a frozen one
from cockpit.domain.settings import Config
from cockpit.ui.chart import DEFAULT_VIEW, View as ChartView
from cockpit.ui.gc_idle import IdleCollector
from cockpit.ui.messages import CommandFailed, CommandSubmitted, PollFailed, StatePolled
from cockpit.ui.screens.main import MainScreen
from cockpit.ui.screens.modals import ConfirmModal, LiveConfirmModal, RejectModal
from cockpit.ui.state import CHART_TIMEFRAMES, OPEN_STATUSES, PENDING, Poller, Snapshot
from cockpit.ui.trade_keys import TRADE_KEYMAP, TradeActions
from cockpit.ui.widgets.candles import CandlesChart
from cockpit.ui.widgets.panes import ModeBadge


# (key, action, description) for the help screen and the command palette.
KEYMAP: list[tuple[str, str, str]] = [
    ("a", "approve", "Approve the selected (or oldest) pending order"),
    ("r", "reject", "Reject the pending order (asks for a reason)"),
    ("c", "cancel_order", "Cancel the selected open order"),
    ("K", "kill", "Kill switch: cancel all, flatten, halt new entries (asks to confirm)"),
    ("U", "clear_kill", "Clear the kill switch / halt (asks to confirm)"),
    *TRADE_KEYMAP,
    ("1 2 3 4", "timeframe", "Chart timeframe 15m / 1h / 4h / 1d"),
    ("v", "", "Focus the chart (again: back to the orders); its cursor bar reads out date, OHLC, volume, fills"),
    ("← → PgUp PgDn", "", "Chart focused: move the cursor bar / scroll a page through history"),
    ("Home End + −", "", "Chart focused: oldest / newest candles, zoom in / out (Esc: back to the orders)"),
    ("m B V", "", "Chart overlays on/off: EMA 12/26 / Bollinger bands / volume"),
    ("↑ ↓", "", "Select an order in the orders pane"),
    ("Tab", "", "Compact layout: next pane tab (else next focus)"),
    ("w l e o", "", "Compact layout: weights / rationale / events / orders tab"),
    ("b", "backtest", "Backtest screen"),
    ("d", "data", "Data screen: ingestion runs, coverage, gaps"),
    ("p", "prompts", "Prompts & strategy scores"),
    ("ctrl+r ctrl+x c", "", "Backtest screen: run / cancel the run / compare with the open result"),
    ("R F5", "", "Data screen: repair candle gaps (asks to confirm) / reload"),
    ("P", "", "Prompts screen: publish the selected training candidate (asks to confirm)"),
    ("?", "help", "This help"),
    ("Esc", "", "Back to the main screen"),
    ("ctrl+p", "", "Command palette"),
    ("q", "quit", "Quit the cockpit (in attach mode the engine keeps running)"),
]

QUIET_HEARTBEAT_MS = 5_000  # a heartbeat older than this is re-rendered every poll (its age grows)
# How long another thread may hold the GIL before the event loop gets it back (CPython's default is 5 ms).
# The event loop gives the GIL up at every turn (each select), and a key press takes a dozen turns
# (key event, binding, action, refresh, compositor, display) before it is on screen; with the engine's
# threads and the poll worker busy, each turn waited up to 5 ms to get it back: 30-60 ms of a key's
# latency was waiting (bench/ui_latency.py, sampled stacks). At 1 ms the wait is a fifth; the other
# threads keep their share of the GIL, in shorter slices. Set while the UI runs, restored after.
UI_SWITCH_INTERVAL_S = 0.001


class CockpitApp(TradeActions, App[None]):
    CSS_PATH = "cockpit.tcss"
    TITLE = "Alpha Arena Cockpit"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("b", "backtest", "Backtest"),
        Binding("d", "data", "Data"),
        Binding("p", "prompts", "Prompts"),
        Binding("t", "trades", "Trades", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        cfg: Config,
        *,
        ds: DataService,
        db: Any = None,
        engine: Any = None,
        attach: bool = False,
        live: bool = False,
        clock: Any = None,
        poll_enabled: bool = True,
        operator: str | None = None,
        backtest_runner: Any = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.ds = ds
        self.db = db
        self.engine = engine
        self.attach = attach
        self.live = live or cfg["exchange"]["mode"] == "okx-live"
        # The operator's clock (ages, countdowns, command stamps), never the engine's accelerated one:
        # exchange time is derived from the heartbeat (render.exchange_now), in-process and attached alike.
        self.clock = clock or WallClock()
        self.poll_enabled = poll_enabled
        self.operator = operator or operator_identity()
        self.backtest_runner = backtest_runner
        self.symbol = cfg["symbol"]
        self.mode_label = mode_label(cfg)
        self.refresh_s = cfg["ui"]["refresh_ms"] / 1000
        self.timeframe = cfg["decision_timeframe"] if cfg["decision_timeframe"] in CHART_TIMEFRAMES else "1h"
        self.initial_equity = cfg["sim"]["initial_balance"] if cfg["exchange"]["mode"] == "sim" else None
        self.poller = Poller(ds, self.symbol, chart_bars=cfg["ui"]["chart_bars"])
        self.snapshot: Snapshot | None = None
        self.selected_order_id: int | None = None
        self.bell_on_pending = bool(cfg["ui"].get("bell_on_pending", True))
        self._pending_seen: dict[int, dict[str, Any]] | None = None  # pending orders of the last poll
        # Why the last order left the approval queue and when (operator ms): the banner says it a while.
        self.queue_note: tuple[str, int] | None = None
        self.live_confirmed = False
        self.last_error: str | None = None
        self.polls = 0
        self._timer: Timer | None = None
        self._last_sigs: dict[str, Any] = {}
        self._awaiting_results: dict[int, str] = {}  # trade commands whose outcome is not shown yet
        self.main_screen = MainScreen()
        self.gc_idle = IdleCollector()
        self._saved_switch_interval: float | None = None  # the process's GIL switch interval before the UI ran
        if self.live:
            self.sub_title = "LIVE"
        self.quitting = False

    def get_default_screen(self) -> Screen:
        return self.main_screen

    def exit(self, *args: Any, **kwargs: Any) -> None:
        # Keys typed right behind `q` arrive in the same batch; acted on, they opened screens on an app
        # already shutting down (the trades screen's mount found no header: a traceback, exit status 1).
        self.quitting = True
        super().exit(*args, **kwargs)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No action once the app is quitting (see ``exit``)."""
        if self.quitting:
            return False
        return super().check_action(action, parameters)

    def on_mount(self) -> None:
        self._saved_switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(UI_SWITCH_INTERVAL_S, self._saved_switch_interval))
        self.request_refresh()

    # ------------------------------------------------------------- garbage collection off the key path

    def _install_gc(self) -> None:
        """Once the first state is on screen: freeze the start-up heap and move full collections to
        moments without input (cockpit.ui.gc_idle explains the measurements behind it)."""
        if self.gc_idle.installed or not self.is_running:
            return
        self.gc_idle.install()
        self.set_interval(self.gc_idle.tick_s, self.gc_idle.tick, name="gc-idle")

    def on_unmount(self) -> None:
        self.gc_idle.uninstall()
        if self._saved_switch_interval is not None:
            sys.setswitchinterval(self._saved_switch_interval)
            self._saved_switch_interval = None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):  # keys, clicks, wheel, mouse moves: somebody is there
            self.gc_idle.note_input()
        await super().on_event(event)

    # ------------------------------------------------------------- polling

    def request_refresh(self) -> None:
        """Poll now (a new poll replaces one in flight); the next one is armed when it lands."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._shutting_down():
            return  # a refresh timer firing while the screens are taken down: nothing to poll for
        size, view = None, DEFAULT_VIEW
        # The chart's size and view, once the main screen has composed it (before that, the poller's
        # default). query_one is cached between DOM changes; query() would walk the whole tree each time.
        try:
            chart = self.main_screen.query_one("#candles", CandlesChart)
        except NoMatches:
            pass
        else:
            size = (chart.size.width, chart.size.height)
            view = chart.view if chart.timeframe == self.timeframe else replace(chart.view, end=None)
        self.run_poll(self.timeframe, self.selected_order_id, size, view)

    @work(thread=True, exclusive=True, exit_on_error=False, group="poll")
    def run_poll(
        self,
        timeframe: str,
        selected: int | None,
        chart_size: tuple[int, int] | None = None,
        view: ChartView = DEFAULT_VIEW,
    ) -> None:
        try:
            self.post_message(StatePolled(self.poller.poll(timeframe, selected, chart_size, view)))
        except Exception as e:  # noqa: BLE001 - shown in the UI, never fatal
            self.post_message(PollFailed(f"{type(e).__name__}: {e}"))
        finally:
            self._close_thread_connection()

    def _close_thread_connection(self) -> None:
        # Peewee keeps one connection per thread; worker threads are short-lived, so close it.
        db = self.db
        if db is not None:
            try:
                db.close()
            except Exception:  # noqa: BLE001
                pass

    def _arm(self) -> None:
        if self.poll_enabled and self.is_running:
            if self._timer is not None:
                self._timer.stop()
            self._timer = self.set_timer(self.refresh_s, self.request_refresh)

    @on(StatePolled)
    def _state_polled(self, message: StatePolled) -> None:
        if self._shutting_down():
            return  # a poll that lands while the screens are being taken down has nothing to draw on
        snap: Snapshot = message.snapshot
        self.polls += 1
        first = self.snapshot is None
        if self.selected_order_id is None:
            self.selected_order_id = snap.selected_order_id
        if snap.timeframe != self.timeframe:
            # A poll for the old timeframe finished after a key switched it: ask again.
            self.request_refresh()
            return
        self.snapshot = snap
        arrived = self._follow_the_queue(snap)
        changed = {k for k, v in snap.sigs.items() if first or self._last_sigs.get(k) != v}
        if snap.heartbeat_ms is not None and self.clock.now_ms() - snap.heartbeat_ms > QUIET_HEARTBEAT_MS:
            # An engine gone quiet writes nothing that changes a signature: keep its heartbeat's age
            # counting on screen (yellow, then red) instead of showing the last healthy one.
            changed.add("header")
        self._last_sigs = dict(snap.sigs)
        if self.last_error:
            self.last_error = None
        with self.batch_update():
            if changed and self.main_screen.is_mounted:
                self.main_screen.show(snap, changed)
            for screen in self.screen_stack:
                for badge in screen.query(ModeBadge):
                    badge.set_state(snap.halted, snap.halt_reason)
        if first:
            self.call_after_refresh(self._install_gc)
        self.check_trade_results()
        if arrived is not None and arrived != snap.selected_order_id:
            self.select_order(arrived)  # re-polls for the new order's timeline (and re-arms)
            return
        self._arm()

    def _follow_the_queue(self, snap: Snapshot) -> int | None:
        """Compare the approval queue with the last poll's. A new pending order is selected (the newest
        one; the orders pane scrolls to it) and rings the terminal bell once (ui.bell_on_pending); an
        order that left the queue says why (approved by whom, rejected, superseded, expired) in a
        notification and on the banner. Returns the order to select, if one arrived."""
        now_pending = {o["id"]: o for o in snap.pending}
        before, self._pending_seen = self._pending_seen, now_pending
        if before is None:  # the first poll: nothing arrived or left while we watched
            return None
        for oid in sorted(set(before) - set(now_pending)):
            o = next((x for x in snap.orders if x["id"] == oid), None)
            why = snap.outcomes.get(oid) or (f"is {o['status'].replace('_', ' ')}" if o else "left the list")
            text = f"#{oid} {before[oid]['side']} {float(before[oid]['amount']):g} BTC: {why}"
            self.queue_note = (text, self.clock.now_ms())
            bad = o is not None and o["status"] in ("rejected", "canceled", "expired", "failed")
            self.notify(
                text, title="no longer waiting for approval", severity="warning" if bad else "information", timeout=10
            )
        new = sorted(set(now_pending) - set(before))
        if not new:
            return None
        self.queue_note = None
        if self.bell_on_pending:
            self.bell()
        self.selected_order_id = new[-1]
        return new[-1]

    def _shutting_down(self) -> bool:
        ms = self.main_screen
        return bool(self._exit or self._closing or self._closed or ms._closing or ms._closed)

    @on(PollFailed)
    def _poll_failed(self, message: PollFailed) -> None:
        if message.error != self.last_error:
            self.notify(f"database read failed: {message.error}", severity="error", timeout=8)
        self.last_error = message.error
        self._arm()

    def select_order(self, order_id: int) -> None:
        self.selected_order_id = order_id
        self.request_refresh()

    # ------------------------------------------------------------- operator commands

    @work(thread=True, exit_on_error=False, group="commands")
    def run_command(self, command: str, order_id: int | None, payload: dict[str, Any] | None) -> None:
        try:
            cid = submit_command(
                command,
                now_ms=self.clock.now_ms(),
                order_id=order_id,
                payload=payload,
                operator=self.operator,
                db=self.db,
            )
            self.post_message(CommandSubmitted(command, order_id, cid))
        except Exception as e:  # noqa: BLE001
            self.post_message(CommandFailed(command, f"{type(e).__name__}: {e}"))
        finally:
            self._close_thread_connection()

    @on(CommandSubmitted)
    def _command_submitted(self, m: CommandSubmitted) -> None:
        what = f"{m.command} #{m.order_id}" if m.order_id else m.command
        self.notify(f"{what} sent to the engine (command {m.command_id})", timeout=4)
        self.note_trade_command(m.command, m.command_id)
        self.request_refresh()

    @on(CommandFailed)
    def _command_failed(self, m: CommandFailed) -> None:
        self.notify(f"{m.command} failed: {m.error}", severity="error", timeout=10)

    def _orders(self) -> list[dict[str, Any]]:
        return self.snapshot.orders if self.snapshot else []

    def approval_target(self) -> dict[str, Any] | None:
        """The selected order when it is pending, else the oldest pending one."""
        orders = self._orders()
        sel = next((o for o in orders if o["id"] == self.selected_order_id), None)
        if sel and sel["status"] == PENDING:
            return sel
        pending = sorted((o for o in orders if o["status"] == PENDING), key=lambda o: o["id"])
        return pending[0] if pending else None

    def action_approve(self) -> None:
        o = self.approval_target()
        if o is None:
            self.notify("no order is waiting for approval", severity="warning")
            return
        if self.live and not self.live_confirmed:

            def after(ok: bool | None) -> None:
                if ok:
                    self.live_confirmed = True
                    self.run_command("approve", o["id"], None)

            self.push_screen(LiveConfirmModal(), after)
            return
        self.run_command("approve", o["id"], None)

    def action_reject(self) -> None:
        o = self.approval_target()
        if o is None:
            self.notify("no order is waiting for approval", severity="warning")
            return

        def after(reason: str | None) -> None:
            if reason:
                self.run_command("reject", o["id"], {"reason": reason})

        self.push_screen(RejectModal(o["id"]), after)

    def action_cancel_order(self) -> None:
        o = next((o for o in self._orders() if o["id"] == self.selected_order_id), None)
        if o is None or o["status"] not in OPEN_STATUSES:
            self.notify("select an open order to cancel (↑/↓ in the orders pane)", severity="warning")
            return
        self.run_command("cancel", o["id"], {"reason": "canceled by operator"})

    def action_kill(self) -> None:
        def after(ok: bool | None) -> None:
            if ok:
                self.run_command("kill", None, {"reason": "operator kill switch"})

        self.push_screen(
            ConfirmModal(
                "[b]KILL SWITCH[/b]: cancel every open order, close the position with "
                "reduce-only market orders and halt new entries until cleared?",
                yes="Kill",
            ),
            after,
        )

    def action_clear_kill(self) -> None:
        def after(ok: bool | None) -> None:
            if ok:
                self.run_command("clear_kill", None, {"reason": "cleared by operator"})

        self.push_screen(ConfirmModal("Clear the kill switch / halt and allow new entries again?", yes="Clear"), after)

    def action_timeframe(self, tf: str) -> None:
        if tf not in CHART_TIMEFRAMES or tf == self.timeframe:
            return
        self.timeframe = tf
        # Redraw at once from the candles last polled for this timeframe (no database read on the key
        # press); the poll below brings the current ones.
        try:
            self.main_screen.query_one("#candles", CandlesChart).switch_to(tf)
        except NoMatches:
            pass
        self.request_refresh()

    # ------------------------------------------------------------- screens

    def _push_named(self, cls_path: str, cls_name: str) -> None:
        """Show a secondary screen. Each is built once and kept (installed): reopening it costs no
        compose, a backtest keeps running (and its result stays on screen) while the trader is back on
        the main screen, and no discarded widget trees pile up for the cyclic garbage collector,
        whose full passes would otherwise stall the event loop (bench/ui_latency.py)."""
        import importlib

        cls = getattr(importlib.import_module(cls_path), cls_name)
        if isinstance(self.screen, cls):
            return
        if self.screen is not self.main_screen:
            self.pop_screen()
        if not self.is_screen_installed(cls_name):
            self.install_screen(cls(), name=cls_name)
        self.push_screen(cls_name)

    def action_backtest(self) -> None:
        self._push_named("cockpit.ui.screens.backtest", "BacktestScreen")

    def action_data(self) -> None:
        self._push_named("cockpit.ui.screens.data", "DataScreen")

    def action_prompts(self) -> None:
        self._push_named("cockpit.ui.screens.prompts", "PromptsScreen")

    def action_help(self) -> None:
        self._push_named("cockpit.ui.screens.help", "HelpScreen")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Approve pending order", "a: approve the selected/oldest pending order", self.action_approve
        )
        yield SystemCommand("Reject pending order", "r: reject with a reason", self.action_reject)
        yield SystemCommand("Cancel selected order", "c: cancel the selected open order", self.action_cancel_order)
        yield SystemCommand("Kill switch", "K: cancel all, flatten, halt (confirm)", self.action_kill)
        yield SystemCommand("Clear kill switch", "U: allow new entries again (confirm)", self.action_clear_kill)
        yield from self.trade_system_commands()
        for tf in CHART_TIMEFRAMES:
            yield SystemCommand(f"Chart {tf}", f"show {tf} candles", lambda tf=tf: self.action_timeframe(tf))
        yield SystemCommand("Backtest screen", "b", self.action_backtest)
        yield SystemCommand("Data screen", "d", self.action_data)
        yield SystemCommand("Prompts & scores", "p", self.action_prompts)
        yield SystemCommand("Help", "?: every key binding", self.action_help)


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker now, while sys.stderr is a real file: once Textual
    captures stderr its fileno() is -1 and the backtest child process could not be spawned."""
    try:
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    except Exception:  # noqa: BLE001 - backtests then fall back to failing visibly in the screen
        pass


def create_app(
    cfg: Config,
    *,
    engine: Any = None,
    attach: bool = False,
    live: bool = False,
    clock: Any = None,
    ds: DataService | None = None,
    db: Any = None,
    poll_enabled: bool = True,
    operator: str | None = None,
    backtest_runner: Any = None,
) -> CockpitApp:
    """Build the cockpit over the database the models' proxy is bound to (or ``db``).

    Tests pass a frozen ``clock``, ``poll_enabled=False`` (they call ``app.request_refresh()``)
    and a fixed ``operator``; the CLI passes nothing more than the config and the modes.
    """
    from cockpit.db.connection import database_proxy

    _start_resource_tracker()
    if db is None:
        if database_proxy.obj is None:
            from cockpit.db import migrate, open_database

            db = open_database(cfg["database"]["url"], password_env=cfg["database"]["password_env"])
            migrate(db)
        else:
            db = database_proxy.obj
    return CockpitApp(
        cfg,
        ds=ds or DataService(db),
        db=db,
        engine=engine,
        attach=attach,
        live=live,
        clock=clock,
        poll_enabled=poll_enabled,
        operator=operator,
        backtest_runner=backtest_runner,
    )


def run_tui(cfg: Config, *, engine: Any = None, attach: bool = False, live: bool = False) -> int:
    """Run the cockpit until the operator quits; returns the exit code.

    Quitting never stops a headless engine in attach mode; with an in-process ``engine`` the caller
    (cockpit.commands.run) decides what to do after this returns.
    """
    app = create_app(cfg, engine=engine, attach=attach, live=live)
    _exit_on_hangup(app)
    app.run()
    return int(app.return_code or 0)


def _exit_on_hangup(app: CockpitApp) -> None:
    """When the terminal goes away (SSH drop) leave at once instead of spinning on a dead tty.
    The engine is unaffected: attached, it is another process; in-process, the runner stops it."""
    import signal

    def on_hup(signum: int, frame: Any) -> None:
        loop = getattr(app, "_loop", None)
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(lambda: app.exit(return_code=129))

    try:
        signal.signal(signal.SIGHUP, on_hup)
    except (ValueError, AttributeError, OSError):  # not the main thread, or no SIGHUP (Windows)
        pass
