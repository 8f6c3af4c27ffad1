"""The API's non-read work, each delegated to the core part that owns it."""

from __future__ import annotations

import io
import json
from typing import Any, Callable

from cockpit.api.errors import ApiError
from cockpit.data import DataService
from cockpit.data.operator import submit_command
from cockpit.domain.clock import ManualClock
from cockpit.domain.market import timeframe_ms
from cockpit.domain.settings import Config


class Services:
    def __init__(
        self,
        cfg: Config,
        *,
        now_ms: Callable[[], int],
        exchange_factory: Callable[[], Any] | None = None,
        clock: Any = None,
    ) -> None:
        """``exchange_factory`` and ``clock``: the running engine's exchange connection and clock;
        without them a command opens its own (in ``sim`` mode, a built-in simulator)."""
        self.cfg = cfg
        self.now_ms = now_ms
        self.exchange_factory = exchange_factory
        self.clock = clock

    # -------------------------------------------------------------- commands, health

    def command(self, kind: str, order_id: int | None, payload: dict[str, Any] | None, operator: str) -> int:
        return submit_command(kind, now_ms=self.now_ms(), order_id=order_id, payload=payload, operator=operator)

    def health(self) -> dict[str, Any]:
        ds = DataService()
        beat = ds.engine_state_row("heartbeat")
        hb = None
        if beat and beat.get("value"):
            try:
                hb = json.loads(beat["value"])
            except ValueError:
                hb = None
        kill = ds.engine_state("kill_switch")
        return {
            "status": "ok",
            "database": "ok",
            "mode": self.cfg["exchange"]["mode"],
            "symbol": self.cfg["symbol"],
            "engine_heartbeat": hb,
            "engine_heartbeat_updated_at": beat.get("updated_at") if beat else None,
            "kill_switch": bool(kill and kill not in ("0", "null", "false", "")),
            "pending_approvals": len(ds.orders(status="pending_approval", limit=1000)),
        }

    # -------------------------------------------------------------- decisions

    def generate_decision(self, timeframe: str, strategy: str) -> dict[str, Any]:
        """One decision now, at the newest closed bar stored, through the engine's own stages
        (strategies -> technical analysis -> regime -> scorer/LLM selector -> scheduler) and a
        dry-run risk check of the orders it implies. The decision is recorded like any other."""
        from cockpit.engine.eventlog import EventLog
        from cockpit.engine.stages import build_stages

        cfg = self.cfg
        if timeframe != cfg["decision_timeframe"]:
            raise ApiError(
                "INVALID_PARAMETER",
                f"decisions are made on {cfg['decision_timeframe']} bars",
                "timeframe must be the configured decision_timeframe",
            )
        names = [n for n, s in cfg["strategies"].items() if s["enabled"]]
        if strategy not in ("balanced", *names):
            raise ApiError(
                "INVALID_PARAMETER",
                f"unknown or disabled strategy {strategy!r}",
                f"allowed: balanced, {', '.join(names)}",
            )
        run_cfg = cfg
        if strategy != "balanced":
            run_cfg = {**cfg, "strategies": {n: {**s, "enabled": n == strategy} for n, s in cfg["strategies"].items()}}
        ds = DataService()
        last = ds.latest_candle_time(cfg["symbol"], timeframe)
        if last is None:
            raise ApiError("NOT_FOUND", f"no {timeframe} candles stored", "collect or ingest market data first")
        clock = ManualClock(last + timeframe_ms(timeframe))
        stages = build_stages(run_cfg, log=EventLog(stream=io.StringIO()), clock=clock, with_exchange=False)
        if stages.analyze is None or stages.decide is None:
            raise ApiError("INTERNAL_ERROR", "decision pipeline unavailable", stages.availability)
        bal = ds.latest_balance() or {}
        snap = ds.latest_position_snapshot(cfg["symbol"]) or {}
        signed = float(snap.get("size") or 0.0) * (-1 if snap.get("side") == "short" else 1)
        account = {
            "equity": bal.get("total") or cfg["sim"]["initial_balance"],
            "free": bal.get("free"),
            "position_side": snap.get("side", "flat"),
            "position_size": snap.get("size", 0.0),
            "entry_price": snap.get("entry_price"),
            "signed_size": signed,
        }
        analysis = stages.analyze(last)
        decision_id, decision = stages.decide(analysis, account)
        risk = self._risk_preview(stages, decision_id, decision, analysis, account, clock)
        return {
            "decision_id": decision_id,
            "action": decision.action,
            "confidence": decision.confidence,
            "reasoning": decision.reasoning,
            "regime": decision.regime,
            "selector": decision.selector,
            "weights": decision.weights,
            "target_exposure": decision.target_exposure,
            "technical_analysis": decision.technical_analysis,
            "risk_assessment": risk,
        }

    def _risk_preview(self, stages, decision_id, decision, analysis, account, clock) -> dict[str, Any]:
        from cockpit.domain.orders import Position
        from cockpit.execution.base import AccountState
        from cockpit.risk.manager import MarketState, RiskManager

        intents = stages.plan(decision_id, decision, analysis, account) if stages.plan else []
        if not intents:
            return {"passed": True, "checks": [], "orders": [], "note": "no order implied by this decision"}
        side = account.get("position_side") or "flat"
        pos = Position(
            self.cfg["symbol"],
            side,
            float(account.get("position_size") or 0.0),
            float(account.get("entry_price") or 0.0),
        )
        acct = AccountState(
            equity=float(account["equity"]),
            free=float(account.get("free") or account["equity"]),
            used=0.0,
            position=pos,
        )
        snap = DataService().latest_price_snapshot(self.cfg["symbol"]) or {}
        market = MarketState(self.cfg["symbol"], snap.get("mark_price") or analysis.price)
        rm = RiskManager(self.cfg["risk"], clock=clock)
        results = []
        for intent in intents:
            r = rm.check(intent, acct, market, record=False)
            results.append(json.loads(r.to_json()))
        return {
            "passed": all(not x.get("rejected") and x.get("status") != "rejected" for x in results),
            "checks": results,
            "note": "dry run: orders are checked again by the engine when placed",
        }

    # -------------------------------------------------------------- market collect

    def collect(self, timeframe: str, *, update_only: bool = True) -> dict[str, Any]:
        """Fetch new closed candles of ``timeframe`` (and, with ``update_only`` false, backfill
        ``exchange.backfill_days``) through the engine's exchange connection."""
        from cockpit.engine.exchange import open_exchange
        from cockpit.market.ingest import MarketIngestor

        if self.exchange_factory is not None:
            exchange, clock, close = self.exchange_factory(), self.clock, (lambda: None)
        else:
            exchange, clock, close = open_exchange(self.cfg, self.cfg["exchange"]["mode"])
        try:
            ing = MarketIngestor(exchange, self.cfg, clock, timeframes=[timeframe], source="api")
            if update_only and DataService().latest_candle_time(self.cfg["symbol"], timeframe) is not None:
                step = ing.update_candles(timeframe)
            else:
                since = clock.now_ms() - int(self.cfg["exchange"]["backfill_days"]) * 86_400_000
                step = ing.backfill_candles(timeframe, since)
        finally:
            close()
        if step.status != "success" and not step.rows:
            raise ApiError("EXTERNAL_API_ERROR", "the exchange did not answer", step.error)
        return {"timeframe": timeframe, "inserted": step.rows, "status": step.status, "error": step.error}

    # -------------------------------------------------------------- backtests

    def create_backtest(self, body: dict[str, Any], start: int, end: int) -> int:
        from cockpit.backtest.api import build_strategy
        from cockpit.config import ConfigError
        from cockpit.data.backtest_store import create_config

        strategy = body["strategy"]
        if strategy != "portfolio":
            if strategy not in self.cfg["strategies"]:
                raise ApiError(
                    "INVALID_PARAMETER",
                    f"unknown strategy {strategy!r}",
                    f"allowed: portfolio, {', '.join(self.cfg['strategies'])}",
                )
            try:  # the same parameter ranges as config.yaml: a bad value is refused before it is stored
                build_strategy(self.cfg, strategy, body["strategy_params"], body["timeframe"])
            except (ConfigError, ValueError) as e:
                raise ApiError("INVALID_PARAMETER", "invalid strategy_params", str(e)) from None
        return create_config(
            None,
            name=body["name"],
            symbol=body["symbol"],
            timeframe=body["timeframe"],
            start_time=start,
            end_time=end,
            initial_capital=body["initial_capital"],
            commission_rate=body["commission_rate"],
            strategy=strategy,
            strategy_params=body["strategy_params"],
            slippage_bps=body["slippage_bps"],
            leverage=body["leverage"],
        )

    def run_backtest(self, config_id: int, job: dict[str, Any]) -> dict[str, Any]:
        """Runs in a job thread; the seed's run response fields, percentages as in the seed."""
        from cockpit.backtest.api import run_stored_config
        from cockpit.db.connection import database_proxy

        def progress(done: int, total: int) -> None:
            job["progress"] = {"done": done, "total": total}

        report = run_stored_config(self.cfg, DataService(), config_id, store=database_proxy, progress=progress)
        m = report.metrics

        def pct(v: Any) -> float | None:
            return None if v is None else float(v) * 100.0

        return {
            "result_id": report.result_id,
            "total_return": pct(m.get("total_return")),
            "max_drawdown": pct(m.get("max_drawdown")),
            "sharpe_ratio": m.get("sharpe"),
            "total_trades": m.get("trades"),
            "win_rate": pct(m.get("win_rate")),
            "final_equity": m.get("final_equity"),
            "intrabar": report.intrabar,
            "funding_source": report.funding_source,
        }
