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
    def __init__(self, db: peewee.Database | None = None, *, secrets: Iterable[str] = (),
                 redactor: Redactor | None = None) -> None:
        self._db = db if db is not None else database_proxy
        self._redactor = redactor if redactor is not None else Redactor(secrets)

    def redact(self, text: str | None) -> str | None:
        """``text`` with secrets blanked and control characters removed (None stays None)."""
        if text is None:
            return None
        return self._redactor(clean_text(text, one_line=False))

    def _exec(self, sql: str, params: tuple | list) -> int:
        return int(self._db.execute_sql(sql, params).lastrowid)

    # ------------------------------------------------------------ versions

    def ensure_prompt_version(self, name: str, version: str, content: str, *, status: str = "published") -> int:
        """The id of (name, version); inserted with ``content`` when absent (an existing row is never changed)."""
        self._db.execute_sql(
            "INSERT OR IGNORE INTO prompt_versions (name, version, content, status) VALUES (?, ?, ?, ?)",
            (name, version, content, status))
        r = self._db.execute_sql("SELECT id FROM prompt_versions WHERE name = ? AND version = ?",
                                 (name, version)).fetchone()
        return int(r[0])

    def ensure_model_version(self, name: str, version: str, metadata: dict[str, Any] | None = None) -> int:
        """The id of (name, version), e.g. ('deepseek', 'deepseek-chat@t=0.2'); inserted when absent."""
        self._db.execute_sql("INSERT OR IGNORE INTO model_versions (name, version, metadata) VALUES (?, ?, ?)",
                             (name, version, _json(metadata)))
        r = self._db.execute_sql("SELECT id FROM model_versions WHERE name = ? AND version = ?",
                                 (name, version)).fetchone()
        return int(r[0])

    # ------------------------------------------------------------ LLM runs

    def insert_llm_run(self, *, timestamp: int, prompt_version_id: int | None, model_version_id: int | None,
                       model: str | None, request: dict[str, Any] | str | None, response: str | None, status: str,
                       latency_ms: int | None, prompt_tokens: int | None = None,
                       completion_tokens: int | None = None, error: str | None = None) -> int:
        req = request if isinstance(request, str) or request is None else _json(_finite(request))
        return self._exec(
            "INSERT INTO llm_runs (prompt_version_id, model_version_id, timestamp, request, response, status,"
            " latency_ms, model, prompt_tokens, completion_tokens, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (prompt_version_id, model_version_id, int(timestamp), self.redact(req), self.redact(_cap(response)), status,
             latency_ms, model, prompt_tokens, completion_tokens, self.redact(error)))

    def update_llm_run_status(self, run_id: int, status: str, error: str | None = None) -> None:
        """After validation: 'ok' becomes 'rejected' (with the reason) when the reply was not usable."""
        self._db.execute_sql("UPDATE llm_runs SET status = ?, error = COALESCE(?, error) WHERE id = ?",
                             (status, self.redact(error), run_id))

    # ------------------------------------------------------------ decisions

    def insert_decision(self, d: Decision, *, weights_detail: dict[str, Any] | None = None) -> int:
        """The decisions row; ``weights_detail`` (per strategy: signal, strength, score, llm, final,
        disabled) is stored in the weights column instead of the plain final weights when given."""
        return self._exec(
            "INSERT INTO decisions (symbol, timeframe, timestamp, action, confidence, reasoning, technical_analysis,"
            " risk_assessment, llm_response, llm_run_id, prompt_version_id, model_version_id, regime, selector,"
            " fallback_reason, weights, target_exposure) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (d.symbol, d.timeframe, int(d.timestamp), d.action, d.confidence, self.redact(d.reasoning),
             _json(_finite(d.technical_analysis)), _json(_finite(d.risk_assessment)) if d.risk_assessment else None,
             self.redact(_cap(d.llm_response)), d.llm_run_id, d.prompt_version_id, d.model_version_id, d.regime, d.selector,
             self.redact(d.fallback_reason), _json(_finite(weights_detail if weights_detail is not None else d.weights)),
             d.target_exposure))

    # ------------------------------------------------------------ risk events

    def insert_risk_event(self, *, symbol: str, timestamp: int, level: str, rule: str, details: str) -> int:
        return self._exec("INSERT INTO risk_events (symbol, timestamp, level, rule, details) VALUES (?, ?, ?, ?, ?)",
                          (symbol, int(timestamp), level, rule, self.redact(details)))
