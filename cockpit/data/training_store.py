"""Writes of offline training: candidates (model_versions), their score tables (strategy_scores),
prompt drafts (prompt_versions) and the publish record. Reads go through DataService.

A candidate is one ``model_versions`` row (name ``strategy_scores``) whose metadata holds what was
trained (period, reward, bandit, walk-forward figures, parameter suggestions), the held-out report
once made, and who published it when. Nothing here is live until ``publish``: score rows and the
prompt are drafts, and publishing retires the previously published table so exactly one is active.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping

import peewee

from cockpit.db.connection import database_proxy

MODEL_NAME = "strategy_scores"


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Mapping):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _json(v: Any) -> str:
    return json.dumps(_clean(v), sort_keys=True, default=str, allow_nan=False)


class TrainingStore:
    def __init__(self, db: peewee.Database | None = None) -> None:
        self._db = db if db is not None else database_proxy

    def save_candidate(self, version: str, metadata: Mapping[str, Any], scores: Iterable[Mapping[str, Any]],
                       prompt: tuple[str, str, str] | None) -> int:
        """One transaction: the model_versions row, draft score rows, and the draft prompt (name, version, text)."""
        with self._db.atomic():
            cur = self._db.execute_sql("INSERT INTO model_versions (name, version, metadata) VALUES (?, ?, ?)",
                                       (MODEL_NAME, version, _json(metadata)))
            mid = int(cur.lastrowid)
            rows = [(version, r["strategy"], r["regime"], float(r["expected_reward"]),
                     None if r.get("uncertainty") is None else float(r["uncertainty"]), int(r["samples"]))
                    for r in scores]
            for i in range(0, len(rows), 200):
                chunk = rows[i:i + 200]
                self._db.execute_sql(
                    "INSERT INTO strategy_scores (version, strategy, regime, expected_reward, uncertainty, samples, status)"
                    " VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, 'draft')"] * len(chunk)),
                    [x for row in chunk for x in row])
            if prompt is not None:
                name, pver, content = prompt
                self._db.execute_sql("INSERT INTO prompt_versions (name, version, content, status) VALUES (?, ?, ?, 'draft')",
                                     (name, pver, content))
        return mid

    def update_metadata(self, version: str, metadata: Mapping[str, Any]) -> None:
        self._db.execute_sql("UPDATE model_versions SET metadata = ? WHERE name = ? AND version = ?",
                             (_json(metadata), MODEL_NAME, version))

    def publish(self, version: str, metadata: Mapping[str, Any], prompt: tuple[str, str] | None) -> None:
        """Make ``version`` the active score table (others published before are retired) and publish its prompt."""
        with self._db.atomic():
            self._db.execute_sql("UPDATE strategy_scores SET status = 'retired' WHERE status = 'published' AND version != ?",
                                 (version,))
            self._db.execute_sql("UPDATE strategy_scores SET status = 'published' WHERE version = ?", (version,))
            if prompt is not None:
                self._db.execute_sql("UPDATE prompt_versions SET status = 'published' WHERE name = ? AND version = ?",
                                     prompt)
            self.update_metadata(version, metadata)
