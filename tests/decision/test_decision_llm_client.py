"""The real openai client against the loopback OpenAI-compatible server."""

from __future__ import annotations

import json

from support.fake_openai import Reply

from decision_helpers import SECRET

MESSAGES = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "Pick strategies as JSON."}]


def test_json_mode_request_and_ok_reply(fake_openai, client_for):
    fake_openai.script(Reply(content='{"selected": []}', prompt_tokens=321, completion_tokens=12))
    res = client_for().complete(MESSAGES)
    assert res.status == "ok" and res.content == '{"selected": []}'
    assert (res.prompt_tokens, res.completion_tokens, res.tokens) == (321, 12, 333)
    [req] = fake_openai.chat_requests
    assert req.path == "/v1/chat/completions"
    assert req.body["response_format"] == {"type": "json_object"}
    assert req.body["stream"] is False and req.body["model"] == "fake-model" and req.body["max_tokens"] == 500
    assert "JSON" in " ".join(m["content"] for m in req.body["messages"])
    # The key goes to the server in the Authorization header, and nowhere into what we record.
    assert req.headers.get("authorization") == f"Bearer {SECRET}"
    assert SECRET not in json.dumps(res.request) and "Authorization" not in json.dumps(res.request)


def test_schema_mode_only_when_asked(fake_openai, client_for):
    fake_openai.script(Reply(content="{}"))
    client_for(json_schema_mode=True).complete(MESSAGES)
    fmt = fake_openai.chat_requests[0].body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"]["required"][0] == "selected"


def test_429_then_success_is_retried_by_the_client(fake_openai, client_for):
    fake_openai.script(
        Reply.status(429, retry_after_ms=1), Reply.status(429, retry_after_ms=1), Reply(content='{"a": 1}')
    )
    res = client_for(max_retries=2).complete(MESSAGES)
    assert res.status == "ok" and res.content == '{"a": 1}'
    assert len(fake_openai.chat_requests) == 3


def test_429_past_the_retries_is_an_error(fake_openai, client_for):
    fake_openai.script(*[Reply.status(429, retry_after_ms=1)] * 3)
    res = client_for(max_retries=1).complete(MESSAGES)
    assert res.status == "error" and "HTTP 429" in res.error and res.content is None
    assert len(fake_openai.chat_requests) == 2


def test_500_is_an_error_and_500_then_ok_recovers(fake_openai, client_for):
    fake_openai.script(Reply.status(500))
    res = client_for(max_retries=0).complete(MESSAGES)
    assert res.status == "error" and "HTTP 500" in res.error
    fake_openai.reset()
    fake_openai.script(Reply.status(500), Reply(content='{"b": 2}'))
    assert client_for(max_retries=1).complete(MESSAGES).content == '{"b": 2}'


def test_timeout_is_an_error(fake_openai, client_for):
    fake_openai.script(Reply.slow(30, content='{"late": true}'))
    res = client_for(timeout_s=0.3, max_retries=0).complete(MESSAGES)
    assert res.status == "error" and res.error.startswith("timeout")


def test_blank_content_is_asked_again(fake_openai, client_for):
    fake_openai.script(Reply.blank(), Reply.blank("\n\t "), Reply(content='{"c": 3}'))
    res = client_for(max_retries=2).complete(MESSAGES)
    assert res.status == "ok" and res.content == '{"c": 3}' and res.attempts == 3
    assert res.prompt_tokens == 300  # tokens of every attempt count against the budget


def test_blank_content_past_the_retries(fake_openai, client_for):
    fake_openai.script(Reply.blank(), Reply.blank(), Reply(content=None))
    res = client_for(max_retries=2).complete(MESSAGES)
    assert res.status == "blank" and res.attempts == 3 and "blank" in res.error


def test_broken_json_body_is_an_api_error(fake_openai, client_for):
    fake_openai.script(Reply.raw(b'{"id": "chatcmpl-1", "choices": [{"message": {"content": "{\\"sel'))
    res = client_for(max_retries=0).complete(MESSAGES)
    assert res.status == "error" and "broken JSON body" in res.error


def test_non_json_body_and_empty_choices_are_api_errors(fake_openai, client_for):
    fake_openai.script(Reply.raw("<html>bad gateway</html>", content_type="text/html"))
    res = client_for(max_retries=0).complete(MESSAGES)
    assert res.status == "error"
    fake_openai.script(Reply.raw(json.dumps({"id": "x", "object": "chat.completion", "choices": []})))
    res = client_for(max_retries=0).complete(MESSAGES)
    assert res.status == "error"


def test_from_config_presets_and_missing_key():
    import pytest

    from cockpit.config import load_config
    from cockpit.decision.llm import LLMClient, LLMUnavailable

    assert LLMClient.from_config(load_config(None, environ={})) is None
    cfg = load_config(None, environ={"COCKPIT__LLM__PROVIDER": "deepseek"})
    assert (cfg["llm"]["base_url"], cfg["llm"]["model"]) == ("https://api.deepseek.com", "deepseek-chat")
    with pytest.raises(LLMUnavailable, match="DEEPSEEK_API_KEY"):
        LLMClient.from_config(cfg, environ={})
    c = LLMClient.from_config(cfg, environ={"DEEPSEEK_API_KEY": "sk-x"})
    assert c.model == "deepseek-chat" and c.model_version[1] == "deepseek-chat@t=0.2"
    assert "sk-x" not in json.dumps(c.model_version[2])
    qwen = load_config(None, environ={"COCKPIT__LLM__PROVIDER": "qwen"})
    assert "dashscope" in qwen["llm"]["base_url"]
    local = load_config(
        None, environ={"COCKPIT__LLM__PROVIDER": "local", "COCKPIT__LLM__BASE_URL": "http://127.0.0.1:8080/v1"}
    )
    assert LLMClient.from_config(local, environ={}).base_url == "http://127.0.0.1:8080/v1"
