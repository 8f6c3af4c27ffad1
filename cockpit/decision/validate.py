"""Strict validation of the LLM selector's reply.

The reply must be one JSON object::

    {"selected": [{"strategy": "<enabled name>", "weight": 0.6}, ...],
     "confidence": 0.7, "rationale": "why", "regime": "trending_up"}

Rules (anything else rejects the whole reply; the caller then falls back to the scorer):
- the text is a JSON object (one surrounding ```json fence is tolerated; prose around it is not);
  at most ``max_chars`` characters; NaN/Infinity literals are rejected;
- ``selected`` is a non-empty list of {"strategy", "weight"}; names are enabled strategies, no
  duplicates; weights are finite numbers in [0, 1]; their sum must be within 1 +- ``tolerance`` and
  is then renormalised to exactly 1;
- ``confidence`` is a finite number in [0, 1]; ``rationale`` a non-empty string, cleaned of escape
  sequences, control characters and bidi overrides (cockpit.domain.text.clean_text), put on one line
  and cut to ``rationale_max`` (1,000) characters; ``regime`` optional (an unknown label is only flagged);
- extra keys are ignored. But a reply that asks for parameters, leverage, sizes, prices or orders
  (as a key anywhere in the object, or as an instruction in its text) is *flagged and rejected*:
  the LLM only chooses strategies and weights, and a model that tries to do more is not trusted
  for that cycle. Nothing it asked for is ever acted upon. So is a reply that addresses the
  operator (tells them to approve or reject orders, or poses as a system notice).

One pydantic model, ``SelectionReply``, is both the JSON schema the LLM is sent in schema mode
(``SELECTION_SCHEMA``, cockpit.decision.llm) and the checks above: its validators raise the reasons
recorded with the fallback, in the order listed (the first failing check is the reason). The schema asks
for exactly these keys; a reply is looser only where said (extra keys ignored, ``regime`` optional).

The rationale is the model's words: wherever it is shown it is marked so (``model says: “…”``,
cockpit.domain.text.model_says).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Iterable

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cockpit.domain.signals import Regime
from cockpit.domain.text import MODEL_TEXT_MAX, clean_text, has_controls

MAX_REPLY_CHARS = 20_000
RATIONALE_MAX = MODEL_TEXT_MAX  # 1,000 characters
WEIGHT_TOLERANCE = 0.05

# Keys an LLM reply must never carry (matched against lower-cased keys at any depth).
_FORBIDDEN_KEY = re.compile(
    r"param|leverage|order|trade|position|size|amount|quantity|qty|price|stop|take_?profit|entry|margin|"
    r"config|setting|exchange|execute|command|risk_limit|max_"
)
# Instructions in free text (rationale or anything else) that overstep the selector's remit.
_FORBIDDEN_TEXT = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bignore\b[^.\n]{0,40}\b(rules?|instructions?|limits?|prompt)\b",
        r"\b(set|increase|raise|use|change|modify|adjust|override|update)\b[^.\n]{0,40}"
        r"\b(leverage|parameters?|params|stop[- ]?loss|take[- ]?profit|position size|risk limits?)\b",
        r"\b\d+(\.\d+)?\s*x\s*leverage\b|\bleverage\s*(of|to|=|:)?\s*\d+(\.\d+)?\s*x\b",
        r"\b(place|submit|open|execute|send|create|cancel)\b[^.\n]{0,30}\borders?\b",
        r"\b(market|limit)\s+(buy|sell)\b|\b(buy|sell|long|short)\s+\d+(\.\d+)?\s*(btc|contracts?|usdt)\b",
        r"\b(disable|turn off|bypass|skip)\b[^.\n]{0,30}\b(risk|approval|kill switch|checks?)\b",
        # addressing the approver instead of the selector's task
        r"\b(approve|reject|confirm|sign off)\b[^.\n]{0,40}\b(orders?|trades?|pending|every\w*)\b",
        r"\b(system|admin(istrator)?|security|compliance)\s+(notice|message|alert|override|instruction)s?\b",
        r"\b(note|notice|message|attention)\s+(to|for)\s+(the\s+)?(operator|trader|approver|user|human)s?\b",
    )
]


class ReplyRejected(ValueError):
    """The reply is not a usable selection; ``str()`` is the reason recorded with the fallback."""

    def __init__(self, reason: str, flags: Iterable[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.flags = list(flags)


@dataclass(frozen=True)
class Selection:
    weights: dict[str, float]  # renormalised, sum 1, in the reply's order
    confidence: float
    rationale: str
    regime: str | None
    flags: list[str] = field(default_factory=list)  # non-fatal notes (unknown regime label, truncation)


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-finite number {name} in reply")


def _strip_fence(text: str) -> str:
    t = text.strip()
    m = re.fullmatch(r"```(?:json|JSON)?\s*\n?(.*?)\n?```", t, re.DOTALL)
    return m.group(1).strip() if m else t


def _forbidden_keys(obj: Any, path: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{path}.{k}" if path else str(k)
            if path == "" and k in _REPLY_KEYS:
                out += _forbidden_keys(v, p)
                continue
            if path.startswith("selected[") and path.count(".") == 0 and k in _ITEM_KEYS:
                out += _forbidden_keys(v, p)
                continue
            if _FORBIDDEN_KEY.search(str(k).lower()):
                out.append(p)
            out += _forbidden_keys(v, p)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _forbidden_keys(v, f"{path}[{i}]")
    return out


def _strings(obj: Any) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def forbidden_text(text: str) -> str | None:
    for rx in _FORBIDDEN_TEXT:
        m = rx.search(text)
        if m:
            return m.group(0)
    return None


def _refuse(reason: str) -> PydanticCustomError:
    """A failed check inside the model: the reason is the message, taken literally (no context to format)."""
    return PydanticCustomError("reply", reason)


def _number(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _refuse(f"{what}is not a number: {json.dumps(v)[:60]}")
    try:
        f = float(v)
    except OverflowError:  # an integer beyond float (pydantic checks every field, so this must not escape)
        f = math.inf
    if not math.isfinite(f):
        raise _refuse(f"{what}is not finite")
    return f


class _Reply(BaseModel):
    """Missing keys are validated as null (so each check names what is missing in its own words); extra keys
    are ignored, but the schema sent to the LLM allows none."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"additionalProperties": False})

    @model_validator(mode="before")
    @classmethod
    def _missing_as_null(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise _refuse("is not an object")
        return {**data, **{k: data.get(k) for k in cls.model_fields}}


# An item's checks say what is wrong; _reason puts "selected[i]" (from the error's location) in front.
def _strategy(v: Any, info: ValidationInfo) -> str:
    ctx = info.context or {}
    if not isinstance(v, str) or (v not in ctx["enabled"] and v != "cash"):
        shown = json.dumps(v)[:60] if not isinstance(v, str) else repr(v[:60])
        raise _refuse(f"unknown or disabled strategy {shown}")
    if v in ctx["seen"]:
        raise _refuse(f"strategy {v!r} listed twice")
    ctx["seen"].add(v)
    return v


def _weight(v: Any) -> float:
    w = _number(v, "")
    if not (0.0 <= w <= 1.0):
        raise _refuse(f"{w:g} is outside [0, 1]")
    return w


class StrategyWeight(_Reply):
    strategy: Annotated[str, BeforeValidator(_strategy)]
    weight: Annotated[float, BeforeValidator(_weight)]


def _selected(v: Any) -> Any:
    if not isinstance(v, list) or not v:
        raise _refuse("'selected' must be a non-empty list")
    return v


def _confidence(v: Any) -> float:
    c = _number(v, "confidence ")
    if not (0.0 <= c <= 1.0):
        raise _refuse(f"confidence {c:g} is outside [0, 1]")
    return c


def _rationale(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _refuse("'rationale' must be a non-empty string")
    return v


class SelectionReply(_Reply):
    """The selector's reply. Validate with ``context={"enabled": [...], "tolerance": t, "seen": set()}``."""

    selected: Annotated[list[StrategyWeight], BeforeValidator(_selected)]
    confidence: Annotated[float, BeforeValidator(_confidence)]
    rationale: Annotated[str, BeforeValidator(_rationale)]
    # asked for as a string; a reply's missing, non-string or unknown label is only flagged (validate_reply)
    regime: Annotated[Any, WithJsonSchema({"type": "string"})] = Field()

    @field_validator("selected", mode="after")
    @classmethod
    def _weights_sum_to_one(cls, v: list[StrategyWeight], info: ValidationInfo) -> list[StrategyWeight]:
        tolerance = (info.context or {})["tolerance"]
        total = sum(x.weight for x in v)
        if abs(total - 1.0) > tolerance:
            raise _refuse(f"weights sum to {total:.4g}, not within 1 +- {tolerance:g}")
        return v


def _plain_schema(schema: Any, defs: dict[str, Any] | None = None) -> Any:
    """The model's JSON schema inlined (no $defs/$ref), without titles and docstrings: what the LLM is sent."""
    if defs is None:
        defs = schema.get("$defs", {}) if isinstance(schema, dict) else {}
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _plain_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _plain_schema(v, defs) for k, v in schema.items() if k not in ("title", "description", "$defs")}
    if isinstance(schema, list):
        return [_plain_schema(v, defs) for v in schema]
    return schema


SELECTION_SCHEMA: dict[str, Any] = _plain_schema(SelectionReply.model_json_schema())
_REPLY_KEYS = tuple(SelectionReply.model_fields)
_ITEM_KEYS = tuple(StrategyWeight.model_fields)


def _reason(e: ValidationError) -> str:
    """The first failed check's reason (checks run in the order of the module docstring)."""
    err = e.errors(include_url=False)[0]
    loc, msg = err["loc"], err["msg"]
    if len(loc) == 2:  # an item of 'selected' that is not an object
        return f"selected[{loc[1]}] {msg}"
    if len(loc) == 3:
        return f"selected[{loc[1]}]: {msg}" if loc[2] == "strategy" else f"selected[{loc[1]}].weight {msg}"
    return msg


def validate_reply(
    text: str | None,
    enabled: Iterable[str],
    *,
    tolerance: float = WEIGHT_TOLERANCE,
    rationale_max: int = RATIONALE_MAX,
    max_chars: int = MAX_REPLY_CHARS,
) -> Selection:
    """Parse and check one reply; raise ReplyRejected with the reason when it is not usable."""
    enabled = list(enabled)
    if text is None or not text.strip():
        raise ReplyRejected("blank reply")
    if len(text) > max_chars:
        raise ReplyRejected(f"reply too long ({len(text)} characters, limit {max_chars})")
    body = _strip_fence(text)
    try:
        obj = json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise ReplyRejected("reply is not JSON: nested too deeply") from None
    except ValueError as e:
        hit = forbidden_text(body)
        text_flags = [f"instruction in text: {hit!r}"] if hit else []
        raise ReplyRejected(
            f"reply is not JSON ({str(e)[:80]})" + (f"; flagged {text_flags[0]}" if text_flags else ""), text_flags
        ) from None
    if not isinstance(obj, dict):
        raise ReplyRejected(f"reply is JSON but not an object (got {type(obj).__name__})")

    flags: list[str] = []
    keys = _forbidden_keys(obj)
    if keys:
        flags += [f"forbidden key {k}" for k in keys[:5]]
    for s in _strings(obj):
        hit = forbidden_text(s) or forbidden_text(clean_text(s))  # escapes may split a word
        if hit:
            flags.append(f"instruction in text: {hit[:60]!r}")
            break
    if flags:
        raise ReplyRejected(
            "reply oversteps the selector (asks for parameters, leverage or orders): " + "; ".join(flags), flags
        )

    try:
        reply = SelectionReply.model_validate(obj, context={"enabled": enabled, "tolerance": tolerance, "seen": set()})
    except ValidationError as e:
        raise ReplyRejected(_reason(e)) from None
    weights = {x.strategy: x.weight for x in reply.selected}
    total = sum(weights.values())
    weights = {k: v / total for k, v in weights.items()}
    conf = reply.confidence
    rationale = reply.rationale
    notes: list[str] = []
    if has_controls(rationale):
        notes.append("control characters removed from the rationale")
    cleaned = clean_text(rationale)
    if not cleaned:
        raise ReplyRejected("'rationale' has no printable text")
    if len(cleaned) > rationale_max:
        notes.append(f"rationale cut to {rationale_max} characters")
    rationale = clean_text(cleaned, max_chars=rationale_max)
    regime = reply.regime
    if regime is not None and not isinstance(regime, str):
        regime = None
        notes.append("regime label is not a string")
    elif isinstance(regime, str) and regime not in {r.value for r in Regime}:
        notes.append(f"unknown regime label {regime[:40]!r}")
    return Selection(weights=weights, confidence=conf, rationale=rationale, regime=regime, flags=notes)
