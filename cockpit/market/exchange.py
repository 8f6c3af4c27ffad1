"""Build the ccxt ``okx`` client for the configured exchange mode.

Order matters: ``set_sandbox_mode(True)`` replaces ``urls['api']`` with the demo URLs, so it is
called first and the REST URL override (the simulator, a proxy, a regional host) second; the
other way round silently points the client back at OKX's real host. ``sim`` and ``okx-demo``
send ``x-simulated-trading: 1``; ``okx-live`` does not.

Keys come from the environment variables named by ``exchange.api_key_env`` / ``secret_env`` /
``passphrase_env`` (or explicit ``credentials``, e.g. the built-in simulator's) and are never logged.
"""

from __future__ import annotations

import os
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

import ccxt

from cockpit.domain.settings import Config


class ExchangeSetupError(RuntimeError):
    pass


def credentials_from_env(cfg: Config, environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """{'apiKey','secret','password'} from the configured variables, or None when any is missing."""
    environ = os.environ if environ is None else environ
    ex = cfg["exchange"]
    key, secret, password = (
        environ.get(ex["api_key_env"]),
        environ.get(ex["secret_env"]),
        environ.get(ex["passphrase_env"]),
    )
    if not (key and secret and password):
        return None
    return {"apiKey": key, "secret": secret, "password": password}


def _setup(
    cfg: Config,
    mode: str | None,
    rest_url: str | None,
    credentials: Mapping[str, str] | None,
    for_tests: bool,
    environ: Mapping[str, str] | None,
) -> tuple[str, str | None, dict[str, Any]]:
    """(mode, REST URL, ccxt constructor config), shared by the sync and the streaming client."""
    ex_cfg = cfg["exchange"]
    mode = mode or ex_cfg["mode"]
    if mode not in ("sim", "okx-demo", "okx-live"):
        raise ExchangeSetupError(f"exchange.mode: expected sim, okx-demo or okx-live, got {mode!r}")
    rest_url = rest_url or ex_cfg.get("rest_url")
    if mode == "sim" and not rest_url:
        raise ExchangeSetupError("exchange mode 'sim' needs the simulator's URL (start it first)")
    creds = dict(credentials) if credentials else credentials_from_env(cfg, environ)
    return (
        mode,
        rest_url,
        {
            "enableRateLimit": not for_tests,
            "timeout": int(ex_cfg.get("timeout_ms", 10000)),  # per request; ccxt retries nothing by itself:
            "options": {
                "fetchMarkets": {"types": ["swap"]},  # one instrument type: 1 request instead of 4
                "defaultType": "swap",
                "defaultMarginMode": "isolated",
                "maxRetriesOnFailure": 0,  # ... and must not: a hung request costs one timeout, no more
            },
            **(creds or {}),
        },
    )


def ws_url_for(rest_url: str) -> str:
    """OKX's WebSocket base (``.../ws/v5``) on the host of a REST URL (the simulator serves both on one port)."""
    u = urlsplit(rest_url)
    scheme = "wss" if u.scheme == "https" else "ws"
    return urlunsplit((scheme, u.netloc, "/ws/v5", "", ""))


def make_stream_exchange(
    cfg: Config,
    *,
    mode: str | None = None,
    rest_url: str | None = None,
    ws_url: str | None = None,
    credentials: Mapping[str, str] | None = None,
    for_tests: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """An async ccxt.pro okx client (WebSocket streams, REST too) configured like ``make_exchange``.

    The WebSocket URL is ``ws_url``, else the REST host's ``/ws/v5`` when a REST URL override is in
    force (the simulator), else ccxt's own (OKX, or its demo hosts in sandbox mode). ccxt.pro adds
    ``?brokerId=9999`` (demo trading) in sandbox mode, which ``sim`` and ``okx-demo`` use.
    """
    import ccxt.pro as ccxtpro

    mode, rest_url, config = _setup(cfg, mode, rest_url, credentials, for_tests, environ)
    client = ccxtpro.okx(config)
    if mode in ("sim", "okx-demo"):
        client.set_sandbox_mode(True)
    if rest_url:
        client.urls["api"] = {**client.urls["api"], "rest": rest_url.rstrip("/"), "ws": ws_url or ws_url_for(rest_url)}
    elif ws_url:
        client.urls["api"] = {**client.urls["api"], "ws": ws_url}
    return client


def make_exchange(
    cfg: Config,
    *,
    mode: str | None = None,
    rest_url: str | None = None,
    credentials: Mapping[str, str] | None = None,
    for_tests: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ccxt.okx:
    """A sync ccxt okx client for ``mode`` (default ``exchange.mode``).

    ``rest_url`` (default ``exchange.rest_url``) overrides the REST host; in ``sim`` mode it is
    required (the engine/CLI starts the simulator and passes its URL). ``for_tests`` turns ccxt's
    rate limiter off (never do that against a real exchange).
    """
    mode, rest_url, config = _setup(cfg, mode, rest_url, credentials, for_tests, environ)
    client = ccxt.okx(config)
    if mode in ("sim", "okx-demo"):
        client.set_sandbox_mode(True)
    if rest_url:
        client.urls["api"] = {**client.urls["api"], "rest": rest_url.rstrip("/")}
    return client
