"""``streamblocks chat`` run as a user runs it: a subprocess whose stdout is a pipe
(so it prints plain text), against the offline demo model or a local HTTP server
replaying real recorded provider streams. What is checked is what a user or a
script sees: stdout, stderr and the exit code."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

import streamblocks
from streamblocks import AIMessage, HumanMessage, SystemMessage, ToolMessage
from streamblocks.cli._chat import DEFAULT_MODEL_NOTICE, NO_TOOLS, SESSION_HELP
from streamblocks.models import DemoModel
from streamblocks.providers._replay import replay
from tests.cli.conftest import CLI_TIMEOUT, clean_env
from tests.providers.replay import FIXTURES
from tests.providers.server import Reply, sse_chunks

if TYPE_CHECKING:
    from pathlib import Path

    from streamblocks import Message
    from tests.cli.conftest import RunCLI
    from tests.providers.server import LocalServer

PARIS = "What's the weather in Paris?"
CHAT_ROUTE = "/v1/chat/completions"

OPENAI_TEXT = FIXTURES / "openai-chat" / "gpt-4o-text-usage-chunk.sse"
OPENAI_TOOL = FIXTURES / "openai-chat" / "gpt-4o-single-tool-call.sse"
RESPONSES_TEXT = FIXTURES / "openai-responses" / "text.sse"
RESPONSES_REASONING_TOOL = FIXTURES / "openai-responses" / "reasoning-item-then-function-call.sse"
ANTHROPIC_THINKING = FIXTURES / "anthropic" / "thinking-signature-text.sse"
GEMINI_TEXT = FIXTURES / "gemini" / "gemini-2.0-flash-exp-text.sse"

# Error bodies as OpenAI sends them.
OPENAI_ERRORS = {
    401: b'{"error": {"message": "Incorrect API key provided: sk-test.", '
    b'"type": "invalid_request_error", "code": "invalid_api_key"}}',
    403: b'{"error": {"message": "Project does not have access to model gpt-4o", '
    b'"type": "invalid_request_error", "code": "model_not_found"}}',
    400: b'{"error": {"message": "Invalid value for \'temperature\': must be at most 2.", '
    b'"type": "invalid_request_error", "param": "temperature", "code": null}}',
    429: b'{"error": {"message": "Rate limit reached for gpt-4o on requests per min (RPM)", '
    b'"type": "requests", "code": "rate_limit_exceeded"}}',
    500: b'{"error": {"message": "The server had an error while processing your request.", '
    b'"type": "server_error", "code": null}}',
}


# -- helpers ---------------------------------------------------------------------


def demo_reply(messages: list[Message], **params: Any) -> AIMessage:
    """The demo model's reply, computed in-process (no pauses): what the CLI must show."""
    return DemoModel(tokens_per_second=0).invoke(messages, **params)


def plain(text: str, message: AIMessage) -> str:
    """The CLI's plain output for one reply (``_plain.py``): the text as streamed, then
    one ``[tool call] name({args})`` line per tool call, ending with a newline."""
    out = text
    lines = [f"[tool call] {c['name']}({json.dumps(c['args'])})" for c in message.tool_calls]
    for line in lines:
        out += ("" if not out or out.endswith("\n") else "\n") + line + "\n"
    if out and not out.endswith("\n"):
        out += "\n"
    return out


def plain_reply(message: AIMessage) -> str:
    return plain(message.text, message)


def without_id(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "id"}


def replayed(path: Path) -> tuple[str, AIMessage]:
    """The text (as streamed) and the message ``streamblocks replay`` gets from a recording."""
    stream = replay(path)
    text = "".join(stream.text)
    return text, stream.output


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failed run's stderr, checked to be one ``streamblocks chat:`` line (so no
    traceback); returned without its newline."""
    assert result.stderr.startswith("streamblocks chat: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.endswith("\n")
    return result.stderr[:-1]


def free_port() -> int:
    """A port nothing listens on: bound, read, and released again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def sse_events(path: Path) -> list[bytes]:
    """A recorded SSE body cut at its event boundaries (one chunk per event)."""
    return [part + b"\n\n" for part in path.read_bytes().split(b"\n\n") if part.strip()]


def openai_deltas(events: list[bytes]) -> str:
    """The answer text carried by some OpenAI Chat SSE events, read from the raw payloads."""
    text = ""
    for event in events:
        data = event.decode().strip().removeprefix("data:").strip()
        if data and data != "[DONE]":
            for choice in json.loads(data)["choices"]:
                text += choice["delta"].get("content") or ""
    return text


def openai_args(server: LocalServer, *args: str) -> list[str]:
    return ["chat", "--model", "openai:gpt-4o", "--base-url", f"{server.url}/v1", *args]


# -- 1. one-shot with the offline demo model -------------------------------------------


def test_one_shot_demo_prints_the_answer_and_its_tool_call(run_cli: RunCLI) -> None:
    """No model chosen: the demo answers, stdout holds only the answer text and the tool
    call line (no reasoning), and stderr says once that this is the demo model."""
    result = run_cli("chat", PARIS)
    assert result.returncode == 0, result.stderr
    want = demo_reply([HumanMessage(PARIS)])
    assert want.tool_calls, "the demo answers the weather with a tool call"
    assert result.stdout == plain_reply(want)
    assert result.stdout.splitlines()[-1].startswith("[tool call] get_weather({")
    assert result.stderr == DEFAULT_MODEL_NOTICE + "\n"


def test_json_prints_the_messages_to_dict(run_cli: RunCLI) -> None:
    """``--json``: the assembled message, equal to the model's own to_dict() but for the
    run id, which is fresh on every run."""
    result = run_cli("chat", "--json", PARIS)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    want = demo_reply([HumanMessage(PARIS)]).to_dict()
    assert [k for k in want if got.get(k) != want[k]] == ["id"]
    assert got["id"].startswith("run-")
    assert got == {**want, "id": got["id"]}
    assert [b["type"] for b in got["content"]] == ["reasoning", "text", "tool_call"]


def test_no_reasoning_drops_the_reasoning_block(run_cli: RunCLI) -> None:
    result = run_cli("chat", "--json", "--no-reasoning", PARIS)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert [b["type"] for b in got["content"]] == ["text", "tool_call"]
    want = demo_reply([HumanMessage(PARIS)], reasoning=False)
    assert without_id(got) == without_id(want.to_dict())


def test_system_prompt_reaches_the_model(run_cli: RunCLI) -> None:
    """The demo documents that a system message "You are Ada" makes it introduce itself
    as Ada: the CLI's ``--system`` must arrive as that system message."""
    result = run_cli("chat", "--system", "You are Ada", "--no-reasoning", "hi")
    assert result.returncode == 0, result.stderr
    want = demo_reply([SystemMessage("You are Ada"), HumanMessage("hi")], reasoning=False)
    assert result.stdout == plain_reply(want)
    assert "I'm Ada, " in result.stdout
    assert result.stdout != plain_reply(demo_reply([HumanMessage("hi")], reasoning=False))


def test_max_tokens_cuts_the_reply_short(run_cli: RunCLI) -> None:
    result = run_cli("chat", "--json", "--max-tokens", "5", PARIS)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["response_metadata"]["finish_reason"] == "length"
    assert without_id(got) == without_id(demo_reply([HumanMessage(PARIS)], max_tokens=5).to_dict())


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--model", "demo"], {}), ([], {"STREAMBLOCKS_MODEL": "demo"})],
    ids=["--model", "STREAMBLOCKS_MODEL"],
)
def test_a_chosen_demo_model_prints_no_notice(
    run_cli: RunCLI, args: list[str], env: dict[str, str]
) -> None:
    result = run_cli("chat", *args, "--no-reasoning", "thanks", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == plain_reply(demo_reply([HumanMessage("thanks")], reasoning=False))


def test_dash_reads_the_prompt_from_stdin(run_cli: RunCLI) -> None:
    result = run_cli("chat", "--model", "demo", "--no-reasoning", "-", input="thanks\n")
    assert result.returncode == 0, result.stderr
    want = demo_reply([HumanMessage("thanks\n")], reasoning=False)
    assert result.stdout == plain_reply(want)
    assert "welcome" in result.stdout


# -- 2. a session over stdin -------------------------------------------------------------


def test_session_answers_each_line_in_order_and_keeps_the_conversation(run_cli: RunCLI) -> None:
    """Two prompts piped in: two answers, in order, then exit 0 at EOF. The second reply
    is the demo's answer to the whole conversation: its weather tool call answered with
    the "not run" error, the reasoning passed back with a valid signature (the demo
    rejects altered reasoning)."""
    result = run_cli("chat", "--model", "demo", input=f"{PARIS}\nthanks\n")
    assert result.returncode == 0, result.stderr
    history: list[Message] = [HumanMessage(PARIS)]
    first = demo_reply(history)
    call = first.tool_calls[0]
    history += [
        first,
        ToolMessage(
            json.dumps({"error": NO_TOOLS}),
            tool_call_id=call["id"] or "",
            name=call["name"],
            status="error",
        ),
        HumanMessage("thanks"),
    ]
    second = demo_reply(history)
    assert result.stdout == plain_reply(first) + plain_reply(second)
    assert result.stderr == ""


def test_session_sends_the_assistant_turn_and_a_tool_error_back(
    run_cli: RunCLI, server: LocalServer
) -> None:
    """Over OpenAI Chat: the second request carries the first reply (with its tool call)
    and a tool message answering that call with an error saying tools are not run."""
    server.route(
        CHAT_ROUTE,
        Reply(chunks=[OPENAI_TOOL.read_bytes()]),
        Reply(chunks=[OPENAI_TEXT.read_bytes()]),
    )
    result = run_cli(*openai_args(server), input=f"{PARIS}\nthanks\n")
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 2
    first_text, first = replayed(OPENAI_TOOL)
    second_text, second = replayed(OPENAI_TEXT)
    assert result.stdout == plain(first_text, first) + plain(second_text, second)

    messages = server.requests[1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "user"]
    assert messages[0]["content"] == PARIS
    call = first.tool_calls[0]
    sent_calls = messages[1]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in sent_calls] == [(call["id"], call["name"])]
    assert json.loads(sent_calls[0]["function"]["arguments"]) == call["args"]
    assert messages[2]["tool_call_id"] == call["id"]
    assert "not run" in json.dumps(messages[2]["content"])
    assert messages[3]["content"] == "thanks"


@pytest.mark.parametrize("system", [None, "Be brief"])
def test_clear_forgets_the_conversation(
    run_cli: RunCLI, server: LocalServer, system: str | None
) -> None:
    """After ``/clear`` the next request holds only the new prompt (and the system
    prompt, which is not part of the conversation)."""
    server.route(CHAT_ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    args = ["--system", system] if system else []
    result = run_cli(*openai_args(server, *args), input="hi\n/clear\nthanks\n")
    assert result.returncode == 0, result.stderr
    text, message = replayed(OPENAI_TEXT)
    assert result.stdout == plain(text, message) * 2
    assert "(conversation cleared)" in result.stderr
    first, second = (served.body["messages"] for served in server.requests)
    head = [{"role": "system", "content": system}] if system else []
    assert [m["role"] for m in first] == [*(m["role"] for m in head), "user"]
    assert second == [*head, {"role": "user", "content": "thanks"}]


def test_exit_ends_the_session(run_cli: RunCLI) -> None:
    """Blank lines are skipped, ``/help`` answers on stderr, ``/exit`` ends the session
    (the prompt after it is never asked)."""
    result = run_cli(
        "chat", "--model", "demo", "--no-reasoning", input="\n/help\nthanks\n/exit\nhi\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain_reply(demo_reply([HumanMessage("thanks")], reasoning=False))
    assert result.stderr == SESSION_HELP + "\n"


def test_piped_session_stops_at_the_first_failure(run_cli: RunCLI, server: LocalServer) -> None:
    """Without a terminal nobody can retry: the session ends with the failure's code."""
    server.route(CHAT_ROUTE, Reply(401, [OPENAI_ERRORS[401]]))
    result = run_cli(*openai_args(server), input="hi\nthanks\n")
    assert result.returncode == 3
    assert "HTTP 401" in error_line(result)
    assert len(server.requests) == 1


# -- 3. real recorded streams over HTTP ---------------------------------------------


@dataclass(frozen=True)
class Served:
    """A recorded transcript behind the local server, and how the CLI reaches it."""

    id: str
    path: Path
    spec: str
    base: str
    """The --base-url path after the server's address."""
    route: str
    """Where the provider posts (see its ``_model.py``)."""


CASES = [
    Served("openai-chat-text", OPENAI_TEXT, "openai:gpt-4o", "/v1", CHAT_ROUTE),
    Served("openai-chat-tool", OPENAI_TOOL, "openai:gpt-4o", "/v1", CHAT_ROUTE),
    Served("responses-text", RESPONSES_TEXT, "openai-responses:gpt-4o", "/v1", "/v1/responses"),
    Served(
        "responses-reasoning-tool",
        RESPONSES_REASONING_TOOL,
        "openai-responses:gpt-5",
        "/v1",
        "/v1/responses",
    ),
    Served(
        "anthropic-thinking", ANTHROPIC_THINKING, "anthropic:claude-sonnet-4", "", "/v1/messages"
    ),
    Served(
        "gemini",
        GEMINI_TEXT,
        "gemini:gemini-2.0-flash-exp",
        "/v1beta",
        "/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_recorded_stream_over_http(run_cli: RunCLI, server: LocalServer, case: Served) -> None:
    """The CLI's plain output and ``--json`` equal what ``replay()`` makes of the same
    transcript, served in small chunks. A local base URL needs no API key."""
    server.route(case.route, Reply(chunks=sse_chunks(case.path.read_bytes(), 97)))
    args = ["chat", "--model", case.spec, "--base-url", f"{server.url}{case.base}"]
    text, message = replayed(case.path)

    result = run_cli(*args, "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain(text, message)
    assert result.stderr == ""
    assert server.requests[0].method == "POST"
    assert server.requests[0].path.split("?")[0] == case.route

    result = run_cli(*args, "--json", "hi")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == message.to_dict()  # the id too: the provider's


def test_openai_with_a_local_base_url_needs_no_key(run_cli: RunCLI, server: LocalServer) -> None:
    """``--model openai:X --base-url`` reaches any compatible server without a key; a key
    in the environment is sent when there is one."""
    server.route(CHAT_ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    assert run_cli(*openai_args(server, "hi")).returncode == 0
    assert "authorization" not in server.requests[0].headers
    result = run_cli(*openai_args(server, "hi"), env={"OPENAI_API_KEY": "sk-from-env"})
    assert result.returncode == 0, result.stderr
    assert server.requests[1].headers["authorization"] == "Bearer sk-from-env"


@dataclass(frozen=True)
class Options:
    """Chat options and what the provider's request must carry for them."""

    id: str
    spec: str
    base: str
    route: str
    transcript: Path
    flag: str
    sent: dict[str, Any]
    """What the request body must hold (besides the messages)."""


OPTIONS = [
    Options(
        "openai-reasoning", "openai:gpt-4o", "/v1", CHAT_ROUTE, OPENAI_TEXT, "--reasoning",
        {"temperature": 0.3, "max_tokens": 2000, "reasoning_effort": "medium"},
    ),
    Options(
        "openai-no-reasoning", "openai:gpt-4o", "/v1", CHAT_ROUTE, OPENAI_TEXT, "--no-reasoning",
        {"temperature": 0.3, "max_tokens": 2000, "reasoning_effort": "minimal"},
    ),
    Options(
        "anthropic-no-reasoning", "anthropic:claude", "", "/v1/messages", ANTHROPIC_THINKING,
        "--no-reasoning",
        {"temperature": 0.3, "max_tokens": 2000, "thinking": {"type": "disabled"}, "system": "S"},
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", OPTIONS, ids=[c.id for c in OPTIONS])
def test_options_reach_the_request(run_cli: RunCLI, server: LocalServer, case: Options) -> None:
    """--system, --temperature, --max-tokens and --reasoning/--no-reasoning, as the
    provider's request body spells them (the epilog of ``chat --help`` says which)."""
    server.route(case.route, Reply(chunks=[case.transcript.read_bytes()]))
    result = run_cli(
        "chat", "--model", case.spec, "--base-url", f"{server.url}{case.base}",
        "--system", "S", "--temperature", "0.3", "--max-tokens", "2000", case.flag, "hi",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = server.requests[0].body
    assert {k: body.get(k) for k in case.sent} == case.sent
    if case.spec.startswith("openai"):
        assert body["messages"][0] == {"role": "system", "content": "S"}


def test_a_request_the_provider_would_refuse_is_not_sent(
    run_cli: RunCLI, server: LocalServer
) -> None:
    """Anthropic's thinking needs max_tokens above its budget: a usage error (exit 2)
    saying so, before any request."""
    server.route("/v1/messages", Reply(chunks=[ANTHROPIC_THINKING.read_bytes()]))
    result = run_cli(
        "chat", "--model", "anthropic:claude", "--base-url", server.url,
        "--reasoning", "--max-tokens", "2000", "hi",
    )  # fmt: skip
    assert result.returncode == 2
    assert "max_tokens" in error_line(result)
    assert server.requests == []


# -- 4. errors: one line, the documented exit code --------------------------------------


@dataclass(frozen=True)
class Status:
    """An error status the server answers every request with, and what the CLI must do."""

    id: str
    status: int
    exit_code: int
    says: tuple[str, ...]
    """Parts of the one error line."""
    requests: int = 1
    """How many requests the server sees (retries included)."""
    headers: dict[str, str] = field(default_factory=dict)


STATUSES = [
    Status("401", 401, 3, ("HTTP 401", "Incorrect API key provided", "OPENAI_API_KEY")),
    Status("403", 403, 3, ("HTTP 403", "does not have access", "OPENAI_API_KEY")),
    Status("400", 400, 1, ("HTTP 400", "Invalid value for 'temperature'")),
    # A wait longer than the retry policy's max_wait: raised at once, not waited for.
    Status(
        "429-long-wait",
        429,
        4,
        ("rate limited", "Rate limit reached", "wait 120 s"),
        headers={"retry-after": "120"},
    ),
    # A short wait is retried twice before giving up.
    Status(
        "429-retried",
        429,
        4,
        ("rate limited", "Rate limit reached", "try again"),
        requests=3,
        headers={"retry-after-ms": "20"},
    ),
    Status("500-retried", 500, 1, ("HTTP 500", "The server had an error"), requests=3),
]


@pytest.mark.parametrize("case", STATUSES, ids=[c.id for c in STATUSES])
def test_error_status(run_cli: RunCLI, server: LocalServer, case: Status) -> None:
    server.route(CHAT_ROUTE, Reply(case.status, [OPENAI_ERRORS[case.status]], case.headers))
    # A user with a key set (the 401 is the server refusing it).
    result = run_cli(*openai_args(server, "hi"), env={"OPENAI_API_KEY": "sk-test"})
    assert result.returncode == case.exit_code, result.stderr
    line = error_line(result)
    for part in case.says:
        assert part in line
    assert result.stdout == ""
    assert len(server.requests) == case.requests


def test_a_short_retry_after_is_not_shown_as_zero_seconds(
    run_cli: RunCLI, server: LocalServer
) -> None:
    server.route(CHAT_ROUTE, Reply(429, [OPENAI_ERRORS[429]], {"retry-after-ms": "20"}))
    result = run_cli(*openai_args(server, "hi"))
    assert result.returncode == 4
    assert "wait 0 s" not in error_line(result)


def test_retries_sets_how_often_a_failed_request_is_sent_again(
    run_cli: RunCLI, server: LocalServer
) -> None:
    server.route(CHAT_ROUTE, Reply(500, [OPENAI_ERRORS[500]]))
    result = run_cli(*openai_args(server, "--retries", "0", "hi"))
    assert result.returncode == 1
    assert len(server.requests) == 1
    assert run_cli(*openai_args(server, "--retries", "-1", "hi")).returncode == 2


def test_missing_key(run_cli: RunCLI) -> None:
    """No key for OpenAI's own endpoint: exit 3 before any request, naming the variable."""
    result = run_cli("chat", "--model", "openai:gpt-4o-mini", "hi")
    assert result.returncode == 3
    line = error_line(result)
    assert "OPENAI_API_KEY" in line
    assert result.stderr == line + "\n"


def test_unreachable_server(run_cli: RunCLI) -> None:
    port = free_port()
    result = run_cli(
        "chat",
        "--model",
        "openai:x",
        "--base-url",
        f"http://127.0.0.1:{port}/v1",
        "--retries",
        "0",
        "hi",
    )
    assert result.returncode == 5, result.stderr
    line = error_line(result)
    assert f"127.0.0.1:{port}" in line
    assert "--base-url" in line


def test_no_reply_within_the_timeout(run_cli: RunCLI, server: LocalServer) -> None:
    """The server sends one chunk (no whole event) and stalls: exit 6 after --timeout."""
    server.route(CHAT_ROUTE, Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 64), stall_after=1))
    result = run_cli(*openai_args(server, "--timeout", "0.5", "hi"))
    assert result.returncode == 6, result.stderr
    line = error_line(result)
    assert "timed out" in line
    assert "0.5 s" in line
    assert result.stdout == ""
    assert server.wait_finished().client_disconnected


def test_a_stall_mid_reply_keeps_the_text_so_far(run_cli: RunCLI, server: LocalServer) -> None:
    events = sse_events(OPENAI_TEXT)
    sent = 12
    server.route(CHAT_ROUTE, Reply(chunks=events, stall_after=sent))
    result = run_cli(*openai_args(server, "--timeout", "0.5", "hi"))
    assert result.returncode == 6, result.stderr
    line = error_line(result)
    assert "stalled" in line
    partial = openai_deltas(events[:sent])
    assert partial
    assert result.stdout == partial + "\n"


def test_a_stream_cut_mid_way_keeps_the_text_so_far(run_cli: RunCLI, server: LocalServer) -> None:
    """The server drops the connection after some events: the text that arrived is on
    stdout, then exit 1 with one line (the body is not retried once it began)."""
    events = sse_events(OPENAI_TEXT)
    sent = 10
    server.route(CHAT_ROUTE, Reply(chunks=events, disconnect_after=sent))
    result = run_cli(*openai_args(server, "hi"))
    assert result.returncode == 1, result.stderr
    line = error_line(result)
    assert "mid-stream" in line
    partial = openai_deltas(events[:sent])
    assert partial
    assert result.stdout == partial + "\n"
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--model", "nope:x"], "unknown model provider 'nope'"),
        (["--base-url", "http://127.0.0.1:9/v1"], "--base-url needs --model"),
        (["--model", "demo", "--temperature", "-1"], "--temperature must be >= 0"),
        (["--model", "demo", "--max-tokens", "0"], "--max-tokens must be at least 1"),
    ],
    ids=["unknown-provider", "base-url-without-model", "temperature", "max-tokens"],
)
def test_usage_errors_exit_2(run_cli: RunCLI, args: list[str], says: str) -> None:
    result = run_cli("chat", *args, "hi")
    assert result.returncode == 2
    assert result.stderr == error_line(result) + "\n"
    assert says in result.stderr
    assert result.stdout == ""


def test_usage_error_without_a_model_is_one_line(run_cli: RunCLI) -> None:
    result = run_cli("chat", "--temperature", "-1", "hi")
    assert result.returncode == 2
    assert "--temperature must be >= 0" in error_line(result)


def test_bad_timeout_is_a_usage_error(run_cli: RunCLI) -> None:
    result = run_cli("chat", "--timeout", "0", "hi")
    assert result.returncode == 2
    assert "--timeout must be a positive number" in result.stderr
    assert "Traceback" not in result.stderr


def test_verbose_shows_the_details(run_cli: RunCLI, server: LocalServer) -> None:
    server.route(CHAT_ROUTE, Reply(401, [OPENAI_ERRORS[401]]))
    result = run_cli(*openai_args(server, "--verbose", "hi"))
    assert result.returncode == 3
    assert "streamblocks chat: " in result.stderr
    assert "status: 401" in result.stderr
    assert "invalid_api_key" in result.stderr  # the body
    assert "AuthenticationError" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr


# -- 5. --record, then streamblocks replay -------------------------------------------------


def test_record_demo_reply_replays_to_the_same_message(run_cli: RunCLI, tmp_path: Path) -> None:
    """The demo has no wire: its protocol events are recorded (.jsonl), and replaying
    them gives the message ``chat --json`` printed, but for the run id (the demo sends
    none, so each run makes its own)."""
    chat = run_cli("chat", "--model", "demo", "--json", "--record", "reply.jsonl", "thanks")
    assert chat.returncode == 0, chat.stderr
    assert "recorded the reply to reply.jsonl" in chat.stderr
    assert (tmp_path / "reply.jsonl").is_file()
    again = run_cli("replay", "reply.jsonl", "--json")
    assert again.returncode == 0, again.stderr
    assert without_id(json.loads(again.stdout)) == without_id(json.loads(chat.stdout))


def test_record_http_reply_is_the_raw_body(
    run_cli: RunCLI, server: LocalServer, tmp_path: Path
) -> None:
    """An HTTP model's reply is recorded as the body the server sent, byte for byte, and
    replays to the message ``chat --json`` printed (its id too: the provider's)."""
    body = ANTHROPIC_THINKING.read_bytes()
    server.route("/v1/messages", Reply(chunks=sse_chunks(body, 101)))
    chat = run_cli(
        "chat", "--model", "anthropic:claude", "--base-url", server.url,
        "--json", "--record", "reply.sse", "hi",
    )  # fmt: skip
    assert chat.returncode == 0, chat.stderr
    assert (tmp_path / "reply.sse").read_bytes() == body
    again = run_cli("replay", "reply.sse", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == json.loads(chat.stdout)


def test_record_in_a_session_numbers_later_replies(
    run_cli: RunCLI, server: LocalServer, tmp_path: Path
) -> None:
    server.route(
        CHAT_ROUTE,
        Reply(chunks=[OPENAI_TOOL.read_bytes()]),
        Reply(chunks=[OPENAI_TEXT.read_bytes()]),
    )
    result = run_cli(*openai_args(server, "--record", "r.sse"), input="one\ntwo\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.sse").read_bytes() == OPENAI_TOOL.read_bytes()
    assert (tmp_path / "r-2.sse").read_bytes() == OPENAI_TEXT.read_bytes()
    assert "recorded the reply to r.sse" in result.stderr
    assert "recorded the reply to r-2.sse" in result.stderr
    again = run_cli("replay", "r-2.sse")
    text, message = replayed(OPENAI_TEXT)
    assert again.stdout == plain(text, message)


@pytest.mark.parametrize(
    ("model", "name", "hint"),
    [(["openai:gpt-4o", "--base-url", "http://127.0.0.1:9/v1"], "x.json", "x.sse"),
     (["demo"], "x.sse", "x.jsonl")],
    ids=["openai-as-json", "demo-as-sse"],
)  # fmt: skip
def test_record_with_the_wrong_suffix_is_a_usage_error(
    run_cli: RunCLI, tmp_path: Path, model: list[str], name: str, hint: str
) -> None:
    """Checked before anything is sent, with the name to use instead."""
    result = run_cli("chat", "--model", *model, "--record", name, "hi")
    assert result.returncode == 2
    assert hint in error_line(result)
    assert not (tmp_path / name).exists()


# -- 6. help and version ------------------------------------------------------------------

CHAT_OPTIONS = [
    "--model", "--base-url", "--system", "--temperature", "--max-tokens", "--reasoning",
    "--no-reasoning", "--json", "--record", "--timeout", "--plain", "--verbose",
]  # fmt: skip


def test_chat_help_lists_every_option_and_the_exit_codes(run_cli: RunCLI) -> None:
    result = run_cli("chat", "--help")
    assert result.returncode == 0
    for option in CHAT_OPTIONS:
        assert option in result.stdout
    assert "exit codes:" in result.stdout
    table = result.stdout.split("exit codes:", 1)[1]
    for code in (0, 1, 2, 3, 4, 5, 6, 130):
        assert f"\n  {code} " in table


def test_top_level_and_replay_help(run_cli: RunCLI) -> None:
    top = run_cli("--help")
    assert top.returncode == 0
    assert "chat" in top.stdout
    assert "replay" in top.stdout
    assert "--version" in top.stdout
    rep = run_cli("replay", "--help")
    assert rep.returncode == 0
    for option in ("file", "--provider", "--format", "--json", "--events"):
        assert option in rep.stdout


def test_version(run_cli: RunCLI) -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"streamblocks {streamblocks.__version__}\n"


def test_no_command_prints_help_and_exits_2(run_cli: RunCLI) -> None:
    result = run_cli()
    assert result.returncode == 2
    assert result.stdout.startswith("usage: streamblocks")
    assert "chat" in result.stdout


# -- 7. a closed pipe ------------------------------------------------------------------


def test_closed_pipe_exits_141_quietly(tmp_path: Path) -> None:
    """``streamblocks chat ... | head -c 10``: the reader leaves while the demo still
    streams; the CLI stops with 141, as a tool killed by SIGPIPE would, and says nothing."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamblocks", "chat", "--model", "demo", "--no-reasoning", PARIS],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    head = proc.stdout.read(10)
    proc.stdout.close()  # the demo paces its tokens: more output is still to come
    try:
        code = proc.wait(CLI_TIMEOUT)
    finally:
        proc.kill()
        err = proc.stderr.read().decode()
        proc.stderr.close()
    assert head == plain_reply(demo_reply([HumanMessage(PARIS)], reasoning=False)).encode()[:10]
    assert code == 141
    assert err == ""
