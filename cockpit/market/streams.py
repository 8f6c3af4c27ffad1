"""Live streams from the exchange (ccxt.pro over OKX's WebSocket API; the simulator serves the same).

``StreamFollower`` runs one asyncio loop in its own thread and follows, for one symbol: the ticker
and mark price (public), the decision timeframe's candles (business), and orders and positions
(private). It only *tells* its owner what arrived, through callbacks that must return
quickly (they run in the stream thread):

* ``on_ticker(ts, last, mark)``   every ticker (the owner throttles what it stores);
* ``on_account(kind)``             an order, fill or position event: time to reconcile (REST);
* ``on_candle_closed(open_ms)``    a candle of the followed timeframe closed;
* ``on_state(state, detail)``      ``live`` | ``stale`` | ``reconnecting`` | ``stopped``.

REST stays the record: streams are a trigger and a live price, never the only source. A watch
that fails (dropped connection, malformed frame, a stalled link caught by ccxt's ping/pong) is
retried with backoff on a new connection; the ticker counts as stale when nothing arrived for
``stale_s`` wall seconds while the exchange clock moved (a frozen simulator clock sends nothing and
is not stale). Stale: the owner is told (``stale``), every connection is closed and opened again;
the first ticker after that says ``live`` (the owner then back-fills from REST).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Callable

import ccxt

log = logging.getLogger("cockpit.streams")


class StreamFollower:
    def __init__(
        self,
        make_client: Callable[[], Any],
        symbol: str,
        timeframe: str,
        *,
        clock: Any,
        stale_s: float = 10.0,
        private: bool = True,
        on_ticker: Callable[[int, float, float | None], None] = lambda ts, last, mark: None,
        on_account: Callable[[str], None] = lambda kind: None,
        on_candle_closed: Callable[[int], None] = lambda ts: None,
        on_state: Callable[[str, str], None] = lambda state, detail: None,
        on_exit: Callable[[], None] = lambda: None,
    ) -> None:
        self.make_client = make_client
        self.symbol, self.timeframe = symbol, timeframe
        self.clock = clock
        self.stale_s = float(stale_s)
        self.private = private
        self.on_ticker, self.on_account, self.on_candle_closed, self.on_state = (
            on_ticker,
            on_account,
            on_candle_closed,
            on_state,
        )
        self.on_exit = on_exit  # called last in the stream thread (e.g. to close its database connection)
        self.state = "starting"
        self.reconnects = 0
        self.last_ticker_wall: float | None = None
        self._last_ticker_clock: int | None = None
        self._mark: float | None = None
        self._forming: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._failing: set[str] = set()

    # ------------------------------------------------------------ lifecycle (any thread)

    def start(self) -> "StreamFollower":
        self._thread = threading.Thread(target=self._main, name="cockpit-streams", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(lambda: None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except Exception as e:  # noqa: BLE001 - reported; REST polling carries on without streams
            log.exception("stream follower crashed")
            self._set_state("stopped", f"{type(e).__name__}: {e}")
        finally:
            try:
                self.on_exit()
            except Exception:  # noqa: BLE001
                log.exception("stream exit callback failed")

    # ------------------------------------------------------------ the loop

    def _set_state(self, state: str, detail: str = "") -> None:
        if state == self.state:
            return
        self.state = state
        try:
            self.on_state(state, detail)
        except Exception:  # noqa: BLE001 - an owner's bug must not end the streams
            log.exception("stream state callback failed")

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._client = self.make_client()
        tasks = [
            asyncio.ensure_future(self._follow("ticker", self._ticker)),
            asyncio.ensure_future(self._follow("mark", self._mark_price)),
            asyncio.ensure_future(self._follow("candles", self._candles)),
        ]
        if self.private:
            tasks += [
                asyncio.ensure_future(self._follow("orders", self._orders)),
                asyncio.ensure_future(self._follow("positions", self._positions)),
            ]
        try:
            while not self._stop.is_set():
                await asyncio.sleep(0.2)
                if self._is_stale():
                    await self._restart(
                        f"no ticker for {time.monotonic() - (self.last_ticker_wall or 0):.1f} s "
                        "while the exchange clock moved"
                    )
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await self._client.close()
            except Exception:  # noqa: BLE001
                pass
            self._set_state("stopped", "stopped")

    def _is_stale(self) -> bool:
        if self.last_ticker_wall is None or self.state != "live":
            return False
        if time.monotonic() - self.last_ticker_wall < self.stale_s:
            return False
        return self._clock_moved()

    def _clock_moved(self) -> bool:
        try:
            return int(self.clock.now_ms()) != self._last_ticker_clock
        except Exception:  # noqa: BLE001 - no clock reading: judge by wall time alone
            return True

    async def _restart(self, why: str) -> None:
        """Stale: say so, drop every connection; the watches reconnect on their own."""
        self._set_state("stale", why)
        self.reconnects += 1
        self.last_ticker_wall = None
        try:
            await self._client.close()  # ends every WebSocket of this client; pending watches fail and retry
        except Exception:  # noqa: BLE001
            pass

    async def _follow(self, name: str, step: Callable[[], Any]) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                await step()
                delay = 0.2
                self._failing.discard(name)
            except asyncio.CancelledError:
                raise
            except asyncio.TimeoutError:
                # Only the ticker waits with a timeout: nothing for stale_s. Stale if the clock moved meanwhile.
                if self._clock_moved():
                    await self._restart(f"no ticker for {self.stale_s:g} s while the exchange clock moved")
            except (ccxt.NetworkError, ccxt.ExchangeError, OSError) as e:
                if name not in self._failing:
                    self._failing.add(name)
                    log.info("stream %s failed (%s: %s); reconnecting", name, type(e).__name__, str(e)[:200])
                if name == "ticker" and self.state == "live":
                    self.reconnects += 1
                    self._set_state("reconnecting", f"{type(e).__name__}: {str(e)[:200]}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception as e:  # noqa: BLE001 - unexpected, but never the end of following
                log.warning("stream %s: %s: %s", name, type(e).__name__, str(e)[:200])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # ------------------------------------------------------------ one step of each stream

    async def _ticker(self) -> None:
        t = await asyncio.wait_for(self._client.watch_ticker(self.symbol), self.stale_s)
        last, ts = t.get("last"), t.get("timestamp")
        if not isinstance(ts, int) or not isinstance(last, (int, float)) or not last > 0:
            return  # a ticker without a price or time is not news (never read as zero)
        self.last_ticker_wall = time.monotonic()
        try:
            self._last_ticker_clock = int(self.clock.now_ms())
        except Exception:  # noqa: BLE001
            self._last_ticker_clock = None
        self._set_state("live", "ticker streaming")
        self.on_ticker(ts, float(last), self._mark)

    async def _mark_price(self) -> None:
        t = await self._client.watch_mark_price(self.symbol)
        mark = t.get("markPrice") or (t.get("info") or {}).get("markPx")
        if mark is None:
            return
        try:
            mark = float(mark)
        except (TypeError, ValueError):
            return
        self._mark = mark if mark > 0 else None

    async def _candles(self) -> None:
        rows = await self._client.watch_ohlcv(self.symbol, self.timeframe)
        if not rows:
            return
        forming = int(rows[-1][0])
        if self._forming is not None and forming > self._forming:  # a new candle opened: the last one closed
            self.on_candle_closed(self._forming)
        self._forming = max(forming, self._forming or 0)

    async def _orders(self) -> None:
        await self._client.watch_orders(self.symbol)
        self.on_account("orders")

    async def _positions(self) -> None:
        await self._client.watch_positions([self.symbol])
        self.on_account("positions")


def store_price_snapshot(symbol: str, ts: int, last: float, mark: float | None, db: Any = None) -> int:
    """One ``price_snapshots`` row from the streams (the same table REST ingest fills). The stream has
    no index price: the newest stored one is carried when it is at most a minute older. Rows inserted."""
    from cockpit.db import models as m
    from cockpit.db.connection import database_proxy
    from cockpit.db.portable import insert_many_ignore

    db = db or database_proxy
    p = m.PriceSnapshot
    r = (
        p.select(p.index_price, p.timestamp)
        .where((p.symbol == symbol) & (p.timestamp <= int(ts)))
        .order_by(p.timestamp.desc())
        .limit(1)
        .tuples()
        .bind(db)
        .first()
    )
    index = r[0] if r and r[0] is not None and int(ts) - int(r[1]) <= 60_000 else None
    with db.atomic():  # insert_many_ignore runs in the caller's transaction: this is one of its own
        return insert_many_ignore(
            db,
            p,
            [p.symbol, p.timestamp, p.last_price, p.mark_price, p.index_price],
            [(symbol, int(ts), float(last), mark, index)],
        )
