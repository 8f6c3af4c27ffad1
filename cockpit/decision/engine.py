"""DecisionEngine / PortfolioDecisionEngine: signals + TA report + regime -> one recorded Decision.

Flow of ``PortfolioDecisionEngine.decide`` (one call per decision bar):

1. candidates: strategies enabled in the config that produced a signal (others are listed in the
   weights JSON with the reason they were left out);
2. ``StrategyScorer`` scores them; ``PortfolioScheduler`` turns the scores into the *offline*
   weights (top-N, capped, minimum weight);
3. the selector:
   - ``llm.provider: none`` -> ``offline``: the scorer's weights, and the reasoning says so;
   - otherwise the spending guard first (today's tokens from ``llm_runs``; past
     ``llm.max_tokens_per_day`` the offline selector takes over until the next UTC day and a
     ``risk_events`` row, WARN ``llm_budget``, says so once per day), then one LLM call with the
     rendered prompt, recorded in ``llm_runs``; the reply is validated (cockpit.decision.validate)
     and its weights go through the same scheduler -> ``llm``; a failed call or a rejected reply ->
     ``fallback`` with the reason, using the scorer's weights; a reply that asks for parameters,
     leverage or orders also leaves a ``risk_events`` row (WARN ``llm_output``). The tokens counted
     are the client's (cockpit.decision.llm: never below a local estimate; nonsense usage from the
     provider is ignored and a WARN ``llm_usage`` row says so once per day);
4. net target exposure = sum(weight * direction * strength) in [-1, 1]; the action is buy / sell
   / hold from the change against the current position's exposure (``portfolio.rebalance_band``);
5. the ``decisions`` row is written (weights JSON per strategy: signal, strength, score, llm,
   final, disabled) and the Decision returned; its id is ``engine.last_decision_id``. With the LLM
   selector the reasoning starts ``model says: “<rationale>”`` (cleaned, at most 1,000 characters):
   the model's words, marked as such.

The LLM never reaches parameters, leverage or orders: its only output that is used is a weight
per enabled strategy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from cockpit.decision.prompts import PromptBuilder, PromptError, market_snapshot, recent_outcomes, signal_rows, snapshot
from cockpit.decision.scoring import PortfolioScheduler, StrategyScorer, net_exposure, regime_value
from cockpit.decision.validate import RATIONALE_MAX, ReplyRejected, validate_reply
from cockpit.domain.settings import Config, StrategyConfig
from cockpit.domain.signals import STRATEGY_NAMES, Decision, Regime, RiskLevel, StrategySignal
from cockpit.domain.text import model_says

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
BUDGET_RULE = "llm_budget"
OUTPUT_RULE = "llm_output"  # a reply that asked for parameters, leverage or orders
USAGE_RULE = "llm_usage"  # the provider reported nonsense token usage; the local estimate was counted
OFFLINE_NOTE = "offline selector (no LLM configured): scorer weights"


def utc_day_start(ms: int) -> int:
    return ms - ms % DAY_MS


@dataclass
class Selected:
    selector: str  # offline | llm | fallback
    raw: dict[str, float]  # weights before the scheduler
    confidence: float | None = None
    rationale: str | None = None
    fallback_reason: str | None = None
    llm_response: str | None = None
    llm_run_id: int | None = None
    prompt_version_id: int | None = None
    model_version_id: int | None = None


class LLMSelector:
    """One LLM call per decision, its record, its validation, and the spending guard."""

    def __init__(self, cfg: Config, ds: Any, store: Any, clock: Any, client: Any) -> None:
        self.cfg, self.ds, self.store, self.clock, self.client = cfg, ds, store, clock, client
        self._budget_day_flagged: int | None = None
        self._usage_day_flagged: int | None = None

    def budget_left(self, now_ms: int) -> tuple[bool, int]:
        limit = int(self.cfg["llm"]["max_tokens_per_day"])
        used = int(self.ds.llm_tokens_since(utc_day_start(now_ms)))
        # A call may spend up to max_tokens_per_call completion tokens on top of the prompt.
        return used + int(self.cfg["llm"]["max_tokens_per_call"]) <= limit, used

    def _flag_budget(self, now_ms: int, used: int) -> None:
        day = utc_day_start(now_ms)
        if self._budget_day_flagged == day:
            return
        last = self.ds.risk_events(rule=BUDGET_RULE, limit=1)
        if last and last[0]["timestamp"] >= day:  # already said today (e.g. before a restart)
            self._budget_day_flagged = day
            return
        limit = int(self.cfg["llm"]["max_tokens_per_day"])
        self.store.insert_risk_event(
            symbol=self.cfg["symbol"],
            timestamp=now_ms,
            level=RiskLevel.WARN.value,
            rule=BUDGET_RULE,
            details=f"LLM token budget for the UTC day reached ({used} used, llm.max_tokens_per_day {limit}, "
            f"next call may take {self.cfg['llm']['max_tokens_per_call']}); the offline selector decides "
            "until 00:00 UTC",
        )
        self._budget_day_flagged = day

    def _flag_usage(self, now_ms: int, run_id: int, note: str) -> None:
        """Nonsense usage from the provider: logged every time, a WARN risk event once per UTC day."""
        log.warning("LLM run %s: %s", run_id, note)
        day = utc_day_start(now_ms)
        if self._usage_day_flagged == day:
            return
        self.store.insert_risk_event(
            symbol=self.cfg["symbol"],
            timestamp=now_ms,
            level=RiskLevel.WARN.value,
            rule=USAGE_RULE,
            details=f"llm run {run_id}: {note}"[:1000],
        )
        self._usage_day_flagged = day

    def select(
        self, *, now_ms: int, snap: dict[str, Any], enabled: list[str], offline: dict[str, float], prompt: PromptBuilder
    ) -> Selected:
        ok, used = self.budget_left(now_ms)
        if not ok:
            self._flag_budget(now_ms, used)
            return Selected(
                "fallback",
                offline,
                fallback_reason="daily LLM token budget reached "
                f"({used} tokens today); offline selector until 00:00 UTC",
                prompt_version_id=prompt.prompt_version_id,
            )
        name, version, meta = self.client.model_version
        mv_id = self.store.ensure_model_version(name, version, meta)
        try:
            messages = prompt.render(snap)
        except PromptError as e:
            return Selected(
                "fallback",
                offline,
                fallback_reason=str(e),
                prompt_version_id=prompt.prompt_version_id,
                model_version_id=mv_id,
            )
        res = self.client.complete(messages)
        run_id = self.store.insert_llm_run(
            timestamp=now_ms,
            prompt_version_id=prompt.prompt_version_id,
            model_version_id=mv_id,
            model=self.client.model,
            request=res.request,
            response=res.content,
            status=res.status,
            latency_ms=res.latency_ms,
            prompt_tokens=res.prompt_tokens,
            completion_tokens=res.completion_tokens,
            error=res.error,
        )
        if res.usage_note:
            self._flag_usage(now_ms, run_id, res.usage_note)
        common = dict(
            llm_response=res.content,
            llm_run_id=run_id,
            prompt_version_id=prompt.prompt_version_id,
            model_version_id=mv_id,
        )
        if res.status != "ok":
            return Selected("fallback", offline, fallback_reason=f"LLM call failed: {res.error}", **common)
        try:
            sel = validate_reply(res.content, enabled, rationale_max=RATIONALE_MAX)
        except ReplyRejected as e:
            self.store.update_llm_run_status(run_id, "rejected", e.reason)
            if e.flags:  # the model tried to act outside its remit: the operator sees it in the risk pane
                log.warning("LLM reply flagged and rejected (run %s): %s", run_id, e.reason)
                self.store.insert_risk_event(
                    symbol=self.cfg["symbol"],
                    timestamp=now_ms,
                    level=RiskLevel.WARN.value,
                    rule=OUTPUT_RULE,
                    details=f"llm run {run_id}: {e.reason}"[:1000],
                )
            return Selected("fallback", offline, fallback_reason=f"LLM reply rejected: {e.reason}", **common)
        if sel.flags:
            self.store.update_llm_run_status(run_id, "ok", "; ".join(sel.flags))
        return Selected("llm", sel.weights, confidence=sel.confidence, rationale=sel.rationale, **common)


def _fmt_weights(w: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in w.items()) or "none"


def _position_view(position: Mapping[str, Any] | float | None, price: float | None) -> Mapping[str, Any] | None:
    """The position as the prompt shows it: a dict as given; a signed size (BTC) as side, size and price."""
    if isinstance(position, (int, float)):
        if not position:
            return None
        return {"side": "long" if position > 0 else "short", "size": abs(float(position)), "mark_price": price}
    return position or None


class PortfolioDecisionEngine:
    """Multi-strategy decisions. ``llm``: an LLMClient, or None to build one from ``cfg`` (None when
    ``llm.provider`` is ``none``)."""

    def __init__(
        self,
        cfg: Config,
        ds: Any,
        store: Any,
        clock: Any,
        llm: Any = None,
        *,
        scorer: StrategyScorer | None = None,
        scheduler: PortfolioScheduler | None = None,
    ) -> None:
        self.cfg, self.ds, self.store, self.clock = cfg, ds, store, clock
        self.scorer = scorer or StrategyScorer.from_config(cfg, ds)
        self.scheduler = scheduler or PortfolioScheduler.from_config(cfg)
        self.symbol = cfg["symbol"]
        self.timeframe = cfg["decision_timeframe"]
        self.band = float(cfg["portfolio"].get("rebalance_band", 0.05))
        self.llm_unavailable: str | None = None
        if llm is None and cfg["llm"]["provider"] != "none":
            from cockpit.decision.llm import LLMClient, LLMUnavailable

            try:
                llm = LLMClient.from_config(cfg)
            except LLMUnavailable as e:
                self.llm_unavailable = str(e)
        self.llm = llm
        self.selector = LLMSelector(cfg, ds, store, clock, llm) if llm is not None else None
        self._prompt: PromptBuilder | None = None
        self.last_decision_id: int | None = None

    # ------------------------------------------------------------ helpers

    def enabled_names(self) -> list[str]:
        strategies = self.cfg.get("strategies", {})
        order = [n for n in STRATEGY_NAMES if n in strategies] + [n for n in strategies if n not in STRATEGY_NAMES]
        return [n for n in order if strategies[n].get("enabled")]

    def prompt(self) -> PromptBuilder:
        if self._prompt is None:
            self._prompt = PromptBuilder.load(self.ds, self.store, self.cfg["llm"]["prompt_version"])
        return self._prompt

    def _candidates(self, signals: Mapping[str, StrategySignal]) -> tuple[list[str], dict[str, str]]:
        enabled = self.enabled_names()
        disabled: dict[str, str] = {}
        for name in self.cfg.get("strategies", {}):
            if name not in enabled:
                disabled[name] = "disabled in config"
        for name in signals:
            if name not in self.cfg.get("strategies", {}):
                disabled[name] = "not a configured strategy"
        cands = []
        for name in enabled:
            if name not in signals:
                disabled[name] = "no signal this bar"
            else:
                cands.append(name)
        return cands, disabled

    def _position_exposure(self, position: Any, account: Mapping[str, Any] | None, price: float | None) -> float:
        """The current signed exposure in the sizing's unit (cockpit.engine.sizing): signed size x price
        over min(risk.max_position_notional, risk.max_position_pct_equity x equity), capped to [-1, 1].

        ``position`` may be a dict (``exposure`` used as is when present; else side, size and
        mark/entry price) or a signed size in BTC; 0 when flat or unknown."""
        if not position:
            return 0.0
        if isinstance(position, (int, float)):
            signed, px = float(position), float(price or 0.0)
        else:
            if position.get("exposure") is not None:
                return max(-1.0, min(1.0, float(position["exposure"])))
            sign = {"long": 1, "buy": 1, "short": -1, "sell": -1}.get(str(position.get("side", "")).lower(), 0)
            signed = sign * abs(float(position.get("size") or 0.0))
            px = float(position.get("mark_price") or price or position.get("entry_price") or 0.0)
        risk = self.cfg.get("risk", {})
        cap = float(risk.get("max_position_notional") or 0.0)
        equity = float((account or {}).get("equity") or 0.0)
        if equity > 0 and risk.get("max_position_pct_equity"):
            cap = (
                min(cap, float(risk["max_position_pct_equity"]) * equity)
                if cap > 0
                else float(risk["max_position_pct_equity"]) * equity
            )
        if not signed or px <= 0 or cap <= 0:
            return 0.0
        return max(-1.0, min(1.0, signed * px / cap))

    # ------------------------------------------------------------ the decision

    def decide(
        self,
        signals: Mapping[str, StrategySignal] | Iterable[StrategySignal],
        ta_report: Mapping[str, Any] | None,
        regime: Regime | str | None,
        account: Mapping[str, Any] | None = None,
        position: Mapping[str, Any] | float | None = None,
        price: float | None = None,
    ) -> Decision:
        """Decide, write the decisions row, return the Decision (``decision.id`` is the row id).

        ``signals``: name -> StrategySignal (or an iterable of signals); ``position``: a dict or the
        signed size; ``price``: the last price (to value a position given as a size)."""
        if not isinstance(signals, Mapping):
            signals = {s.strategy: s for s in signals if s is not None}
        else:
            signals = {k: s for k, s in signals.items() if s is not None}
        now = int(self.clock.now_ms())
        reg = regime_value(regime)
        cands, disabled = self._candidates(signals)
        scores = self.scorer.score(cands, reg)
        offline = self.scheduler.allocate({n: s.score for n, s in scores.items()})

        if self.selector is None:
            if self.llm_unavailable:
                sel = Selected("fallback", dict(offline), fallback_reason=f"LLM unavailable: {self.llm_unavailable}")
            else:
                sel = Selected("offline", dict(offline))
        elif not cands:
            sel = Selected("fallback", {}, fallback_reason="no enabled strategy produced a signal")
        else:
            try:
                prompt = self.prompt()
            except PromptError as e:
                prompt = None
                sel = Selected("fallback", dict(offline), fallback_reason=str(e))
            if prompt is not None:
                snap = self.snapshot(
                    now, reg, signals, cands, scores, ta_report, account, _position_view(position, price)
                )
                sel = self.selector.select(now_ms=now, snap=snap, enabled=cands, offline=dict(offline), prompt=prompt)

        final = self.scheduler.allocate(sel.raw) if sel.selector == "llm" else dict(offline)
        exposure = net_exposure(final, signals)
        current = self._position_exposure(position, account, price)
        delta = exposure - current
        action = "buy" if delta > self.band else "sell" if delta < -self.band else "hold"
        weights_detail = self._weights_detail(signals, cands, disabled, scores, sel, final)
        if sel.selector == "llm":
            confidence = sel.confidence
            # The rationale is the model's words, marked as such: it must never read as the cockpit's own text.
            reasoning = (
                f"{model_says(sel.rationale, max_chars=RATIONALE_MAX)} | LLM weights {_fmt_weights(final)}; "
                f"net target exposure {exposure:+.2f}"
            )
        else:
            confidence = round(abs(exposure), 6)
            head = (
                OFFLINE_NOTE
                if sel.selector == "offline"
                else f"fallback to offline selector ({sel.fallback_reason}): scorer weights"
            )
            reasoning = f"{head} {_fmt_weights(final)}; net target exposure {exposure:+.2f} (regime {reg})"
            why = [f"{n} {signals[n].direction.value}: {signals[n].reason}" for n in final if n in signals]
            if why:  # what each selected strategy says, so a trader sees why the target is what it is
                reasoning += " | " + "; ".join(why)
        decision = Decision(
            symbol=self.symbol,
            timeframe=self.timeframe,
            timestamp=now,
            action=action,
            confidence=confidence,
            reasoning=reasoning,
            target_exposure=exposure,
            weights=final,
            technical_analysis=dict(ta_report or {}),
            regime=reg,
            selector=sel.selector,
            fallback_reason=sel.fallback_reason,
            llm_response=sel.llm_response,
            llm_run_id=sel.llm_run_id,
            prompt_version_id=sel.prompt_version_id,
            model_version_id=sel.model_version_id,
        )
        decision.id = self.last_decision_id = self.store.insert_decision(decision, weights_detail=weights_detail)
        return decision

    def snapshot(
        self,
        now: int,
        reg: str,
        signals: Mapping[str, StrategySignal],
        cands: list[str],
        scores: Mapping[str, Any],
        ta_report: Mapping[str, Any] | None,
        account: Mapping[str, Any] | None,
        position: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        return snapshot(
            now_ms=now,
            symbol=self.symbol,
            timeframe=self.timeframe,
            regime=reg,
            market=market_snapshot(self.ds, self.symbol, self.cfg["timeframes"], now),
            technical_analysis=ta_report,
            signals=signal_rows(signals, cands),
            scores=[scores[n].as_dict() for n in cands],
            strategies=cands,
            account=account,
            position=position,
            recent=recent_outcomes(self.ds, self.symbol, self.timeframe, now),
            top_n=self.scheduler.top_n,
            rationale_max=RATIONALE_MAX,
            costs=self._costs(),
        )

    def _costs(self) -> str:
        b = self.cfg.get("backtest", {})
        return (
            f"costs: taker fee {float(b.get('taker_fee', 0.0005)):.3%} + slippage "
            f"{float(b.get('slippage_bps', 2.0)):g} bp per side; funding every 8h (longs pay when it is positive)"
        )

    @staticmethod
    def _weights_detail(
        signals: Mapping[str, StrategySignal],
        cands: list[str],
        disabled: Mapping[str, str],
        scores: Mapping[str, Any],
        sel: Selected,
        final: Mapping[str, float],
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in list(cands) + [n for n in disabled if n not in cands]:
            sig = signals.get(name)
            sc = scores.get(name)
            out[name] = {
                "signal": sig.direction.value if sig else None,
                "strength": float(sig.strength) if sig else None,
                "score": sc.score if sc else None,
                "llm": round(sel.raw.get(name, 0.0), 6) if sel.selector == "llm" else None,
                "final": round(final.get(name, 0.0), 6),
                "disabled": disabled.get(name),
            }
        return out


class DecisionEngine(PortfolioDecisionEngine):
    """Single-strategy decisions: the one strategy's signal is the target, weight 1, no LLM."""

    def __init__(self, cfg: Config, ds: Any, store: Any, clock: Any, strategy: str) -> None:
        single = cfg.copy()
        single["llm"] = {**cfg["llm"], "provider": "none"}
        single["portfolio"] = {**cfg["portfolio"], "top_n": 1, "max_weight": 1.0, "min_weight": 0.0}
        # A strategy missing from the config has no params here: the registry reads them with .get.
        one: StrategyConfig = {
            **cfg.get("strategies", {}).get(strategy, {}),  # type: ignore[typeddict-item]
            "enabled": True,
        }
        single["strategies"] = {strategy: one}
        super().__init__(single, ds, store, clock, llm=None)
        self.strategy = strategy

    def decide_one(
        self,
        signal: StrategySignal,
        ta_report: Mapping[str, Any] | None,
        regime: Regime | str | None,
        account: Mapping[str, Any] | None = None,
        position: Any = None,
        price: float | None = None,
    ) -> Decision:
        return self.decide({self.strategy: signal}, ta_report, regime, account, position, price)


__all__ = ["PortfolioDecisionEngine", "DecisionEngine", "LLMSelector", "Selected"]
