"""Config loading: defaults, file, environment overrides, and errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.config import SCHEMA, ConfigError, _validate, defaults, load_config

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_repo_config_yaml_equals_built_in_defaults():
    from_file = load_config(REPO / "config.yaml", environ={})
    from_file.pop("_source")
    built_in = _validate(SCHEMA, {}, "")
    built_in["database"]["url"] = "sqlite:///data/cockpit-sim.db"  # derived from exchange.mode when null
    # presets fill llm fields only when a provider is chosen; default provider is none
    assert from_file == {**built_in}


def test_every_schema_key_is_in_config_yaml_with_a_comment():
    text = (REPO / "config.yaml").read_text(encoding="utf-8")

    def walk(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from walk(v, prefix + k + ".")
            else:
                yield prefix + k, k

    lines = text.splitlines()
    for path, key in walk(defaults()):
        if path.startswith("strategies."):
            continue  # strategy params are inline mappings; their sections carry the comment
        hits = [l for l in lines if l.strip().startswith(f"{key}:")]
        assert hits, f"{path} missing from config.yaml"
        assert any("#" in l for l in hits), f"{path} has no comment in config.yaml"


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("risk:\n  max_leverage: abc\n", "risk.max_leverage: expected a number from 1 to 125, got 'abc'"),
        ("risk:\n  max_leverage: 500\n", "risk.max_leverage: expected a number from 1 to 125, got 500"),
        ("exchange:\n  mode: binance\n", "exchange.mode: expected one of sim, okx-demo, okx-live, got 'binance'"),
        (
            "execution:\n  approval: yolo\n",
            "execution.approval: expected one of manual, auto_within_limits, auto, got 'yolo'",
        ),
        ("risk:\n  max_levrage: 3\n", "risk.max_levrage: unknown key; allowed keys here: max_leverage,"),
        ("colour: red\n", "colour: unknown key; allowed keys here: symbol,"),
        ("timeframes: [1h, 7m]\n", "timeframes[1]: expected one of"),
        ("risk:\n  require_stop_loss: 'yes'\n", "risk.require_stop_loss: expected true or false, got 'yes'"),
        ("decision_timeframe: 1d\ntimeframes: [1h]\n", "decision_timeframe: expected one of the configured timeframes"),
        ("llm:\n  provider: openai-compatible\n", "llm.base_url: required when llm.provider is 'openai-compatible'"),
        ("execution:\n  leverage: 10\n", "execution.leverage: expected at most risk.max_leverage (3)"),
        ("risk: [1, 2]\n", "risk: expected a mapping"),
        ("strategies:\n  ema_trend:\n    enabled: 1\n", "strategies.ema_trend.enabled: expected true or false"),
        (
            "strategies:\n  macd_magic:\n    enabled: true\n",
            "strategies.macd_magic: unknown key; allowed keys here: ema_trend",
        ),
        ("risk:\n  max_leverage: .nan\n", "risk.max_leverage: expected a number from 1 to 125"),
        (
            "engine:\n  history_bars: 300\n",
            "engine.history_bars: expected at least regime.vol_lookback + regime.vol_window (524)",
        ),
    ],
)
def test_bad_values_name_key_value_and_allowed(tmp_path, yaml_text, message):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, yaml_text), environ={})
    assert message in str(e.value)


def test_invalid_yaml_names_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_config(write(tmp_path, "risk:\n  max_leverage: 3\n  : bad: [\n"), environ={})


def test_env_overrides_are_typed_and_validated(tmp_path):
    p = write(tmp_path, "risk:\n  max_leverage: 3\n")
    cfg = load_config(p, environ={"COCKPIT__RISK__MAX_LEVERAGE": "2", "COCKPIT__EXCHANGE__MODE": "okx-demo"})
    assert cfg["risk"]["max_leverage"] == 2.0
    assert cfg["exchange"]["mode"] == "okx-demo"
    with pytest.raises(ConfigError, match="risk.max_leverage: expected a number from 1 to 125, got 'lots'"):
        load_config(p, environ={"COCKPIT__RISK__MAX_LEVERAGE": "lots"})
    with pytest.raises(ConfigError, match="risk.nope: unknown key"):
        load_config(p, environ={"COCKPIT__RISK__NOPE": "1"})


def test_llm_presets_fill_only_missing_fields(tmp_path):
    cfg = load_config(write(tmp_path, "llm:\n  provider: deepseek\n"), environ={})
    assert cfg["llm"]["model"] == "deepseek-chat"
    assert cfg["llm"]["base_url"] == "https://api.deepseek.com"
    assert cfg["llm"]["api_key_env"] == "DEEPSEEK_API_KEY"
    cfg = load_config(write(tmp_path, "llm:\n  provider: qwen\n  model: qwen-max\n"), environ={})
    assert cfg["llm"]["model"] == "qwen-max"
    assert "dashscope" in cfg["llm"]["base_url"]


def test_cli_exits_2_with_one_line_naming_the_key(tmp_path):
    p = write(tmp_path, "risk:\n  max_leverage: abc\n")
    r = subprocess.run(
        [sys.executable, "-m", "cockpit", "--config", str(p), "--db", str(tmp_path / "x.db"), "db", "stats"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 2
    assert r.stderr.strip() == "cockpit: config error: risk.max_leverage: expected a number from 1 to 125, got 'abc'"
    assert not (tmp_path / "x.db").exists(), "a bad config must not create or touch the database"


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_readme_config_table_names_every_key():
    """README's configuration table stays true: every section and key of the schema is named there."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| section | keys |") :]
    table = table[: table.index("\n\n")]
    missing = []
    for section, spec in defaults().items():
        if not isinstance(spec, dict):
            if f"`{section}`" not in table:
                missing.append(section)
            continue
        if f"`{section}`" not in table and f"`{section}.<name>`" not in table:
            missing.append(section)
        if section == "strategies":
            continue
        missing += [f"{section}.{k}" for k in spec if f"`{k}`" not in table]
    assert not missing, f"README config table lacks: {missing}"


def test_repeated_block_is_an_error_naming_key_and_line(tmp_path):
    """A second `risk:` block used to replace the first silently (plain YAML keeps the last)."""
    p = write(tmp_path, "risk:\n  max_leverage: 2\nexecution:\n  approval: manual\nrisk:\n  max_leverage: 5\n")
    with pytest.raises(ConfigError) as e:
        load_config(p, environ={})
    assert "duplicate key 'risk' at line 5 (first at line 1)" in str(e.value)
    p = write(tmp_path, "risk:\n  max_leverage: 2\n  max_leverage: 3\n")
    with pytest.raises(ConfigError, match="duplicate key 'max_leverage' at line 3"):
        load_config(p, environ={})


def test_only_btc_usdt_swap_is_accepted(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "symbol: ETH/USDT:USDT\n"), environ={})
    assert str(e.value) == (
        "symbol: only BTC/USDT:USDT is supported (sizing, the simulator and the cost model "
        "assume it), got 'ETH/USDT:USDT'"
    )
    assert load_config(write(tmp_path, "symbol: BTC/USDT:USDT\n"), environ={})["symbol"] == "BTC/USDT:USDT"


def test_default_database_follows_the_venue(tmp_path):
    p = write(tmp_path, "risk:\n  max_leverage: 3\n")
    assert load_config(p, environ={})["database"]["url"] == "sqlite:///data/cockpit-sim.db"
    demo = load_config(p, environ={"COCKPIT__EXCHANGE__MODE": "okx-demo"})
    assert demo["database"]["url"] == "sqlite:///data/cockpit-okx-demo.db"
    live = load_config(write(tmp_path, "exchange:\n  mode: okx-live\n"), environ={})
    assert live["database"]["url"] == "sqlite:///data/cockpit-okx-live.db"
    assert (
        load_config(p, environ={}, overrides={"database.url": "sqlite:///x.db"})["database"]["url"] == "sqlite:///x.db"
    )


def test_byte_order_mark_in_config_is_accepted(tmp_path):
    p = tmp_path / "bom.yaml"
    p.write_bytes("\ufeffrisk:\n  max_leverage: 2\n".encode("utf-8"))
    assert load_config(p, environ={})["risk"]["max_leverage"] == 2.0
