"""The candles chart: exact size, candle glyphs and colours, levels on the axis, overlays under candles."""

from __future__ import annotations

import numpy as np
import pytest

from cockpit.ui import chart


def arrays(o, h, l, c):  # noqa: E741
    n = len(o)
    return {
        "timestamp": np.arange(n, dtype=float) * 3_600_000,
        "open": np.array(o, float),
        "high": np.array(h, float),
        "low": np.array(l, float),
        "close": np.array(c, float),
        "volume": np.ones(n),
    }


def walk(n: int, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    opens = np.concatenate([[close[0]], close[:-1]])
    return arrays(opens, np.maximum(opens, close) * 1.002, np.minimum(opens, close) * 0.998, close)


BARE = chart.View(volume=False)  # the price plot alone over all rows but the time axis


def plot(t, h: int, view=BARE) -> list[str]:
    """The price rows of a built chart (without the volume strip and the time axis)."""
    return t.plain.split("\n")[: chart.layout(h, view)[0]]


def cells(t, row: int, col: int) -> tuple[str, str]:
    """(character, style) at a cell of the built Text."""
    lines = t.split("\n")
    line = lines[row]
    ch = line.plain[col]
    styles = [str(s.style) for s in line.spans if s.start <= col < s.end]
    return ch, " ".join(styles)


@pytest.mark.parametrize("w,h", [(160, 30), (80, 10), (25, 5), (12, 4), (5, 2)])
def test_exact_size_whatever_the_window(w, h):
    for data in (walk(300), walk(3), arrays([], [], [], [])):
        t = chart.build(data, {"entry": 60_000, "SL": 10_000, "TP": 90_000}, "1h", w, h)
        lines = t.plain.split("\n")
        assert len(lines) == h
        assert all(len(x) == w for x in lines), {len(x) for x in lines}


def test_empty_database_says_so():
    t = chart.build(arrays([], [], [], []), {}, "4h", 60, 10)
    assert "no 4h candles in the database yet" in t.plain


def test_one_column_per_candle_newest_right_and_coloured_by_direction():
    # Two candles on a 100..200 range: a rising one then a falling one.
    data = arrays([110, 190], [200, 195], [100, 105], [190, 120])
    w, h = 40, 12
    t = chart.build(data, {}, "1h", w, h, BARE)
    pw = w - chart.AXIS
    lines = plot(t, h)
    rising, falling = [ln[pw - 2] for ln in lines], [ln[pw - 1] for ln in lines]
    assert "┃" in rising and "┃" in falling
    # The rising body spans 110..190, the falling one 120..190: the rising one reaches lower.
    assert max(i for i, ch in enumerate(rising) if ch in "┃╻╽") > max(i for i, ch in enumerate(falling) if ch in "┃╻╽")
    row = next(i for i, ch in enumerate(rising) if ch == "┃")
    assert "green" in cells(t, row, pw - 2)[1]
    row = next(i for i, ch in enumerate(falling) if ch == "┃")
    assert "red" in cells(t, row, pw - 1)[1]
    # Wicks: the rising candle's low (100) is below both bodies, drawn light.
    assert rising[-1] in "│╵╷" or rising[-2] in "│╵╷"


def test_levels_are_dashed_lines_labelled_on_the_axis_and_far_ones_pinned():
    data = walk(120)
    lo, hi = float(data["low"][-100:].min()), float(data["high"][-100:].max())
    entry = (lo + hi) / 2
    t = chart.build(data, {"entry": entry, "SL": lo - 10 * (hi - lo), "TP": None}, "1h", 120, 30, BARE)
    plain = t.plain
    entry_line = next(ln for ln in plain.split("\n") if "E " in ln[-chart.AXIS :])
    assert "╌" in entry_line
    assert f"{entry:,.0f}"[:4] in entry_line[-chart.AXIS :]
    last = plot(t, 30)[-1]
    assert "SL▼" in last, "a stop far below the candles is pinned to the bottom edge with an arrow"
    assert "TP" not in plain


def test_last_price_is_marked_on_the_axis():
    data = walk(80)
    w = 100
    t = chart.build(data, {}, "1h", w, 20)
    marked = [
        (i, ln[w - chart.AXIS + 1 :].strip())
        for i, ln in enumerate(t.plain.split("\n"))
        if "reverse" in cells(t, i, w - chart.AXIS + 1)[1]
    ]
    assert len(marked) == 1
    last = float(data["close"][-1])
    assert abs(float(marked[0][1].replace(",", "")) - last) <= 1.0
    # Coloured like the last candle.
    colour = "green" if data["close"][-1] >= data["open"][-1] else "red"
    assert colour in cells(t, marked[0][0], w - chart.AXIS + 1)[1]


def test_overlays_are_drawn_but_never_cover_a_candle(monkeypatch):
    data = walk(200)
    lo, hi = float(data["low"].min()), float(data["high"].max())
    # Levels just outside every price fix the same vertical range for both builds.
    lv = {"entry": lo - 0.2 * (hi - lo), "TP": hi + 0.2 * (hi - lo)}
    with_overlays = plot(chart.build(data, lv, "1h", 120, 30, BARE), 30)
    monkeypatch.setattr(chart, "overlays", lambda close, view=None: [])
    bare = plot(chart.build(data, lv, "1h", 120, 30, BARE), 30)
    pw = 120 - chart.AXIS
    glyphs = set("┃╿╽╹╻│╵╷")
    drawn = 0
    for a, b in zip(with_overlays, bare):
        for x in range(pw):
            if b[x] in glyphs:
                assert a[x] == b[x], "an overlay replaced a candle cell"
            elif a[x] != b[x]:
                assert a[x] in "─·"
                drawn += 1
    assert drawn > pw, "EMA and Bollinger lines are drawn across the chart"
    assert sum(ch in glyphs for ln in bare for ch in ln[:pw]) >= pw - 1, "every visible candle draws a cell"


def test_a_level_at_the_last_price_keeps_its_label_next_to_it():
    data = walk(120)
    last = float(data["close"][-1])
    t = chart.build(data, {"entry": last}, "1h", 100, 24, BARE)
    axis = [ln[100 - chart.AXIS + 1 :].strip() for ln in plot(t, 24)]
    entry_rows = [i for i, a in enumerate(axis) if a.startswith("E ")]
    last_rows = [
        i
        for i, a in enumerate(axis)
        if a and abs(float(a.split()[-1].replace(",", "")) - last) <= 1.0 and not a.startswith("E ")
    ]
    assert entry_rows and last_rows
    assert abs(entry_rows[0] - last_rows[0]) == 1


def test_crowded_level_labels_read_in_price_order():
    # A daily chart on a short pane: the entry and the stop sit just below the last price, in its row.
    data = walk(120)
    last = float(data["close"][-1])
    lo, hi = float(data["low"][-60:].min()), float(data["high"][-60:].max())
    per_row = (hi - lo) / 6
    lv = {"entry": last - 0.1 * per_row, "SL": last - 0.3 * per_row, "TP": last + 0.2 * per_row}
    t = chart.build(data, lv, "1d", 80, 8, BARE)
    axis = [ln[80 - chart.AXIS + 1 :].strip() for ln in plot(t, 8)]
    named = [a for a in axis if a]
    prices = [float(a.split()[-1].replace(",", "")) for a in named]
    assert sum(a.startswith(("E ", "SL ", "TP ")) for a in named) == 3, named
    assert prices == sorted(prices, reverse=True), f"axis labels out of price order: {named}"


# ------------------------------------------------------------------ volume, fills, time axis, cursor, labels


def test_volume_is_drawn_under_the_candles_scaled_to_the_largest():
    data = walk(60)
    data["volume"] = np.full(60, 10.0)
    data["volume"][-5] = 40.0  # the loudest bar
    w, h = 80, 24
    t = chart.build(data, {}, "1h", w, h)
    ph, vr, strip, _ = chart.layout(h)
    assert strip and vr >= 2 and ph >= 12
    vol = t.plain.split("\n")[ph : ph + vr]
    pw = w - chart.AXIS
    top = vol[0][:pw]
    assert top[pw - 5] == "█" and top.count("█") == 1, "only the loudest bar reaches the top of the strip"
    assert all(ch in chart._EIGHTHS for ln in vol for ch in ln[:pw])
    assert "V 40" in vol[0][pw:]


def test_a_short_chart_keeps_its_price_rows_and_shares_them_with_volume():
    ph, vr, strip, axis = chart.layout(13)  # the chart's inner height at 80x24
    assert (ph, axis, strip) == (12, 1, False) and vr > 0


def test_fills_are_marked_on_their_candles_buys_under_sells_over_exits_hollow():
    data = walk(60)
    ts = data["timestamp"]
    fills = [
        {"timestamp": int(ts[-20]) + 60_000, "side": "buy", "price": 1.0, "amount": 0.1},
        {"timestamp": int(ts[-8]) + 60_000, "side": "sell", "price": 1.0, "amount": 0.1, "reduce_only": True},
    ]
    w, h = 80, 24
    t = chart.build(data, {}, "1h", w, h, chart.View(volume=False), fills, 3_600_000)
    lines = plot(t, h, chart.View(volume=False))
    pw = w - chart.AXIS
    buy_col, sell_col = [ln[pw - 20] for ln in lines], [ln[pw - 8] for ln in lines]
    assert buy_col.count("▲") == 1 and sell_col.count("▽") == 1
    body = [i for i, ch in enumerate(buy_col) if ch in "┃╿╽╹╻│╵╷"]
    assert buy_col.index("▲") > max(body), "a buy sits under its candle"
    body = [i for i, ch in enumerate(sell_col) if ch in "┃╿╽╹╻│╵╷"]
    assert sell_col.index("▽") < min(body), "a sell sits over its candle"
    assert "green" in cells(t, buy_col.index("▲"), pw - 20)[1] and "red" in cells(t, sell_col.index("▽"), pw - 8)[1]
    assert sum(ln[:pw].count(m) for ln in lines for m in "▲▼△▽") == 2, "no marker for a bar without fills"


def test_time_axis_has_dated_ticks_at_day_changes():
    data = walk(100)
    data["timestamp"] = data["timestamp"] + 1_768_435_200_000  # 2026-01-15 00:00 UTC
    w = 100
    axis_line = chart.build(data, {}, "1h", w, 24).plain.split("\n")[-1]
    pw = w - chart.AXIS
    assert "Jan 15" in axis_line and "Jan 16" in axis_line and axis_line[pw:].startswith("└UTC")
    # Each dated tick stands under the first bar of its day.
    x0 = pw - 100
    for day, label in ((1, "Jan 16"), (2, "Jan 17")):
        col = x0 + day * 24
        if col >= 0 and label in axis_line:
            assert axis_line[col : col + 1 + len(label)] == "╵" + label


def test_cursor_bar_reads_out_its_ohlcv_and_fills():
    data = walk(60)
    data["timestamp"] = data["timestamp"] + 1_768_435_200_000
    fills = [{"timestamp": int(data["timestamp"][-3]) + 5, "side": "buy", "price": 61_000.0, "amount": 0.12}]
    view = chart.View(cursor=2, volume=False)
    assert "▲0.12@61,000" in chart.readout(data, 80, view, fills, 3_600_000), "narrow: the same, tighter"
    text = chart.readout(data, 120, view, fills, 3_600_000)
    i = -3
    stamp = chart.bar_time(int(data["timestamp"][i]), 3_600_000)
    assert text.startswith(f"[b]{stamp}[/b]")
    for k, tag in (("open", "O"), ("high", "H"), ("low", "L")):
        assert f"{tag} {float(data[k][i]):,.0f}"[:6] in text
    assert "buy 0.12 @61,000" in text and "entry" in text
    t = chart.build(data, {}, "1h", 80, 24, view, fills, 3_600_000)
    pw = 80 - chart.AXIS
    assert any(ln[pw - 3] == "┊" for ln in plot(t, 24, view)), "the cursor bar is drawn as a dotted column"
    assert stamp in t.plain.split("\n")[-1], "the time axis shows the cursor bar's time"


def test_scroll_back_and_forward_through_the_loaded_candles():
    data = walk(300)
    ts = data["timestamp"]
    v = chart.scrolled(chart.View(), data, 10, 3_600_000)
    assert v.end == int(ts[-11])
    assert chart.window(data, 80, v)["timestamp"][-1] == ts[-11]
    assert chart.scrolled(v, data, -10, 3_600_000).end is None, "back at the newest candle the view follows it"
    far = chart.scrolled(chart.View(), data, 400, 3_600_000)
    assert far.end < int(ts[0]), "beyond the loaded candles the end is estimated for the poll to read"


def test_zoom_merges_candles_on_the_calendar_or_spreads_them():
    data = walk(64)
    data["timestamp"] = data["timestamp"] + 1_768_435_200_000
    m = chart.merged(data, 4)
    assert len(m["timestamp"]) == 16 and all(int(x) % (4 * 3_600_000) == 0 for x in m["timestamp"])
    assert m["high"][0] == data["high"][:4].max() and m["low"][0] == data["low"][:4].min()
    assert m["open"][0] == data["open"][0] and m["close"][0] == data["close"][3]
    assert m["volume"][0] == data["volume"][:4].sum()
    assert chart.bars_shown(91, chart.View(zoom=-1)) == 40 and chart.bars_shown(91) == 80


def test_named_labels_keep_price_order_when_the_take_profit_is_pinned_over_a_crowded_top():
    # The last price at the top of the range, entry and stop just under it, the take-profit far above
    # (pinned at the top): the old placement pushed TP down past the stop.
    data = walk(120)
    last = float(data["close"][-1])
    data["high"][-1] = data["close"][-1] = max(data["high"]) + 1
    last = float(data["close"][-1])
    lo, hi = float(data["low"][-60:].min()), last
    per_row = (hi - lo) / 10
    lv = {"entry": last - 1.0 * per_row, "SL": last - 2.0 * per_row, "TP": last + 50 * per_row}
    for h in (13, 10, 8):
        t = chart.build(data, lv, "1h", 78, h, BARE)
        axis = [ln[78 - chart.AXIS + 1 :].strip() for ln in plot(t, h)]
        named = [a for a in axis if a]
        tags = [a.split()[0] for a in named if a.startswith(("E", "SL", "TP"))]
        assert tags == ["TP▲", "E", "SL"], (h, named)
        prices = [float(a.split()[-1].replace(",", "")) for a in named]
        assert prices == sorted(prices, reverse=True), named


def test_level_labels_sit_on_their_lines():
    data = walk(120)
    lo, hi = float(data["low"][-69:].min()), float(data["high"][-69:].max())
    lv = {"entry": lo + 0.5 * (hi - lo), "SL": lo + 0.1 * (hi - lo), "TP": lo + 0.9 * (hi - lo)}
    t = chart.build(data, lv, "1h", 80, 13)
    lines = t.plain.split("\n")
    for tag in ("TP ", "E ", "SL "):
        row = next(i for i, ln in enumerate(lines) if ln[80 - chart.AXIS + 1 :].startswith(tag))
        assert "╌" in lines[row][: 80 - chart.AXIS], f"{tag.strip()} label is not on its line"


def test_a_view_before_the_loaded_candles_says_it_is_reading_them():
    data = walk(50)
    t = chart.build(data, {}, "1h", 80, 20, chart.View(end=int(data["timestamp"][0]) - 10 * 3_600_000))
    assert "reading older candles" in t.plain and "no 1h candles" not in t.plain
