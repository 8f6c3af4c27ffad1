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

from cockpit.db import models as m
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

    def save_candidate(
        self,
        version: str,
        metadata: Mapping[str, Any],
        scores: Iterable[Mapping[str, Any]],
        prompt: tuple[str, str, str] | None,
    ) -> int:
        """One transaction: the model_versions row, draft score rows, and the draft prompt (name, version, text)."""
        with self._db.atomic():
            mid = int(
                m.ModelVersion.insert(name=MODEL_NAME, version=version, metadata=_json(metadata)).execute(self._db)
            )
            s = m.StrategyScore
            fields = [s.version, s.strategy, s.regime, s.expected_reward, s.uncertainty, s.samples, s.status]
            rows = [
                (
                    version,
                    r["strategy"],
                    r["regime"],
                    float(r["expected_reward"]),
                    None if r.get("uncertainty") is None else float(r["uncertainty"]),
                    int(r["samples"]),
                    "draft",
                )
                for r in scores
            ]
            for i in range(0, len(rows), 200):
                s.insert_many(rows[i : i + 200], fields=fields).execute(self._db)
            if prompt is not None:
                name, pver, content = prompt
                m.PromptVersion.insert(name=name, version=pver, content=content, status="draft").execute(self._db)
        return mid

    def update_metadata(self, version: str, metadata: Mapping[str, Any]) -> None:
        v = m.ModelVersion
        v.update(metadata=_json(metadata)).where((v.name == MODEL_NAME) & (v.version == version)).execute(self._db)

    def publish(self, version: str, metadata: Mapping[str, Any], prompt: tuple[str, str] | None) -> None:
        """Make ``version`` the active score table (others published before are retired) and publish its prompt."""
        with self._db.atomic():
            s, p = m.StrategyScore, m.PromptVersion
            s.update(status="retired").where((s.status == "published") & (s.version != version)).execute(self._db)
            s.update(status="published").where(s.version == version).execute(self._db)
            if prompt is not None:
                name, pver = prompt
                p.update(status="published").where((p.name == name) & (p.version == pver)).execute(self._db)
            self.update_metadata(version, metadata)
