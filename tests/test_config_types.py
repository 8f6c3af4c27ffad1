"""The typed shape of a config (cockpit/domain/settings.py) matches SCHEMA, and mypy holds code to it."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import pytest

from cockpit.config import SCHEMA, Spec, load_config
from cockpit.domain import settings
from cockpit.domain.settings import Config, StrategyConfig

REPO = Path(__file__).resolve().parents[1]
# Keys a loaded config has beyond SCHEMA: where it came from (set by load_config).
EXTRA_KEYS = {"": {"_source"}}
# Nullable in the YAML but always set in a loaded config (load_config fills in the venue's database file).
FILLED_BY_LOAD = {"database.url"}


def is_typeddict(t: Any) -> bool:
    return isinstance(t, type) and typing.is_typeddict(t)


def fits(value: Any, hint: Any) -> bool:
    """Whether a validated value has the declared type (strict: a bool is not an int, an int not a float)."""
    if hint is Any:
        return True
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, h) for h in get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = get_args(hint)
        return isinstance(value, list) and all(fits(x, item) for x in value)
    if origin is dict:
        k, v = get_args(hint)
        return isinstance(value, dict) and all(fits(a, k) and fits(b, v) for a, b in value.items())
    if is_typeddict(hint):
        return isinstance(value, dict)
    if hint is int or hint is float:
        return isinstance(value, hint) and not isinstance(value, bool)
    return isinstance(value, hint)


def allows_none(hint: Any) -> bool:
    return get_origin(hint) in (typing.Union, types.UnionType) and type(None) in get_args(hint)


def compare(schema: dict[str, Any], td: Any, path: str, problems: list[str]) -> None:
    """Every key of the schema section is a key of the TypedDict and the other way round, recursively; a
    nested section is a nested TypedDict; a nullable setting's type allows None."""
    hints = get_type_hints(td)
    where = path or "(top level)"
    extra = EXTRA_KEYS.get(path, set())
    for k in sorted(set(schema) - set(hints)):
        problems.append(f"{where}: {k!r} is in SCHEMA but not in {td.__name__}")
    for k in sorted(set(hints) - set(schema) - extra):
        problems.append(f"{where}: {k!r} is in {td.__name__} but not in SCHEMA")
    for k in sorted(extra & set(hints)):
        if k not in td.__optional_keys__:
            problems.append(f"{where}: {k!r} is set by load_config only, so it must be NotRequired")
    for k, spec in schema.items():
        if k not in hints:
            continue
        p = f"{path}.{k}" if path else k
        hint = hints[k]
        if p == "strategies":
            compare_strategies(spec, hint, problems)
        elif isinstance(spec, dict):
            if not is_typeddict(hint):
                problems.append(f"{p}: a section in SCHEMA but typed {hint!r}, not a TypedDict")
            else:
                compare(spec, hint, p, problems)
        else:
            assert isinstance(spec, Spec)
            if is_typeddict(hint):
                problems.append(f"{p}: a setting in SCHEMA but a section ({hint.__name__}) in the types")
            if k in td.__optional_keys__:
                problems.append(f"{p}: every setting of SCHEMA is in a loaded config, so it must be required")
            if p not in FILLED_BY_LOAD and spec.default is None and not allows_none(hint):
                problems.append(f"{p}: defaults to null but typed {hint!r}")


def compare_strategies(schema: dict[str, Any], hint: Any, problems: list[str]) -> None:
    """strategies: a mapping of name to StrategyConfig; each strategy's keys are StrategyConfig's (the
    required ones always, the NotRequired ones where that strategy has them)."""
    if get_origin(hint) is not dict or get_args(hint) != (str, StrategyConfig):
        problems.append(f"strategies: typed {hint!r}, expected dict[str, StrategyConfig]")
        return
    keys = set(get_type_hints(StrategyConfig))
    seen: set[str] = set()
    for name, section in schema.items():
        have = set(section)
        seen |= have
        for k in sorted(StrategyConfig.__required_keys__ - have):
            problems.append(f"strategies.{name}: {k!r} is in StrategyConfig (required) but not in SCHEMA")
        for k in sorted(have - keys):
            problems.append(f"strategies.{name}: {k!r} is in SCHEMA but not in StrategyConfig")
    for k in sorted(keys - seen):
        problems.append(f"strategies: {k!r} is in StrategyConfig but in no strategy of SCHEMA")


def test_typeddicts_and_schema_have_the_same_keys():
    problems: list[str] = []
    compare(SCHEMA, Config, "", problems)
    assert not problems, "cockpit/domain/settings.py and SCHEMA disagree:\n" + "\n".join(problems)


def test_the_comparison_finds_a_key_missing_on_either_side():
    """The drift check itself: a setting added to SCHEMA only, or to a TypedDict only, is reported."""
    problems: list[str] = []
    schema = {**SCHEMA, "risk": {**SCHEMA["risk"], "max_new_thing": SCHEMA["risk"]["max_leverage"]}}
    compare(schema, Config, "", problems)
    assert problems == ["risk: 'max_new_thing' is in SCHEMA but not in RiskConfig"]

    problems = []
    schema = {**SCHEMA, "log": {k: v for k, v in SCHEMA["log"].items() if k != "level"}}
    compare(schema, Config, "", problems)
    assert problems == ["log: 'level' is in LogConfig but not in SCHEMA"]


def test_every_value_of_a_loaded_config_has_its_declared_type(tmp_path):
    """Each validated value (the repo's config.yaml, and one with every nullable setting set) fits its type."""

    def walk(cfg: dict[str, Any], td: Any, path: str, bad: list[str]) -> None:
        hints = get_type_hints(td)
        for k, v in cfg.items():
            p = f"{path}.{k}" if path else k
            hint = hints[k]
            if p == "strategies":
                for name, sc in v.items():
                    walk(sc, StrategyConfig, f"strategies.{name}", bad)
            elif is_typeddict(hint):
                walk(v, hint, p, bad)
            elif not fits(v, hint):
                bad.append(f"{p}: {v!r} is not {hint!r}")

    bad: list[str] = []
    walk(load_config(REPO / "config.yaml", environ={}), Config, "", bad)
    set_all = {
        "exchange.rest_url": "http://127.0.0.1:1",
        "sim.replay_csv": "x.csv",
        "sim.funding_csv": "f.csv",
        "llm.provider": "openai-compatible",
        "llm.base_url": "http://127.0.0.1:2",
        "llm.model": "m",
        "llm.api_key_env": "K",
        "portfolio.regime_shrink": 2,
        "database.url": "sqlite:///x.db",
        "remote.authorized_keys": "keys",
        "strategies.onchain.input_csv": "o.csv",
    }
    walk(load_config(REPO / "config.yaml", environ={}, overrides=set_all), Config, "", bad)
    assert not bad, "values that do not fit cockpit/domain/settings.py:\n" + "\n".join(bad)


def test_load_config_and_defaults_are_typed_config():
    from cockpit import config

    assert get_type_hints(config.load_config)["return"] is Config
    assert get_type_hints(config.defaults)["return"] is Config
    assert config.Config is settings.Config  # the same name from cockpit.config


def test_mypy_rejects_a_mistyped_config_key(tmp_path, monkeypatch):
    """With the project's mypy settings, a misspelt key of a typed config is an error and the right one is not."""
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "uses_config.py"
    snippet.write_text(
        "from cockpit.domain.settings import Config\n"
        "\n"
        "\n"
        "def right(cfg: Config) -> float:\n"
        '    return cfg["risk"]["max_leverage"]\n'
        "\n"
        "\n"
        "def wrong(cfg: Config) -> float:\n"
        '    return cfg["risk"]["max_levrage"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("MYPYPATH", str(REPO))  # this tree's cockpit, not an installed one
    out, err, status = api.run(
        [
            str(snippet),
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-error-summary",
        ]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, (out, err)
    assert len(errors) == 1, out
    assert errors[0].startswith(f"{snippet}:9:"), out
    assert '"RiskConfig" has no key "max_levrage"' in errors[0] and "[typeddict-item]" in errors[0], out
