"""Adversarial review of ``streamblocks chat``: bugs a user would hit, each pinned by a
strict xfail until it is fixed (the reason says what is wrong).

Most run the CLI as a subprocess against the demo model or the local server (as
test_chat.py does); the ones about unusual event sequences drive ``run_chat`` in-process
with a ``ScriptedModel``, or the live view against an offscreen console (as
test_live_view.py does).
"""

from __future__ import annotations

import io
import json
import sys
from typing import TYPE_CHECKING, Any

import pytest

import streamblocks.models
from streamblocks.cli._chat import run_chat
from streamblocks.cli._live import LiveView
from streamblocks.cli._main import _parser
from streamblocks.testing import ScriptedModel
from tests.cli.test_chat import CHAT_ROUTE, OPENAI_ERRORS, OPENAI_TEXT, error_line, openai_args
from tests.cli.test_live_view import ANSI, Clock, finish, offscreen, start, text
from tests.providers.server import Reply

if TYPE_CHECKING:
    from pathlib import Path

    from tests.cli.conftest import RunCLI
    from tests.providers.server import LocalServer

MESSAGE_START = {"event": "message-start", "role": "ai"}
MESSAGE_FINISH = {"event": "message-finish", "metadata": {"finish_reason": "stop"}}


def chat_in_process(
    monkeypatch: pytest.MonkeyPatch, model: ScriptedModel, *argv: str
) -> tuple[int, str, str]:
    """``streamblocks chat --model x ARGV`` in-process, with ``model`` answering, stdout
    and stderr plain buffers (not terminals, so the plain view is used)."""
    monkeypatch.setattr(streamblocks.models, "init_chat_model", lambda spec, **kw: model)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    out, err = io.StringIO(), io.StringIO()
    args = _parser().parse_args(["chat", "--model", "x", *argv])
    code = run_chat(args, out, err)
    return code, out.getvalue(), err.getvalue()


def openai_chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


# -- the plain output drops text that does not come as a text delta ---------------------

# The stream treats text on a block's start as its first delta, and a finish's text
# that extends the deltas as their tail ("reconcile"); `replay` prints both. The plain
# view only writes text-delta events, so this text never reaches stdout.
WHOLE_TEXT_SCRIPTS = {
    "text-on-start": [
        MESSAGE_START,
        start(0, {"type": "text", "text": "Whole answer."}),
        finish(0, {"type": "text", "text": "Whole answer."}),
        MESSAGE_FINISH,
    ],
    "text-only-at-finish": [
        MESSAGE_START,
        start(0, {"type": "text", "text": ""}),
        finish(0, {"type": "text", "text": "Whole answer."}),
        MESSAGE_FINISH,
    ],
    "finish-extends-deltas": [
        MESSAGE_START,
        start(0, {"type": "text", "text": ""}),
        text(0, "Whole "),
        finish(0, {"type": "text", "text": "Whole answer."}),
        MESSAGE_FINISH,
    ],
}


@pytest.mark.parametrize("script", WHOLE_TEXT_SCRIPTS.values(), ids=WHOLE_TEXT_SCRIPTS.keys())
def test_plain_output_includes_text_not_sent_as_deltas(
    monkeypatch: pytest.MonkeyPatch, script: list[dict[str, Any]]
) -> None:
    model = ScriptedModel(script)
    assert model.invoke("hi").text == "Whole answer."
    code, out, err = chat_in_process(monkeypatch, model, "hi")
    assert (code, err) == (0, "")
    assert out == "Whole answer.\n"


def test_responses_text_without_deltas_reaches_stdout(run_cli: RunCLI, server: LocalServer) -> None:
    """The same over HTTP: a server that sends the message item whole. ``--json`` and
    ``streamblocks replay`` show the text; the plain output must too."""
    item = {
        "id": "msg_1",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Whole answer.", "annotations": []}],
    }
    response = {"id": "resp_1", "object": "response", "created_at": 1, "model": "gpt-4o"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**response, "status": "in_progress"}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {
            "type": "response.completed",
            "response": {**response, "status": "completed", "output": [item]},
        },
    ]
    body = b"".join(
        f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': n})}\n\n".encode()
        for n, e in enumerate(events)
    )
    server.route("/v1/responses", Reply(chunks=[body]), Reply(chunks=[body]))
    args = ["chat", "--model", "openai-responses:gpt-4o", "--base-url", f"{server.url}/v1"]
    as_json = run_cli(*args, "--json", "hi")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["content"][0]["text"] == "Whole answer."
    result = run_cli(*args, "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Whole answer.\n"


# -- the live view ----------------------------------------------------------------------


def test_live_view_shows_a_text_block_that_only_finishes() -> None:
    console, screen = offscreen()
    with LiveView(console, label="test:model", clock=Clock(step=0.01)) as view:
        view.event(MESSAGE_START)
        view.event(finish(0, {"type": "text", "text": "Arrived whole."}))
        view.event(MESSAGE_FINISH)
        view.end(None)
    assert "Arrived whole." in ANSI.sub("", screen.getvalue())


def test_live_view_marks_a_finish_only_server_tool_call_as_server() -> None:
    console, screen = offscreen()
    call = {"type": "server_tool_call", "id": "s1", "name": "web_search", "args": {"q": "x"}}
    with LiveView(console, label="test:model", clock=Clock(step=0.01)) as view:
        view.event(finish(0, call))
        view.end(None)
    assert '⚙ server web_search {"q": "x"}' in ANSI.sub("", screen.getvalue())


def test_live_view_shows_the_tail_a_finish_adds() -> None:
    console, screen = offscreen()
    with LiveView(console, label="test:model", clock=Clock(step=0.01)) as view:
        view.event(start(0, {"type": "text", "text": ""}))
        view.event(text(0, "Partly "))
        view.event(finish(0, {"type": "text", "text": "Partly streamed, then completed."}))
        view.end(None)
    assert "Partly streamed, then completed." in ANSI.sub("", screen.getvalue())


# -- the conversation -------------------------------------------------------------------


def test_an_invalid_tool_call_is_answered_before_the_next_prompt(
    run_cli: RunCLI, server: LocalServer
) -> None:
    cut = (
        openai_chunk(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ],
            }
        )
        + openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Par'}}]})
        + openai_chunk({}, "length")
        + b"data: [DONE]\n\n"
    )
    server.route(CHAT_ROUTE, Reply(chunks=[cut]), Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    result = run_cli(*openai_args(server), input="weather?\ngo on\n")
    assert result.returncode == 0, result.stderr
    assert "[invalid tool call] get_weather" in result.stdout
    messages = server.requests[1].body["messages"]
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["call_1"]
    # Every call the assistant message carries needs a tool message answering it.
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "user"]
    assert messages[2]["tool_call_id"] == "call_1"


# -- errors: one line, no traceback ---------------------------------------------------


def test_record_to_a_directory_is_a_usage_error(run_cli: RunCLI, tmp_path: Path) -> None:
    (tmp_path / "replies").mkdir()
    result = run_cli("chat", "--model", "demo", "--record", "replies", "thanks")
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert "replies" in error_line(result)


def test_a_nan_timeout_is_a_usage_error(run_cli: RunCLI) -> None:
    result = run_cli("chat", "--model", "demo", "--timeout", "nan", "thanks")
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert "--timeout" in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_non_finite_temperature_is_a_usage_error(
    run_cli: RunCLI, server: LocalServer, value: str
) -> None:
    server.route(CHAT_ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    result = run_cli(*openai_args(server, "--temperature", value, "hi"))
    assert result.returncode == 2
    assert "--temperature" in error_line(result)
    assert server.requests == []


def test_a_multi_line_provider_message_is_still_one_line(
    run_cli: RunCLI, server: LocalServer
) -> None:
    """``--json`` with a failure: the partial message's JSON on stdout, one line on stderr."""
    error = {"error": {"message": "Internal error\nwhile generating", "code": 500}}
    body = openai_chunk({"role": "assistant", "content": "Hi"})
    body += b"data: " + json.dumps(error).encode() + b"\n\n"
    server.route(CHAT_ROUTE, Reply(chunks=[body]))
    result = run_cli(*openai_args(server, "--json", "hi"))
    assert result.returncode == 1
    assert json.loads(result.stdout)["content"][0]["text"] == "Hi"
    line = error_line(result)
    assert "Internal error" in line
    assert "while generating" in line


def test_a_failed_request_claims_no_recording(
    run_cli: RunCLI, server: LocalServer, tmp_path: Path
) -> None:
    server.route(CHAT_ROUTE, Reply(401, [OPENAI_ERRORS[401]]))
    result = run_cli(*openai_args(server, "--record", "r.sse", "hi"))
    assert result.returncode == 3
    assert "HTTP 401" in error_line(result)  # the only line: no "recorded the reply"
    recording = tmp_path / "r.sse"
    assert not recording.exists() or recording.stat().st_size > 0
