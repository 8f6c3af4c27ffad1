"""PromptUpdater: a new selector prompt whose text carries the candidate's score table and a few
recorded mistakes with their outcomes.

The new template is the active one (``llm.prompt_version``, or the built-in default) with one
block in its ``[system]`` part between two marker lines; a block from an earlier training run is
replaced, so versions do not pile up blocks. The block is literal text (every ``$`` doubled), so
the template keeps exactly the placeholders ``PromptBuilder`` knows. The diff against the active
version is a unified diff, shown by ``cockpit train run`` and stored with the candidate.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Mapping

from cockpit.decision.prompts import DEFAULT_TEMPLATE, PromptBuilder, utc

BEGIN = "### offline training: score table and recorded mistakes (begin)"
END = "### offline training (end)"


def render_block(
    version: str, train: Mapping[str, Any], table: list[dict[str, Any]], mistakes: list[dict[str, Any]], reward: str
) -> str:
    lines = [
        BEGIN,
        f"Score table {version}, learned offline from {train.get('from')} to {train.get('to')}; reward: {reward}.",
        "Expected reward per regime (higher is better; +/- uncertainty; n samples). Use it as evidence, not a rule:",
    ]
    by_regime: dict[str, list[dict[str, Any]]] = {}
    for r in table:
        by_regime.setdefault(r["regime"], []).append(r)
    for regime in sorted(by_regime):
        rows = sorted(by_regime[regime], key=lambda r: (-float(r["expected_reward"]), r["strategy"]))
        cells = ", ".join(
            f"{r['strategy']} {float(r['expected_reward']):+.4f} +/- {float(r['uncertainty'] or 0):.4f} "
            f"(n={int(r['samples'])})"
            for r in rows
        )
        lines.append(f"- {regime}: {cells}")
    lines.append("Recorded mistakes (what was chosen, what it earned, what would have done better):")
    if not mistakes:
        lines.append("- (none recorded)")
    for m in mistakes:
        lines.append(
            f"- {utc(m['time'])}, {m['regime']}: chose {m['chosen']} -> {m['outcome']:+.2%}; "
            f"{m['better']} would have made {m['better_outcome']:+.2%} ({m['source']})"
        )
    lines.append(END)
    return "\n".join(lines).replace("$", "$$")


def with_block(template: str, block: str) -> str:
    """``template`` with the training block at the end of its [system] part (an older block replaced)."""
    if BEGIN in template and END in template:
        head, _, rest = template.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + block + tail
    system, sep, user = template.partition("[user]")
    return system.rstrip("\n") + "\n" + block + "\n" + sep + user


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=old_name, tofile=new_name
        )
    )


class PromptUpdater:
    def __init__(self, ds: Any, *, name: str = "selector") -> None:
        self.ds = ds
        self.name = name

    def active(self, version: str) -> tuple[str, str]:
        """(version, template) of the active prompt; the built-in default when the row does not exist yet."""
        row = self.ds.prompt_version(self.name, version)
        if row is not None and row.get("status", "published") == "published":
            return version, row["content"]
        return version if row is None else "default", DEFAULT_TEMPLATE

    def build(
        self,
        *,
        active_version: str,
        new_version: str,
        train: Mapping[str, Any],
        table: list[dict[str, Any]],
        mistakes: list[dict[str, Any]],
        reward: str,
    ) -> dict[str, str]:
        old_ver, old = self.active(active_version)
        new = with_block(old, render_block(new_version, train, table, mistakes, reward))
        PromptBuilder(new, name=self.name, version=new_version)  # raises if the result is not a usable template
        return {
            "name": self.name,
            "version": new_version,
            "content": new,
            "base_version": old_ver,
            "diff": unified_diff(old, new, f"{self.name}@{old_ver}", f"{self.name}@{new_version}"),
        }


def recorded_mistakes(samples: Iterable[Any], *, limit: int = 3) -> list[dict[str, Any]]:
    """The worst choices with their outcomes: live decisions first (what the engine chose), then, when
    there are too few, backtest windows where the favourite of the whole period (the strategy with the best
    mean reward over all full-information samples) did worst against the best."""
    samples = list(samples)
    sums: dict[str, list[float]] = {}
    for s in samples:
        if s.full_information:
            for k, v in s.outcomes.items():
                sums.setdefault(k, []).append(float(v))
    mean = {k: sum(v) / len(v) for k, v in sums.items() if v}
    found: list[dict[str, Any]] = []
    for s in samples:
        if not s.outcomes or len(s.returns) < 1:
            continue
        if s.source == "live" and s.selected:
            chosen = max(s.selected, key=lambda k: s.selected[k])
        elif s.full_information and len(s.returns) > 1:
            chosen = max(s.returns, key=lambda k: (mean.get(k, float("-inf")), k))
        else:
            continue
        if chosen not in s.returns:
            continue
        better = max(s.returns, key=lambda k: s.returns[k])
        gap = s.returns[better] - s.returns[chosen]
        if s.returns[chosen] >= 0 or better == chosen:
            continue
        found.append(
            {
                "time": s.time,
                "regime": s.regime,
                "chosen": chosen,
                "outcome": s.returns[chosen],
                "better": better,
                "better_outcome": s.returns[better],
                "gap": gap,
                "source": "live decision " + str(s.ref) if s.source == "live" else "backtest, the period's favourite",
            }
        )
    found.sort(key=lambda m: (m["source"].startswith("backtest"), -m["gap"]))
    return found[:limit]
