"""Incremental indicators: ``update`` with one new bar in O(1) (amortised), for live use.

They give the same numbers as the vectorised functions in :mod:`cockpit.indicators.core` fed the
same bars from the same start (tests/indicators check 10,000 bars), NaN during the same warm-up.
Rolling sums are kept around a reference value and recomputed from the window every ``w`` bars, so
floating-point drift stays bounded however long the stream runs.
"""

from __future__ import annotations

import math
from collections import deque

NAN = float("nan")


class _Window:
    """The last ``w`` values with their mean and population variance."""

    def __init__(self, w: int) -> None:
        self.w = w
        self.buf: deque[float] = deque()
        self.ref = 0.0
        self.s1 = 0.0
        self.s2 = 0.0
        self._since_sync = 0

    def push(self, x: float) -> None:
        if not self.buf:
            self.ref = x
        self.buf.append(x)
        d = x - self.ref
        self.s1 += d
        self.s2 += d * d
        if len(self.buf) > self.w:
            old = self.buf.popleft() - self.ref
            self.s1 -= old
            self.s2 -= old * old
        self._since_sync += 1
        if self._since_sync >= self.w:
            self._resync()

    def _resync(self) -> None:
        self._since_sync = 0
        self.ref = self.buf[0]
        self.s1 = sum(x - self.ref for x in self.buf)
        self.s2 = sum((x - self.ref) ** 2 for x in self.buf)

    @property
    def full(self) -> bool:
        return len(self.buf) >= self.w

    @property
    def mean(self) -> float:
        return self.ref + self.s1 / len(self.buf) if self.full else NAN

    @property
    def var(self) -> float:
        if not self.full:
            return NAN
        m = self.s1 / self.w
        return max(self.s2 / self.w - m * m, 0.0)

    @property
    def sum(self) -> float:
        return self.ref * len(self.buf) + self.s1 if self.full else NAN


class EMA:
    """ewm(span=n, adjust=False) seeded with the first finite value; NaN for the first n-1 values."""

    def __init__(self, n: int, alpha: float | None = None) -> None:
        self.n = n
        self.alpha = 2.0 / (n + 1.0) if alpha is None else alpha
        self.count = 0
        self.y = NAN
        self.value = NAN

    def update(self, x: float) -> float:
        if self.count == 0:
            if not math.isfinite(x):
                return self.value
            self.y = x
        else:
            self.y = self.alpha * x + (1.0 - self.alpha) * self.y
        self.count += 1
        self.value = self.y if self.count >= self.n else NAN
        return self.value


class SMA:
    def __init__(self, n: int) -> None:
        self.win = _Window(n)
        self.value = NAN

    def update(self, x: float) -> float:
        self.win.push(x)
        self.value = self.win.mean
        return self.value


class RSI:
    """Wilder RSI like ``ta`` (averages seeded with 0 at the first bar)."""

    def __init__(self, n: int = 14) -> None:
        self.up = EMA(n, 1.0 / n)
        self.dn = EMA(n, 1.0 / n)
        self.prev = NAN
        self.value = NAN

    def update(self, close: float) -> float:
        d = 0.0 if math.isnan(self.prev) else close - self.prev
        self.prev = close
        au = self.up.update(d if d > 0 else 0.0)
        ad = self.dn.update(-d if d < 0 else 0.0)
        if math.isnan(au):
            self.value = NAN
        else:
            self.value = 100.0 if ad == 0 else 100.0 - 100.0 / (1.0 + au / ad)
        return self.value


class MACD:
    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.fast, self.slow, self.sig = EMA(fast), EMA(slow), EMA(signal)
        self.value = (NAN, NAN, NAN)

    def update(self, close: float) -> tuple[float, float, float]:
        line = self.fast.update(close) - self.slow.update(close)
        s = self.sig.update(line)
        self.value = (line, s, line - s)
        return self.value


class Bollinger:
    def __init__(self, n: int = 20, k: float = 2.0) -> None:
        self.win = _Window(n)
        self.k = k
        self.value = (NAN, NAN, NAN)

    def update(self, close: float) -> tuple[float, float, float]:
        self.win.push(close)
        m = self.win.mean
        sd = math.sqrt(self.win.var) if self.win.full else NAN
        self.value = (m + self.k * sd, m, m - self.k * sd)
        return self.value


class _SeededWilder:
    """Wilder average seeded with the mean of its first n inputs."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self.acc = 0.0
        self.value = NAN

    def update(self, x: float) -> float:
        self.count += 1
        if self.count < self.n:
            self.acc += x
        elif self.count == self.n:
            self.value = (self.acc + x) / self.n
        else:
            self.value += (x - self.value) / self.n
        return self.value


class ATR:
    def __init__(self, n: int = 14) -> None:
        self.avg = _SeededWilder(n)
        self.prev_close = NAN
        self.value = NAN

    def update(self, high: float, low: float, close: float) -> float:
        tr = high - low
        if not math.isnan(self.prev_close):
            tr = max(tr, abs(high - self.prev_close), abs(low - self.prev_close))
        self.prev_close = close
        self.value = self.avg.update(tr)
        return self.value


class ADX:
    """(ADX, +DI, -DI) with Wilder's definitions, like :func:`cockpit.indicators.core.adx`."""

    def __init__(self, n: int = 14) -> None:
        self.n = n
        self.tr, self.up, self.dn = _SeededWilder(n), _SeededWilder(n), _SeededWilder(n)
        self.adx = _SeededWilder(n)
        self.prev: tuple[float, float, float] | None = None
        self.value = (NAN, NAN, NAN)

    def update(self, high: float, low: float, close: float) -> tuple[float, float, float]:
        if self.prev is None:
            self.prev = (high, low, close)
            return self.value
        ph, pl, pc = self.prev
        self.prev = (high, low, close)
        tr = max(high - low, abs(high - pc), abs(low - pc))
        du, dd = high - ph, pl - low
        s_tr = self.tr.update(tr)
        s_up = self.up.update(du if (du > dd and du > 0) else 0.0)
        s_dn = self.dn.update(dd if (dd > du and dd > 0) else 0.0)
        if math.isnan(s_tr):
            return self.value
        pdi = 100.0 * s_up / s_tr if s_tr > 0 else 0.0
        mdi = 100.0 * s_dn / s_tr if s_tr > 0 else 0.0
        dx = 100.0 * abs(pdi - mdi) / (pdi + mdi) if pdi + mdi > 0 else 0.0
        self.value = (self.adx.update(dx), pdi, mdi)
        return self.value


class _MonoDeque:
    """Rolling max (or min) over the last w values in amortised O(1)."""

    def __init__(self, w: int, is_max: bool) -> None:
        self.w = w
        self.sign = 1.0 if is_max else -1.0
        self.q: deque[tuple[int, float]] = deque()
        self.i = -1

    def push(self, x: float) -> float:
        self.i += 1
        v = self.sign * x
        while self.q and self.q[-1][1] <= v:
            self.q.pop()
        self.q.append((self.i, v))
        if self.q[0][0] <= self.i - self.w:
            self.q.popleft()
        return self.sign * self.q[0][1] if self.i >= self.w - 1 else NAN


class Donchian:
    def __init__(self, n: int = 20) -> None:
        self.hi, self.lo = _MonoDeque(n, True), _MonoDeque(n, False)
        self.value = (NAN, NAN, NAN)

    def update(self, high: float, low: float) -> tuple[float, float, float]:
        u, lo = self.hi.push(high), self.lo.push(low)
        self.value = (u, (u + lo) / 2.0, lo)
        return self.value


class OBV:
    def __init__(self) -> None:
        self.prev = NAN
        self.value = 0.0

    def update(self, close: float, volume: float) -> float:
        if not math.isnan(self.prev) and close != self.prev:
            self.value += volume if close > self.prev else -volume
        self.prev = close
        return self.value


class VWAP:
    """Rolling VWAP of the typical price over the last n bars (like ``ta``)."""

    def __init__(self, n: int = 14) -> None:
        self.pv, self.v = _Window(n), _Window(n)
        self.value = NAN

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        tp = (high + low + close) / 3.0
        self.pv.push(tp * volume)
        self.v.push(volume)
        vv = self.v.sum
        self.value = self.pv.sum / vv if vv > 0 else NAN
        return self.value


class RealizedVol:
    def __init__(self, n: int = 24, periods_per_year: float | None = None) -> None:
        self.win = _Window(n)
        self.prev = NAN
        self.scale = math.sqrt(periods_per_year) if periods_per_year else 1.0
        self.value = NAN

    def update(self, close: float) -> float:
        if not math.isnan(self.prev):
            self.win.push(math.log(close / self.prev))
        self.prev = close
        self.value = math.sqrt(self.win.var) * self.scale if self.win.full else NAN
        return self.value


class ZScore:
    """0 for a flat window (std below 1e-12 of max(|mean|, 1)); the vectorised form uses the series'
    largest magnitude for that tolerance, which only matters for windows flat to rounding noise."""

    def __init__(self, n: int = 20) -> None:
        self.win = _Window(n)
        self.value = NAN

    def update(self, x: float) -> float:
        self.win.push(x)
        if not self.win.full:
            self.value = NAN
            return self.value
        m = self.win.mean
        sd = math.sqrt(self.win.var)
        self.value = (x - m) / sd if sd > 1e-12 * max(abs(m), 1.0) else 0.0
        return self.value
