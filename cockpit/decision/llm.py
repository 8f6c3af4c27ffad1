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
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import openai

SELECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "selected": {"type": "array", "items": {
            "type": "object",
            "properties": {"strategy": {"type": "string"}, "weight": {"type": "number"}},
            "required": ["strategy", "weight"], "additionalProperties": False}},
        "confidence": {"type": "number"},
        "rationale": {"type": "string"},
        "regime": {"type": "string"},
    },
    "required": ["selected", "confidence", "rationale", "regime"],
    "additionalProperties": False,
}

# Local servers ignore the key, but the openai client insists on one.
LOCAL_PLACEHOLDER_KEY = "not-needed"


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

    @property
    def tokens(self) -> int:
        return int(self.prompt_tokens or 0) + int(self.completion_tokens or 0)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"broken JSON body from the API: {exc.msg} at position {exc.pos}"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout: the API did not answer in time"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {str(exc)[:300]}"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {str(exc)[:300]}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


class LLMClient:
    def __init__(self, *, provider: str, base_url: str | None, model: str, api_key: str | None,
                 timeout_s: float = 30.0, max_retries: int = 2, temperature: float = 0.2,
                 max_tokens: int = 2000, json_schema_mode: bool = False,
                 timer: Callable[[], float] = time.perf_counter) -> None:
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
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or LOCAL_PLACEHOLDER_KEY,
                                     timeout=self.timeout_s, max_retries=self.max_retries)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> "LLMClient | None":
        """The configured client; None when ``llm.provider`` is ``none``; LLMUnavailable when the key is missing."""
        llm = cfg["llm"]
        if llm["provider"] == "none":
            return None
        environ = os.environ if environ is None else environ
        key_env = llm.get("api_key_env")
        key = environ.get(key_env) if key_env else None
        if key_env and not key and llm["provider"] not in ("local", "openai-compatible"):
            raise LLMUnavailable(f"llm.provider is {llm['provider']!r} but the environment variable {key_env} "
                                 "(llm.api_key_env) is not set")
        if not llm.get("base_url"):
            raise LLMUnavailable("llm.base_url is not set")
        return cls(provider=llm["provider"], base_url=llm["base_url"], model=llm.get("model") or "default",
                   api_key=key, timeout_s=llm["timeout_s"], max_retries=llm["max_retries"],
                   temperature=llm["temperature"], max_tokens=llm["max_tokens_per_call"],
                   json_schema_mode=llm["json_schema_mode"])

    @property
    def model_version(self) -> tuple[str, str, dict[str, Any]]:
        """(name, version, metadata) for the model_versions table."""
        meta = {"provider": self.provider, "model": self.model, "base_url": self.base_url,
                "temperature": self.temperature, "max_tokens": self.max_tokens,
                "json_schema_mode": self.json_schema_mode}
        return self.provider, f"{self.model}@t={self.temperature:g}", meta

    def request_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        if self.json_schema_mode:
            fmt: dict[str, Any] = {"type": "json_schema",
                                   "json_schema": {"name": "strategy_selection", "schema": SELECTION_SCHEMA}}
        else:
            fmt = {"type": "json_object"}
        return {"model": self.model, "messages": messages, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "response_format": fmt, "stream": False}

    def complete(self, messages: list[dict[str, str]]) -> LLMResult:
        body = self.request_body(messages)
        start = self._timer()
        attempts = 0
        prompt_tokens = completion_tokens = 0
        content: str | None = None
        finish: str | None = None
        while True:
            attempts += 1
            try:
                resp = self._client.chat.completions.create(**body)
                if isinstance(resp, (str, bytes)) or not hasattr(resp, "choices"):
                    raise ValueError("the API answered with a body that is not a chat completion")
                choice = resp.choices[0]
                content = choice.message.content
                finish = getattr(choice, "finish_reason", None)
                usage = getattr(resp, "usage", None)
                if usage is not None:
                    prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
                    completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
            except (openai.OpenAIError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
                # JSONDecodeError is a ValueError: a broken body is an API error like any other.
                return LLMResult("error", None, body, self._ms(start), prompt_tokens or None,
                                 completion_tokens or None, self._redact(_describe(e)), attempts)
            if content is not None and not isinstance(content, str):
                content = str(content)
            if content and content.strip():
                return LLMResult("ok", content, body, self._ms(start), prompt_tokens or None,
                                 completion_tokens or None, None, attempts, finish)
            if attempts > self.max_retries:
                return LLMResult("blank", content, body, self._ms(start), prompt_tokens or None,
                                 completion_tokens or None, f"blank reply after {attempts} attempts", attempts, finish)

    def _redact(self, text: str) -> str:
        # A server may echo the key back in an error message.
        return text.replace(self._key, "[redacted]") if len(self._key) >= 4 else text

    def _ms(self, start: float) -> int:
        return int(round((self._timer() - start) * 1000))
