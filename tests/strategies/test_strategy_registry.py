"""Registry from config, parameter validation errors, the on-chain input, and `cockpit strategies`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cockpit.cli import main
from cockpit.config import STRATEGY_NAMES, ConfigError, defaults, load_config
from cockpit.strategies import all_strategies, build_strategies, get_strategy
from cockpit.strategies.library import STRATEGY_CLASSES

REPO = Path(__file__).resolve().parents[2]


def test_library_covers_the_config_names_and_defaults_agree():
    assert tuple(STRATEGY_CLASSES) == STRATEGY_NAMES
    d = defaults()["strategies"]
    for name, cls in STRATEGY_CLASSES.items():
        assert d[name]["params"] == cls.default_params(), name
        assert (cls.__doc__ or "").strip(), f"{name} has no rules docstring"
    assert "no spot leg" in STRATEGY_CLASSES["funding_rate"].__doc__


def test_config_yaml_lists_every_parameter_with_its_default():
    cfg = load_config(REPO / "config.yaml", environ={})
    for name, cls in STRATEGY_CLASSES.items():
        assert cfg["strategies"][name]["params"] == cls.default_params(), name


def test_build_strategies_returns_the_enabled_ones(cfg):
    enabled = [s.name for s in build_strategies(cfg)]
    assert enabled == [n for n in STRATEGY_NAMES if cfg["strategies"][n]["enabled"]]
    assert "onchain" not in enabled


@pytest.mark.parametrize(
    "override,path,fragment",
    [
        ({"strategies.ema_trend.params.fast": 0}, "strategies.ema_trend.params.fast", "from 2 to 200"),
        ({"strategies.ema_trend.params.fast": 40}, "strategies.ema_trend.params.fast", "below slow"),
        ({"strategies.momentum.params.rsi_long": "high"}, "strategies.momentum.params.rsi_long", "a number"),
        ({"strategies.grid.params.levels": 2.5}, "strategies.grid.params.levels", "whole number"),
        ({"strategies.breakout.params.lenght": 20}, "strategies.breakout.params.lenght", "unknown parameter"),
        (
            {"strategies.time_cycle.params.trade_weekends": 1},
            "strategies.time_cycle.params.trade_weekends",
            "true or false",
        ),
        (
            {"strategies.onchain.params.bullish_when": "up"},
            "strategies.onchain.params.bullish_when",
            "one of low, high",
        ),
    ],
)
def test_bad_parameter_is_a_config_error_naming_the_key(override, path, fragment):
    with pytest.raises(ConfigError) as e:
        load_config(None, environ={}, overrides=override)
    assert e.value.path == path and fragment in str(e.value)
    assert str(e.value).startswith(path)


def test_partial_params_keep_the_other_defaults():
    cfg = load_config(None, environ={}, overrides={"strategies.ema_trend.params": {"fast": 8}})
    s = next(s for s in build_strategies(cfg) if s.name == "ema_trend")
    assert s.params == {**STRATEGY_CLASSES["ema_trend"].default_params(), "fast": 8}


def test_onchain_is_disabled_with_a_reason_until_input_exists(tmp_path):
    cfg = load_config(None, environ={}, overrides={"strategies.onchain.enabled": True})
    e = next(e for e in all_strategies(cfg) if e.name == "onchain")
    assert not e.enabled and e.disabled_reason == "off: no input configured (strategies.onchain.input_csv)"
    missing = tmp_path / "nope.csv"
    cfg = load_config(
        None, environ={}, overrides={"strategies.onchain.enabled": True, "strategies.onchain.input_csv": str(missing)}
    )
    e = next(e for e in all_strategies(cfg) if e.name == "onchain")
    assert not e.enabled and "not found" in e.disabled_reason
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n1,abc\n")
    cfg = load_config(
        None, environ={}, overrides={"strategies.onchain.enabled": True, "strategies.onchain.input_csv": str(bad)}
    )
    e = next(e for e in all_strategies(cfg) if e.name == "onchain")
    assert not e.enabled and "line 2" in e.disabled_reason


def test_onchain_reads_its_csv_and_signals(tmp_path):
    t0 = 1_704_067_200_000
    p = tmp_path / "netflow.csv"
    rows = [(t0 + i * 3_600_000, 10.0) for i in range(40)] + [(t0 + 40 * 3_600_000, 60.0)]
    p.write_text("timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in rows))
    # the candles below are hourly: decide hourly so the on-chain series is aligned to 1h bar closes
    cfg = load_config(
        None,
        environ={},
        overrides={
            "decision_timeframe": "1h",
            "strategies.onchain.enabled": True,
            "strategies.onchain.input_csv": str(p),
        },
    )
    e = next(e for e in all_strategies(cfg) if e.name == "onchain")
    assert e.enabled and e.disabled_reason is None
    n = 45
    c = 100 + np.arange(n, dtype=float)
    a = {
        "timestamp": t0 + np.arange(n, dtype=np.int64) * 3_600_000,
        "open": c - 1,
        "high": c + 1,
        "low": c - 2,
        "close": c,
        "volume": np.ones(n),
    }
    fr = e.strategy.generate(a)
    # bar 38 closes at hour 39, before the spike; bar 39 closes at hour 40, when the spike is stamped
    assert fr.direction[38] == 0
    assert fr.direction[39] == -1 and fr.direction[44] == -1  # high inflow: bearish by default
    assert "unusually high" in fr.signal_at(39, "onchain").reason


def test_get_strategy_rejects_unknown_names():
    with pytest.raises(ConfigError):
        get_strategy("martingale")
    assert get_strategy("breakout", {"period": 55}).params["period"] == 55


def test_cli_strategies_json(capsys):
    assert main(["--config", str(REPO / "config.yaml"), "strategies", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(STRATEGY_NAMES)
    on = {r["name"]: r for r in rows}
    # the shipped config decides on daily bars (issue 18): every strategy reads the decision timeframe
    assert on["ema_trend"]["enabled"] is True and on["ema_trend"]["required_timeframes"] == ["1d"]
    assert on["trend_core"]["enabled"] is True and on["trend_core"]["required_timeframes"] == ["1d"]
    assert on["ema_trend"]["params"]["fast"] == 12
    assert on["onchain"]["enabled"] is False and "no input configured" in on["onchain"]["disabled_reason"]


def test_cli_strategies_table_and_bad_config(capsys, tmp_path):
    assert main(["--config", str(REPO / "config.yaml"), "strategies", "--rules"]) == 0
    out = capsys.readouterr().out
    assert "ema_trend" in out and "no input configured" in out and "| Long while" in out
    bad = tmp_path / "c.yaml"
    bad.write_text("strategies:\n  breakout:\n    params: {period: 1}\n")
    assert main(["--config", str(bad), "strategies"]) == 2
    assert "strategies.breakout.params.period" in capsys.readouterr().err


def test_cli_signals_and_report_from_the_database(tmp_path, capsys):
    db = tmp_path / "c.db"
    csv = tmp_path / "c.csv"
    t0 = 1_704_067_200_000
    rng = np.random.default_rng(3)
    c = 40000 * np.exp(np.cumsum(rng.normal(0.001, 0.004, 300)))
    with csv.open("w") as fh:
        fh.write("timestamp,open,high,low,close,volume\n")
        prev = c[0]
        for i, x in enumerate(c):
            fh.write(f"{t0 + i * 3_600_000},{prev},{max(prev, x) * 1.001},{min(prev, x) * 0.999},{x},5\n")
            prev = x
    # the planted candles are hourly: decide hourly (the shipped default is 1d)
    cfg = tmp_path / "hourly.yaml"
    text = (REPO / "config.yaml").read_text()
    assert "\ndecision_timeframe: 1d " in text
    cfg.write_text(text.replace("\ndecision_timeframe: 1d ", "\ndecision_timeframe: 1h ", 1))
    base = ["--config", str(cfg), "--db", str(db)]
    assert main(base + ["strategies", "--signals"]) == 1
    assert "no BTC/USDT:USDT 1h candles" in capsys.readouterr().err
    assert main(base + ["ingest", "--csv", str(csv), "--timeframe", "1h"]) == 0
    capsys.readouterr()
    assert main(base + ["strategies", "--signals", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bar_open_ms"] == t0 + 299 * 3_600_000
    sig = {s["name"]: s for s in out["signals"]}
    assert sig["ema_trend"]["direction"] == "long" and sig["ema_trend"]["stop_loss"] < sig["ema_trend"]["entry"]
    assert sig["onchain"]["enabled"] is False
    assert main(base + ["strategies", "--report", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)["technical_analysis"]
    assert rep["primary_timeframe"] == "1h" and rep["timeframes"]["1h"]["bars"] == 300
    # For people: a table with dates, not JSON and not epoch milliseconds.
    assert main(base + ["strategies", "--report"]) == 0
    text = capsys.readouterr().out
    assert not text.lstrip().startswith("{") and "RSI 14" in text and "EMA200" in text
    assert "bar opened at 2024-01-13 11:00 UTC" in text and str(t0 + 299 * 3_600_000) not in text
    assert main(base + ["strategies", "--signals"]) == 0
    text = capsys.readouterr().out
    assert "ema_trend" in text and "bar opened at 2024-01-13 11:00 UTC" in text and " ms" not in text
