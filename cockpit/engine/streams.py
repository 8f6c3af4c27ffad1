"""The engine's side of the exchange streams (``exchange.streams``): a ``StreamFollower`` wired in.

* a ticker becomes a ``price_snapshots`` row (at most one per ``exchange.stream_snapshot_s`` wall
  seconds), so the header's last price moves as the market does rather than once per ingest cycle;
* an order, fill or position event wakes the fast loop at once: its REST ``sync`` records the order,
  fill, position and balance (REST stays the record; a stream is the trigger);
* a closed candle of the decision timeframe wakes the ingest loop (REST fetches and stores it);
* a stream that drops or goes stale is a WARN risk event and a failed ``ingestion_runs`` row
  (data type ``stream``); REST polling carries on meanwhile (it never stops), and when the stream
  is live again both loops are woken to back-fill from REST, with an INFO risk event and a
  ``success`` row. A stale stream never supplies a price: nothing is written from it until it is live.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from cockpit.data import engine_store
from cockpit.domain.settings import Config
from cockpit.engine.eventlog import EventLog


class EngineStreams:
    def __init__(
        self, cfg: Config, make_client: Callable[[], Any], *, clock: Any, log: EventLog, private: bool = True
    ) -> None:
        self.cfg = cfg
        self.private = private  # no credentials: public streams only
        self.make_client = make_client
        self.clock = clock
        self.log = log
        self.symbol = cfg["symbol"]
        self.snapshot_s = float(cfg["exchange"].get("stream_snapshot_s", 1.0))
        self.engine: Any = None
        self.follower: Any = None
        self._last_write = 0.0
        self._down_since: int | None = None
        self._lock = threading.Lock()
        self.tickers_seen = 0
        self.snapshots_written = 0

    def start(self, engine: Any) -> None:
        from cockpit.market.streams import StreamFollower

        self.engine = engine
        self.clock = engine.clock
        self.follower = StreamFollower(
            self.make_client,
            self.symbol,
            self.cfg["decision_timeframe"],
            clock=self.clock,
            stale_s=float(self.cfg["exchange"].get("stream_stale_s", 10.0)),
            private=self.private,
            on_ticker=self._on_ticker,
            on_account=self._on_account,
            on_candle_closed=self._on_candle_closed,
            on_state=self._on_state,
            on_exit=self._on_exit,
        ).start()

    def stop(self) -> None:
        if self.follower is not None:
            self.follower.stop()

    @property
    def state(self) -> str:
        return self.follower.state if self.follower is not None else "off"

    # ------------------------------------------------------------ callbacks (the stream thread)

    def _now(self) -> int:
        try:
            return int(self.clock.now_ms())
        except Exception:  # noqa: BLE001
            return int(time.time() * 1000)

    def _on_ticker(self, ts: int, last: float, mark: float | None) -> None:
        self.tickers_seen += 1
        if self.engine is None or self.engine.stopping:
            return
        wall = time.monotonic()
        if wall - self._last_write < self.snapshot_s:
            return
        self._last_write = wall
        from cockpit.market.streams import store_price_snapshot

        try:
            self.snapshots_written += store_price_snapshot(self.symbol, ts, last, mark)
        except Exception as e:  # noqa: BLE001 - REST ingest still writes snapshots
            self.log.error("record_failed", stage="stream_snapshot", error=f"{type(e).__name__}: {e}")

    def _on_account(self, kind: str) -> None:
        if self.engine is not None and not self.engine.stopping:
            self.engine.wake_fast()

    def _on_candle_closed(self, open_ms: int) -> None:
        if self.engine is not None and not self.engine.stopping:
            self.engine.wake_ingest()

    def _on_state(self, state: str, detail: str) -> None:
        eng = self.engine
        if eng is None:
            return
        eng.status.stream = state
        if eng.stopping or state == "stopped":
            return
        now = self._now()
        if state in ("stale", "reconnecting"):
            if self._down_since is None:
                self._down_since = now
            self.log.warning("stream_down", state=state, detail=detail)
            # The ingestion row first: whoever sees the risk event finds the row already written.
            self._ingestion_row(now, "failed", detail)
            eng._risk_event(
                "WARN",
                "engine.stream",
                {"state": state, "reason": detail, "action": "following REST polling meanwhile; reconnecting"},
            )
        elif state == "live" and self._down_since is not None:
            down = self._down_since
            self._down_since = None
            eng.wake_ingest()  # back-fill what the outage may have hidden: candles, prices ...
            eng.wake_fast()  # ... and orders, fills, position, balance
            self.log.info("stream_live", since=down)
            self._ingestion_row(now, "success", None, started=down)
            eng._risk_event(
                "INFO",
                "engine.stream",
                {
                    "state": "live",
                    "reason": "stream reconnected",
                    "down_for_ms": now - down,
                    "action": "back-filled from REST (ingest and order sync woken)",
                },
            )

    def _ingestion_row(self, now: int, status: str, error: str | None, started: int | None = None) -> None:
        try:
            engine_store.record_ingestion_run(
                source="stream",
                symbol=self.symbol,
                data_type="stream",
                started_at=started if started is not None else now,
                ended_at=now,
                status=status,
                error=(error or None) and error[:500],
            )
        except Exception as e:  # noqa: BLE001
            self.log.error("record_failed", stage="stream", error=f"{type(e).__name__}: {e}")

    def _on_exit(self) -> None:
        from cockpit.db.connection import database_proxy

        try:
            if database_proxy.obj is not None:
                database_proxy.close()  # this thread's connection
        except Exception:  # noqa: BLE001
            pass
