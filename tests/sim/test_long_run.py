"""The simulator over months of simulated time (soak regression: every REST call answered 50026
IndexError after 6-16 days at 3600x), concurrent requests at day boundaries, and a replay's end."""

from __future__ import annotations

import threading

import ccxt
import numpy as np
import pytest

SYM = "BTC/USDT:USDT"
H = 3_600_000
DAY = 24 * H


def _columns(m):
    return m._ts, m._o, m._h, m._l, m._c, m._v


def test_months_of_simulated_time_every_call_answers(okx, sim):
    """120+ days in uneven steps (7h13m: every time of day, every day boundary crossed), all calls answering."""
    step = 7 * H + 13 * 60_000
    start = sim.clock.now_ms()
    okx.set_leverage(5, SYM, params={"mgnMode": "cross"})
    k = 0
    while sim.clock.now_ms() - start < 121 * DAY:
        sim.clock.advance(step)
        now = sim.clock.now_ms()
        t = okx.fetch_ticker(SYM)
        assert t["timestamp"] == now and t["last"] > 0
        for tf, ms in (("15m", 900_000), ("1h", H), ("4h", 4 * H), ("1d", DAY)):
            rows = okx.fetch_ohlcv(SYM, tf, limit=3)
            assert len(rows) == 3 and rows[-1][0] == now // ms * ms  # the forming candle is the newest
            assert rows[1][0] - rows[0][0] == ms and all(r[3] <= r[2] for r in rows)
        assert okx.fetch_funding_rate(SYM)["fundingTimestamp"] > now
        okx.fetch_positions([SYM])
        if k % 4 == 0:
            o = okx.create_order(SYM, "market", "buy" if k % 8 == 0 else "sell", 1, params={"tdMode": "cross"})
            assert okx.fetch_order(o["id"], SYM)["status"] == "closed"
        k += 1
    m = sim.market
    n = len(m._ts)
    assert all(len(c) == n for c in _columns(m)) and bool(np.all(np.diff(m._ts) == m.step_ms))
    assert m.end_ms > sim.clock.now_ms()
    # Prices stay plausible after months (the walk is pulled toward its anchor).
    assert 0.2 < m.price_at(sim.clock.now_ms()) / 65000.0 < 5


def test_lazy_extension_is_deterministic_and_safe_under_concurrent_readers():
    """Readers on several threads while the market grows day by day: the same bars as a market
    extended in one go on one thread (the race lost a day of one column: IndexError ever after)."""
    from cockpit.sim.market import GeneratedMarket

    kw = dict(seed=7, start_ms=1_767_225_600_000, history_days=2, start_price=65000.0)
    m = GeneratedMarket(**kw)
    now = [kw["start_ms"]]
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader(tf_ms: int) -> None:
        try:
            while not stop.is_set():
                t = now[0]
                m.candles(tf_ms, t, limit=5)
                m.price_at(t)
                m.mark_price(t)
                list(m.segments(t - 3 * H, t))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(tf,)) for tf in (900_000, H, 4 * H, DAY)]
    for th in threads:
        th.start()
    try:
        for _ in range(60):
            now[0] += DAY // 2 + 17 * 60_000
            m.ensure(now[0])
    finally:
        stop.set()
        for th in threads:
            th.join()
    assert not errors, errors
    ref = GeneratedMarket(**kw)
    ref.ensure(now[0])
    assert len(m._ts) == len(ref._ts)
    for a, b in zip(_columns(m), _columns(ref)):
        assert np.array_equal(a, b)
    # Incremental candle aggregation equals aggregation from scratch.
    for tf in (900_000, H, 4 * H, DAY):
        assert m.candles(tf, now[0], limit=300) == ref.candles(tf, now[0], limit=300)


def test_concurrent_http_clients_across_day_boundaries(cfg, sim):
    """Four ccxt clients at once while the clock jumps across ~40 day boundaries: no 50026."""
    from cockpit.market.exchange import make_exchange

    errors: list[str] = []
    stop = threading.Event()
    served = [0]
    cond = threading.Condition()

    def client(kind: int) -> None:
        x = make_exchange(cfg, mode="sim", rest_url=sim.url, credentials=sim.credentials, for_tests=True)
        x.load_markets()
        while not stop.is_set():
            try:
                if kind == 0:
                    x.fetch_ticker(SYM)
                elif kind == 1:
                    x.fetch_ohlcv(SYM, "15m", limit=50)
                elif kind == 2:
                    x.fetch_ohlcv(SYM, "4h", limit=50)
                else:
                    x.fetch_positions([SYM])
            except ccxt.BaseError as e:
                errors.append(str(e)[:200])
            with cond:
                served[0] += 1
                cond.notify_all()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    try:
        for _ in range(80):
            sim.clock.advance(DAY // 2)
            with cond:  # the clients (not this thread) reach each new day: wait for a few answers
                target = served[0] + 4
                cond.wait_for(lambda: served[0] >= target or errors, timeout=30)
    finally:
        stop.set()
        for th in threads:
            th.join()
    assert not errors, errors[:3]
    m = sim.market
    assert all(len(c) == len(m._ts) for c in _columns(m)) and bool(np.all(np.diff(m._ts) > 0))


@pytest.fixture
def replay(cfg, tmp_path):
    """A three-day 1h replay, the clock at its end (speed 0)."""
    import pandas as pd

    from cockpit.sim import start_simulator

    t0 = 1_767_225_600_000
    n = 72
    close = 65000 + 50 * np.sin(np.arange(n) / 5)
    df = pd.DataFrame(
        {
            "timestamp": t0 + np.arange(n) * H,
            "open": close - 5,
            "high": close + 30,
            "low": close - 30,
            "close": close,
            "volume": 10.0,
        }
    )
    path = tmp_path / "replay.csv"
    df.to_csv(path, index=False)
    end = t0 + n * H
    handle = start_simulator({**cfg["sim"], "replay_csv": str(path)}, speed=0, start_ms=end - 6 * H)
    yield handle, end
    handle.stop()


def test_replay_answers_clearly_at_the_end_of_its_file(cfg, replay):
    from cockpit.market.exchange import make_exchange

    sim, end = replay
    x = make_exchange(cfg, mode="sim", rest_url=sim.url, credentials=sim.credentials, for_tests=True)
    x.load_markets()
    x.set_leverage(5, SYM, params={"mgnMode": "cross"})
    x.create_order(SYM, "market", "buy", 10, params={"tdMode": "cross"})
    sim.clock.advance(6 * H)  # exactly the end: still answers
    assert x.fetch_ticker(SYM)["timestamp"] == end
    assert x.fetch_ohlcv(SYM, "1h", limit=2)[-1][0] == end - H
    funding_bills = len([b for b in sim.exchange.bills if b.type == "funding"])
    sim.clock.advance(2 * DAY)  # past the end
    for call in (
        lambda: x.fetch_ticker(SYM),
        lambda: x.fetch_ohlcv(SYM, "1h", limit=2),
        lambda: x.fetch_positions([SYM]),
        lambda: x.create_order(SYM, "market", "sell", 1),
    ):
        with pytest.raises(ccxt.OnMaintenance, match="replay ended"):
            call()
    assert x.fetch_time() == end + 2 * DAY  # the clock itself still answers
    # The account was settled up to the end once, however often it was asked after it.
    assert len([b for b in sim.exchange.bills if b.type == "funding"]) == funding_bills
    assert sim.exchange.t == end
    assert sim.state.summary()["market_ended"]
