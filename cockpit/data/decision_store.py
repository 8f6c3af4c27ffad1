"""Writes of the decision layer: prompt versions, model versions, LLM runs, decisions, and the
spending guard's risk event. Reads go through DataService.

Nothing written here may contain an API key: callers pass the request *body* (messages, model,
parameters) and never headers; ``redact`` additionally blanks any secret value that reached a text
by accident (e.g. an error message echoing a header).

Model text (the raw reply, the rationale inside the reasoning) and error texts are stored without
escape sequences or control characters (cockpit.domain.text.clean_text; newlines kept): a reply that
carries ``ESC[2J`` or an OSC title cannot reach a terminal later through the database.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

import peewee

from cockpit.db import models as m
from cockpit.db.connection import database_proxy
from cockpit.domain.signals import Decision
from cockpit.domain.text import Redactor, clean_text


def _json(v: Any) -> str | None:
    if v is None:
        return None
    return json.dumps(v, sort_keys=True, default=str, allow_nan=False)


# A hostile or runaway reply (megabytes) is kept in part: enough to read, not enough to bloat the DB.
MAX_STORED_CHARS = 65_536


def _cap(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_STORED_CHARS:
        return text
    return text[:MAX_STORED_CHARS] + f"... [truncated: {len(text)} characters in all]"


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


class DecisionStore:
    def __init__(
        self, db: peewee.Database | None = None, *, secrets: Iterable[str] = (), redactor: Redactor | None = None
    ) -> None:
        self._db = db if db is not None else database_proxy
        self._redactor = redactor if redactor is not None else Redactor(secrets)

    def redact(self, text: str | None) -> str | None:
        """``text`` with secrets blanked and control characters removed (None stays None)."""
        if text is None:
            return None
        return self._redactor(clean_text(text, one_line=False))

    def _insert(self, query: peewee.Insert) -> int:
        """Run an INSERT built with Peewee; the new row's id (RETURNING on PostgreSQL)."""
        return int(query.execute(self._db))

    # ------------------------------------------------------------ versions

    def ensure_prompt_version(self, name: str, version: str, content: str, *, status: str = "published") -> int:
        """The id of (name, version); inserted with ``content`` when absent (an existing row is never changed)."""
        p = m.PromptVersion
        p.insert(name=name, version=version, content=content, status=status).on_conflict_ignore().execute(self._db)
        r = self._db.execute(p.select(p.id).where((p.name == name) & (p.version == version))).fetchone()
        return int(r[0])

    def ensure_model_version(self, name: str, version: str, metadata: dict[str, Any] | None = None) -> int:
        """The id of (name, version), e.g. ('deepseek', 'deepseek-chat@t=0.2'); inserted when absent."""
        v = m.ModelVersion
        v.insert(name=name, version=version, metadata=_json(metadata)).on_conflict_ignore().execute(self._db)
        r = self._db.execute(v.select(v.id).where((v.name == name) & (v.version == version))).fetchone()
        return int(r[0])

    # ------------------------------------------------------------ LLM runs

    def insert_llm_run(
        self,
        *,
        timestamp: int,
        prompt_version_id: int | None,
        model_version_id: int | None,
        model: str | None,
        request: dict[str, Any] | str | None,
        response: str | None,
        status: str,
        latency_ms: int | None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        error: str | None = None,
    ) -> int:
        req = request if isinstance(request, str) or request is None else _json(_finite(request))
        return self._insert(
            m.LLMRun.insert(
                prompt_version=prompt_version_id,
                model_version=model_version_id,
                timestamp=int(timestamp),
                request=self.redact(req),
                response=self.redact(_cap(response)),
                status=status,
                latency_ms=latency_ms,
                model=model,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                error=self.redact(error),
            )
        )

    def update_llm_run_status(self, run_id: int, status: str, error: str | None = None) -> None:
        """After validation: 'ok' becomes 'rejected' (with the reason) when the reply was not usable."""
        values: dict[str, Any] = {"status": status}
        if error is not None:  # no new reason: the stored error stays
            values["error"] = self.redact(error)
        m.LLMRun.update(**values).where(m.LLMRun.id == run_id).execute(self._db)

    # ------------------------------------------------------------ decisions

    def insert_decision(self, d: Decision, *, weights_detail: dict[str, Any] | None = None) -> int:
        """The decisions row; ``weights_detail`` (per strategy: signal, strength, score, llm, final,
        disabled) is stored in the weights column instead of the plain final weights when given."""
        return self._insert(
            m.DecisionRow.insert(
                symbol=d.symbol,
                timeframe=d.timeframe,
                timestamp=int(d.timestamp),
                action=d.action,
                confidence=d.confidence,
                reasoning=self.redact(d.reasoning),
                technical_analysis=_json(_finite(d.technical_analysis)),
                risk_assessment=_json(_finite(d.risk_assessment)) if d.risk_assessment else None,
                llm_response=self.redact(_cap(d.llm_response)),
                llm_run=d.llm_run_id,
                prompt_version=d.prompt_version_id,
                model_version=d.model_version_id,
                regime=d.regime,
                selector=d.selector,
                fallback_reason=self.redact(d.fallback_reason),
                weights=_json(_finite(weights_detail if weights_detail is not None else d.weights)),
                target_exposure=d.target_exposure,
            )
        )

    # ------------------------------------------------------------ risk events

    def insert_risk_event(self, *, symbol: str, timestamp: int, level: str, rule: str, details: str) -> int:
        return self._insert(
            m.RiskEventRow.insert(
                symbol=symbol, timestamp=int(timestamp), level=level, rule=rule, details=self.redact(details)
            )
        )
