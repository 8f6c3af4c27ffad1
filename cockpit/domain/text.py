"""Text that came from outside (a model's rationale, an exchange's error message) made safe to store,
show, log and send.

``clean_text`` removes what a terminal, a phone or a log viewer would act on instead of show:
ANSI/VT escape sequences (CSI such as ``ESC[2J``, OSC such as ``ESC]0;title BEL``, DCS/APC/PM/SOS
strings, two-byte escapes), the remaining C0 and C1 control characters (BEL, backspace, carriage
return, ...; tab and newline only where several lines are kept), DEL, and the Unicode bidirectional
overrides and isolates (U+202A-U+202E, U+2066-U+2069, LRM/RLM/ALM) that make text read otherwise than
it is written. Printable text, any script, is kept.

``model_says`` is how a model's words are shown to a person: cleaned, on one line, at most
``MODEL_TEXT_MAX`` characters, quoted and prefixed ``model says:`` so a rationale can never pass for
a message of the cockpit itself.

``Redactor`` blanks configured secret values (exchange keys, LLM key, database password, API keys)
in any text before it is stored or logged. It is built once from the config at start
(``cockpit.config.redactor``) and handed to the stores and the log.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable
from urllib.parse import quote

MODEL_TEXT_MAX = 1_000  # characters of a model's free text that are kept (rationale)
MIN_SECRET_LEN = 4  # shorter values would blank ordinary words; config checks keep real keys longer

_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI ... final byte (ESC[2J, ESC[31m)
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"  # OSC ... BEL or ST (window title, hyperlink)
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)"  # DCS / SOS / PM / APC strings
    r"|\x1b[ -/]*[0-~]"  # two-byte and nF escapes (ESC c, ESC ( B)
)
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Control characters left after the sequences are gone (tab and newline handled separately).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + _BIDI + "]")


def clean_text(text: Any, *, max_chars: int | None = None, one_line: bool = True) -> str:
    """``text`` without escape sequences, control characters or bidi overrides.

    ``one_line``: every run of whitespace (newlines too) becomes one space; otherwise newlines and tabs
    are kept (a carriage return becomes a newline). ``max_chars``: longer text is cut, ending in ``…``."""
    if text is None:
        return ""
    s = _ESCAPES.sub("", str(text))
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    s = _CONTROLS.sub("", s)
    if one_line:
        s = " ".join(s.split())
    if max_chars is not None and len(s) > max_chars:
        s = s[: max(0, max_chars - 1)] + "…"
    return s


def has_controls(text: str) -> bool:
    """True when ``text`` holds anything ``clean_text(..., one_line=False)`` would remove."""
    return bool(_CONTROLS.search(text) or "\x1b" in text or "\r" in text)


MODEL_PREFIX = "model says: "


def model_says(text: Any, *, max_chars: int = MODEL_TEXT_MAX) -> str:
    """A model's words for a person: ``model says: “…”`` (cleaned, one line, capped at ``max_chars``)."""
    s = clean_text(text, max_chars=max_chars).replace("“", '"').replace("”", '"')
    return f"{MODEL_PREFIX}“{s}”"


class Redactor:
    """Replaces every configured secret value in a text by ``token``.

    A value is also found as it appears inside JSON (escaped) and inside a URL (percent-encoded), the two
    ways an exchange or a proxy usually echoes a request back. Values shorter than MIN_SECRET_LEN are
    ignored (they would blank ordinary words)."""

    def __init__(self, secrets: Iterable[str] = (), *, token: str = "[redacted]") -> None:
        forms: set[str] = set()
        for s in secrets:
            if not isinstance(s, str) or len(s) < MIN_SECRET_LEN:
                continue
            forms.update({s, json.dumps(s)[1:-1], quote(s, safe="")})
        self._forms = sorted((f for f in forms if len(f) >= MIN_SECRET_LEN), key=len, reverse=True)
        self.token = token

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, text: str | None) -> str | None:
        if not text or not self._forms:
            return text
        for f in self._forms:
            if f in text:
                text = text.replace(f, self.token)
        return text

    def value(self, obj: Any) -> Any:
        """``obj`` with every string inside (dict values, list items) redacted."""
        if isinstance(obj, str):
            return self(obj)
        if isinstance(obj, dict):
            return {k: self.value(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.value(v) for v in obj]
        return obj


__all__ = ["MODEL_TEXT_MAX", "MODEL_PREFIX", "clean_text", "has_controls", "model_says", "Redactor"]
