"""LLMClient: one chat completion through the ``openai`` package, never raising for remote trouble.

Providers are OpenAI-compatible endpoints: DeepSeek, Qwen (DashScope compatible mode), or a local
server (vLLM, Ollama, llama.cpp). JSON mode (``response_format={"type": "json_object"}``) is always
on; DeepSeek requires the word JSON in the prompt, which the selector prompt has. Schema mode
(``json_schema``) only when ``llm.json_schema_mode`` is true and the provider supports it.

Retries: HTTP 429/5xx, timeouts and dropped connections are retried by the openai client itself
(``max_retries``, honouring Retry-After); a blank or whitespace-only answer is asked again here, up
to ``max_retries`` more times. A broken HTTP body (``json.JSONDecodeError``) or a non-JSON body
counts as an API error. The API key comes from the environment variable named in the config; it is
given to the openai client only and never appears in ``LLMResult`` (what gets recorded).

The provider is not trusted with the budget or the memory:
- Tokens are counted here. Each answered attempt counts at least a local estimate (characters / 4 of
  the messages sent and of the text received); a reported usage above that is taken as is. A usage
  that is nonsense (negative, not an integer, more than 4 tokens per character plus 4,096) is ignored
  for the estimate and ``LLMResult.usage_note`` says so (the selector records a WARN). Missing usage
  counts the estimate, never 0.
- A reply body is read up to ``MAX_REPLY_BYTES`` (64 KiB) and no further: a larger one (declared or
  streamed) is an error, not retried and never parsed. Replies are asked for uncompressed
  (``Accept-Encoding: identity``), and a compressed reply is refused, so the cap bounds what is
  decoded too.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import httpx2
import openai

# The schema mode's JSON schema: the reply model that validate_reply checks with (one source for both).
from cockpit.decision.validate import SELECTION_SCHEMA
from cockpit.domain.settings import Config


# Local servers ignore the key, but the openai client insists on one.
LOCAL_PLACEHOLDER_KEY = "not-needed"

MAX_REPLY_BYTES = 65_536  # one reply's HTTP body; a selection is a few hundred bytes
CHARS_PER_TOKEN = 4  # the local estimate: tokens >= characters / 4
USAGE_SLACK = 4_096  # a reported count above 4 tokens per character + this is nonsense


def estimate_tokens(chars: int) -> int:
    """The local lower bound on the tokens of ``chars`` characters (at least 1 for any text)."""
    return -(-int(chars) // CHARS_PER_TOKEN) if chars > 0 else 0


def _counted(reported: Any, estimate: int, bound: int, what: str) -> tuple[int, str | None]:
    """(tokens to count, a note when the reported value was ignored)."""
    if reported is None:
        return estimate, None
    if isinstance(reported, bool) or not isinstance(reported, int):
        return estimate, f"{what} {str(reported)[:40]!r} is not an integer"
    if reported < 0:
        return estimate, f"{what} {reported} is negative"
    if reported > bound:
        return estimate, f"{what} {reported} is absurd (more than {bound} for what was sent and received)"
    return max(reported, estimate), None


class ReplyTooLarge(openai.OpenAIError):
    """The reply body is over MAX_REPLY_BYTES (or compressed): not read further, not parsed, not retried.
    An OpenAIError, so the openai client passes it through without a retry."""


class _CappedStream(httpx2.SyncByteStream):
    def __init__(self, inner: Any, limit: int) -> None:
        self._inner, self._limit = inner, limit

    def __iter__(self):
        n = 0
        for chunk in self._inner:
            n += len(chunk)
            if n > self._limit:
                raise ReplyTooLarge(f"reply too large: more than {self._limit} bytes; not read further or parsed")
            yield chunk

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def _cap_reply(limit: int) -> Callable[[Any], None]:
    """An httpx response hook: runs before the body is read; bounds what will be read."""

    def hook(response: Any) -> None:
        enc = (response.headers.get("content-encoding") or "identity").strip().lower()
        if enc not in ("", "identity"):
            response.close()
            raise ReplyTooLarge(
                f"compressed reply ({enc[:20]}) refused: asked for identity; its size cannot be bounded before decoding"
            )
        declared = (response.headers.get("content-length") or "").strip()
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise ReplyTooLarge(f"reply too large: {int(declared)} bytes declared, limit {limit}; not read or parsed")
        response.stream = _CappedStream(response.stream, limit)

    return hook


class LLMUnavailable(RuntimeError):
    """The LLM is configured but cannot be used (e.g. its key variable is not set)."""


@dataclass
class LLMResult:
    status: str  # ok | blank | error
    content: str | None
    request: dict[str, Any]  # the request body as sent (no headers, no key)
    latency_ms: int
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    attempts: int = 1
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    usage_note: str | None = None  # the provider's usage was nonsense: the local estimate was counted

    @property
    def tokens(self) -> int:
        return int(self.prompt_tokens or 0) + int(self.completion_tokens or 0)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"broken JSON body from the API: {exc.msg} at position {exc.pos}"
    if isinstance(exc, ReplyTooLarge):
        return str(exc)
    if isinstance(exc, openai.APITimeoutError):
        return "timeout: the API did not answer in time"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {str(exc)[:300]}"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {str(exc)[:300]}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


class LLMClient:
    def __init__(
        self,
        *,
        provider: str,
        base_url: str | None,
        model: str,
        api_key: str | None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        temperature: float = 0.2,
        max_tokens: int = 2000,
        json_schema_mode: bool = False,
        timer: Callable[[], float] = time.perf_counter,
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ) -> None:
        self.provider = provider
        self.base_url = base_url
        self.model = model
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.json_schema_mode = bool(json_schema_mode)
        self._timer = timer  # a duration counter for latency, not the time of day
        self._key = api_key or ""
        self.max_reply_bytes = int(max_reply_bytes)
        http = openai.DefaultHttpxClient(event_hooks={"response": [_cap_reply(self.max_reply_bytes)]})
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or LOCAL_PLACEHOLDER_KEY,
            timeout=self.timeout_s,
            max_retries=self.max_retries,
            http_client=http,
            default_headers={"Accept-Encoding": "identity"},
        )

    @classmethod
    def from_config(cls, cfg: Config, environ: Mapping[str, str] | None = None) -> "LLMClient | None":
        """The configured client; None when ``llm.provider`` is ``none``; LLMUnavailable when the key is missing."""
        llm = cfg["llm"]
        if llm["provider"] == "none":
            return None
        environ = os.environ if environ is None else environ
        key_env = llm.get("api_key_env")
        key = environ.get(key_env) if key_env else None
        if key_env and not key and llm["provider"] not in ("local", "openai-compatible"):
            raise LLMUnavailable(
                f"llm.provider is {llm['provider']!r} but the environment variable {key_env} "
                "(llm.api_key_env) is not set"
            )
        if not llm.get("base_url"):
            raise LLMUnavailable("llm.base_url is not set")
        return cls(
            provider=llm["provider"],
            base_url=llm["base_url"],
            model=llm.get("model") or "default",
            api_key=key,
            timeout_s=llm["timeout_s"],
            max_retries=llm["max_retries"],
            temperature=llm["temperature"],
            max_tokens=llm["max_tokens_per_call"],
            json_schema_mode=llm["json_schema_mode"],
        )

    @property
    def model_version(self) -> tuple[str, str, dict[str, Any]]:
        """(name, version, metadata) for the model_versions table."""
        meta = {
            "provider": self.provider,
            "model": self.model,
            "base_url": self.base_url,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "json_schema_mode": self.json_schema_mode,
        }
        return self.provider, f"{self.model}@t={self.temperature:g}", meta

    def request_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        if self.json_schema_mode:
            fmt: dict[str, Any] = {
                "type": "json_schema",
                "json_schema": {"name": "strategy_selection", "schema": SELECTION_SCHEMA},
            }
        else:
            fmt = {"type": "json_object"}
        return {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "response_format": fmt,
            "stream": False,
        }

    def complete(self, messages: list[dict[str, str]]) -> LLMResult:
        body = self.request_body(messages)
        start = self._timer()
        attempts = 0
        prompt_tokens = completion_tokens = 0
        notes: list[str] = []
        content: str | None = None
        finish: str | None = None
        prompt_chars = sum(len(str(m.get("content") or "")) for m in messages)
        while True:
            attempts += 1
            try:
                resp = self._client.chat.completions.create(**body)
                if isinstance(resp, (str, bytes)) or not hasattr(resp, "choices"):
                    raise ValueError("the API answered with a body that is not a chat completion")
                choice = resp.choices[0]
                content = choice.message.content
                finish = getattr(choice, "finish_reason", None)
                if content is not None and not isinstance(content, str):
                    content = str(content)
                p, c = self._count(resp, choice, content, prompt_chars, notes)
                prompt_tokens += p
                completion_tokens += c
            except (openai.OpenAIError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
                # JSONDecodeError is a ValueError: a broken body is an API error like any other.
                if isinstance(e, ReplyTooLarge):  # the provider answered (at length): count what went both ways
                    prompt_tokens += estimate_tokens(prompt_chars)
                    completion_tokens += estimate_tokens(self.max_reply_bytes)
                return LLMResult(
                    "error",
                    None,
                    body,
                    self._ms(start),
                    prompt_tokens or None,
                    completion_tokens or None,
                    self._redact(_describe(e)),
                    attempts,
                    usage_note=self._note(notes),
                )
            if content and content.strip():
                return LLMResult(
                    "ok",
                    content,
                    body,
                    self._ms(start),
                    prompt_tokens,
                    completion_tokens,
                    None,
                    attempts,
                    finish,
                    usage_note=self._note(notes),
                )
            if attempts > self.max_retries:
                return LLMResult(
                    "blank",
                    content,
                    body,
                    self._ms(start),
                    prompt_tokens,
                    completion_tokens,
                    f"blank reply after {attempts} attempts",
                    attempts,
                    finish,
                    usage_note=self._note(notes),
                )

    def _count(
        self, resp: Any, choice: Any, content: str | None, prompt_chars: int, notes: list[str]
    ) -> tuple[int, int]:
        """The tokens one answered attempt counts: the reported usage when it is sane and not below the
        local estimate, else the estimate (nonsense noted in ``notes``)."""
        usage = getattr(resp, "usage", None)
        reasoning = getattr(choice.message, "reasoning_content", None)  # DeepSeek's reasoner bills it too
        out_chars = len(content or "") + (len(reasoning) if isinstance(reasoning, str) else 0)
        p, note_p = _counted(
            getattr(usage, "prompt_tokens", None) if usage is not None else None,
            estimate_tokens(prompt_chars),
            CHARS_PER_TOKEN * prompt_chars + USAGE_SLACK,
            "prompt_tokens",
        )
        c, note_c = _counted(
            getattr(usage, "completion_tokens", None) if usage is not None else None,
            estimate_tokens(out_chars),
            max(self.max_tokens, CHARS_PER_TOKEN * out_chars) + USAGE_SLACK,
            "completion_tokens",
        )
        notes += [n for n in (note_p, note_c) if n]
        return p, c

    @staticmethod
    def _note(notes: list[str]) -> str | None:
        if not notes:
            return None
        return "provider usage ignored, local estimate counted: " + "; ".join(notes)

    def _redact(self, text: str) -> str:
        # A server may echo the key back in an error message.
        return text.replace(self._key, "[redacted]") if len(self._key) >= 4 else text

    def _ms(self, start: float) -> int:
        return int(round((self._timer() - start) * 1000))
