"""Recording a reply and replaying it: an HTTP model's ``wire_tap`` against the
local server, and protocol-event recordings (``EventRecorder``, provider
``"events"``)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from streamblocks import (
    AuthenticationError,
    EmptyStreamError,
    IncompleteStreamError,
    InvalidInputError,
    ProtocolError,
    ProviderError,
    StreamError,
)
from streamblocks.models._callbacks import CallbackHandler
from streamblocks.models._demo import DemoModel
from streamblocks.providers import (
    AnthropicChat,
    GeminiChat,
    OpenAIChat,
    OpenAIResponses,
    RetryPolicy,
)
from streamblocks.providers._record import EventRecorder
from streamblocks.providers._replay import (
    REPLAY_PROVIDERS,
    EventsAdapter,
    adapter_for,
    detect_format,
    detect_provider,
    replay,
)
from streamblocks.testing import ScriptedModel
from tests.providers.replay import FIXTURES
from tests.providers.server import Reply, sse_chunks

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from streamblocks import AIMessage
    from streamblocks.models._callbacks import Run
    from streamblocks.providers import HTTPChatModel
    from tests.providers.server import LocalServer


def body_of(path: Path) -> bytes:
    """What a server sends for a transcript: ``.jsonl`` payloads become SSE."""
    if path.suffix == ".jsonl":
        return b"".join(
            b"data: " + line + b"\n\n" for line in path.read_bytes().splitlines() if line.strip()
        )
    return path.read_bytes()


def comparable(message: AIMessage) -> dict[str, Any]:
    """``to_dict()`` without ``id``: a provider that sends no message id gets the
    run id, which differs between the live run and its replay. Nothing else may."""
    data = message.to_dict()
    data.pop("id")
    return data


def same_message(got: AIMessage, want: AIMessage) -> None:
    assert comparable(got) == comparable(want)
    # The provider's own id, when it sent one, is kept by the replay.
    if want.id is not None and not want.id.startswith("run-"):
        assert got.id == want.id


FAST_RETRY = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02)

WIRE_CASES: list[tuple[str, Path, str, Callable[[str], HTTPChatModel]]] = [
    (
        "openai-chat",
        FIXTURES / "openai-chat" / "gpt-4o-parallel-tool-calls.sse",
        "/v1/chat/completions",
        lambda url: OpenAIChat(model="gpt-4o", base_url=f"{url}/v1", api_key="k"),
    ),
    (
        "openai-chat-jsonl",
        FIXTURES / "openai-chat-compatible" / "deepseek-reasoning-content-then-tool-call.jsonl",
        "/v1/chat/completions",
        lambda url: OpenAIChat(model="deepseek-chat", base_url=f"{url}/v1", api_key="k"),
    ),
    (
        "openai-responses",
        FIXTURES / "openai-responses" / "reasoning-summary-code-interpreter.sse",
        "/v1/responses",
        lambda url: OpenAIResponses(model="gpt-4o", base_url=f"{url}/v1", api_key="k"),
    ),
    (
        "anthropic",
        FIXTURES / "anthropic" / "thinking-signature-text.sse",
        "/v1/messages",
        lambda url: AnthropicChat(model="claude-sonnet-4", base_url=url, api_key="k"),
    ),
    (
        "gemini-sse",
        FIXTURES / "gemini" / "gemini-2.5-pro-google-search-grounding.sse",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
        lambda url: GeminiChat(model="gemini-2.5-pro", base_url=f"{url}/v1beta", api_key="k"),
    ),
    (
        "gemini-json-array",
        FIXTURES / "gemini" / "gemini-2.5-flash-json-array-stream-thought-function-call.json",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        lambda url: GeminiChat(
            model="gemini-2.5-flash",
            base_url=f"{url}/v1beta",
            api_key="k",
            wire_format="json-array",
        ),
    ),
]
WIRE_IDS = [c[0] for c in WIRE_CASES]


def openai(server: LocalServer, **kwargs: Any) -> OpenAIChat:
    kwargs.setdefault("retry", FAST_RETRY)
    return OpenAIChat(model="gpt-4o", base_url=f"{server.url}/v1", api_key="k", **kwargs)


OPENAI_TEXT = FIXTURES / "openai-chat" / "gpt-4o-text-usage-chunk.sse"


async def ask(model: HTTPChatModel, mode: str) -> AIMessage:
    """One reply: async, sync over the native source, or sync over the bridge
    (a run deadline moves a sync call onto the async source)."""
    if mode == "async":
        return await model.ainvoke("hi")
    if mode == "bridged":
        return model.invoke("hi", idle_timeout=30.0)
    return model.invoke("hi")


# -- the wire tap -------------------------------------------------------------------


@pytest.mark.parametrize("case", WIRE_CASES, ids=WIRE_IDS)
@pytest.mark.parametrize("bridged", [False, True], ids=["native", "bridged"])
def test_sync_tap_gets_the_body_and_replays_to_the_live_message(
    server: LocalServer, case: Any, bridged: bool
) -> None:
    _, path, route, make_model = case
    body = body_of(path)
    server.route(route, Reply(chunks=sse_chunks(body, 97)))
    tapped: list[bytes] = []
    model = make_model(server.url)
    model.wire_tap = tapped.append
    # A run deadline moves the sync call onto the async loop (the bridge).
    live = model.invoke("hi", idle_timeout=30) if bridged else model.invoke("hi")
    assert b"".join(tapped) == body
    assert len(tapped) > 1, "the tap sees the body chunk by chunk"
    same_message(replay(b"".join(tapped)).output, live)


@pytest.mark.parametrize("case", WIRE_CASES, ids=WIRE_IDS)
async def test_async_tap_gets_the_body_and_replays_to_the_live_message(
    server: LocalServer, case: Any, tmp_path: Path
) -> None:
    _, path, route, make_model = case
    body = body_of(path)
    server.route(route, Reply(chunks=sse_chunks(body, 61), delay=0.001))
    model = make_model(server.url)
    recording = tmp_path / "reply.bin"
    with recording.open("wb") as file:
        model.wire_tap = file.write  # what the CLI does
        live = await model.ainvoke("hi")
    data = recording.read_bytes()
    assert data == body
    same_message(replay(recording).output, live)


def test_tap_given_to_the_constructor(server: LocalServer) -> None:
    server.route("/v1/chat/completions", Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes())))
    tapped: list[bytes] = []
    model = openai(server, wire_tap=tapped.append)
    assert model.wire_tap is not None
    model.invoke("hi")
    assert b"".join(tapped) == OPENAI_TEXT.read_bytes()
    model.wire_tap = None
    model.invoke("hi")  # no tap: nothing more recorded
    assert b"".join(tapped) == OPENAI_TEXT.read_bytes()


@pytest.mark.parametrize("mode", ["sync", "bridged", "async"])
async def test_error_status_bodies_are_not_tapped(server: LocalServer, mode: str) -> None:
    body = OPENAI_TEXT.read_bytes()
    server.route(
        "/v1/chat/completions",
        Reply(503, [b'{"error": {"message": "busy"}}']),
        Reply(chunks=[b"data: {}\n\n"], disconnect_after=0),
        Reply(chunks=sse_chunks(body)),
    )
    tapped: list[bytes] = []
    model = openai(server, wire_tap=tapped.append)
    message = await ask(model, mode)
    assert len(server.requests) == 3, "two failed attempts before the body, then the reply"
    assert b"".join(tapped) == body, "only the body of the reply that was streamed"
    same_message(replay(b"".join(tapped)).output, message)


@pytest.mark.parametrize("mode", ["sync", "bridged", "async"])
@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(401, [b'{"error": {"message": "bad key"}}']), AuthenticationError),
        (  # an error object sent with status 200: read as an error, not streamed
            Reply(chunks=[b'{"error": {"message": "no"}}'], content_type="application/json"),
            ProviderError,
        ),
    ],
    ids=["401", "200-json"],
)
async def test_a_failed_request_taps_nothing(
    server: LocalServer, mode: str, reply: Reply, error: type[ProviderError]
) -> None:
    server.route("/v1/chat/completions", reply)
    tapped: list[bytes] = []
    model = openai(server, wire_tap=tapped.append)
    with pytest.raises(error):
        await ask(model, mode)
    assert tapped == []


@pytest.mark.parametrize("mode", ["sync", "bridged", "async"])
async def test_a_tap_that_raises_fails_the_stream_with_its_error(
    server: LocalServer, mode: str
) -> None:
    chunks = sse_chunks(OPENAI_TEXT.read_bytes(), 200)
    server.route("/v1/chat/completions", Reply(chunks=chunks, delay=0.001))
    calls: list[bytes] = []

    def full_disk(data: bytes) -> None:
        calls.append(data)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")

    model = openai(server, wire_tap=full_disk)
    with pytest.raises(StreamError) as info:
        await ask(model, mode)
    assert type(info.value) is StreamError, "not mistaken for a transport or provider error"
    assert isinstance(info.value.__cause__, OSError)
    assert "No space left on device" in str(info.value)
    assert len(calls) == 3, "the stream stopped at the failing chunk"
    served = server.wait_finished()
    assert not served.completed, "the response was closed, not read to its end"


# -- event recordings ------------------------------------------------------------------


def text(delta: str) -> dict[str, Any]:
    return {"type": "text-delta", "text": delta}


PROMPTS = ["What is the weather in Paris?", "What is 12 * (3 + 4)?", "Hello!"]


def record_demo(prompt: str) -> tuple[AIMessage, bytes]:
    file = io.BytesIO()
    message = DemoModel(tokens_per_second=0).invoke(prompt, callbacks=[EventRecorder(file)])
    return message, file.getvalue()


def test_events_is_a_replay_provider() -> None:
    assert "events" in REPLAY_PROVIDERS
    assert isinstance(adapter_for("events"), EventsAdapter)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_demo_reply_recorded_as_events_replays_to_the_same_message(
    prompt: str, tmp_path: Path
) -> None:
    live, data = record_demo(prompt)
    lines = data.decode("utf-8").splitlines()
    assert json.loads(lines[0])["event"] == "message-start"
    assert json.loads(lines[-1])["event"] == "message-finish"
    for line in lines:  # compact and not ASCII-escaped, as the CLI's recorder writes
        assert line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))
    assert detect_format(data) == "jsonl"
    assert detect_provider(data, "jsonl") == "events"
    path = tmp_path / "reply.jsonl"
    path.write_bytes(data)
    replayed = replay(path, chunk_size=29)
    same_message(replayed.output, live)
    assert [dict(e) for e in replay(path)] == [json.loads(line) for line in lines]


async def test_text_file_recording_of_an_async_run(tmp_path: Path) -> None:
    script: list[dict[str, Any]] = [
        {"event": "message-start"},
        {"event": "content-block-delta", "index": 0, "delta": text("Zoë")},
        {"event": "message-finish", "metadata": {"finish_reason": "stop"}},
    ]
    path = tmp_path / "reply.jsonl"
    with path.open("w", encoding="utf-8") as file:
        stream = await ScriptedModel(script).astream_events("hi", callbacks=[EventRecorder(file)])
        live = await stream
    assert "Zoë".encode() in path.read_bytes(), "UTF-8, not ASCII-escaped"
    same_message(replay(path).output, live)
    assert live.text == "Zoë"


def test_recorded_message_id_is_kept() -> None:
    script: list[dict[str, Any]] = [
        {"event": "message-start", "id": "msg_42", "metadata": {"provider": "x"}},
        {"event": "content-block-delta", "index": 0, "delta": text("hi")},
        {"event": "message-finish", "metadata": {"finish_reason": "stop"}},
    ]
    file = io.BytesIO()
    live = ScriptedModel(script).invoke("hi", callbacks=[EventRecorder(file)])
    replayed = replay(file.getvalue()).output
    assert live.id == replayed.id == "msg_42"
    assert replayed.to_dict() == live.to_dict()


UNFINISHED: list[dict[str, Any]] = [
    {"event": "message-start"},
    {"event": "content-block-delta", "index": 0, "delta": text("hi")},
]


def test_source_that_ends_early_is_recorded_with_the_synthetic_finish() -> None:
    # The driver finishes such a run itself; the recording holds that finish,
    # so the replay finishes the same way instead of failing.
    file = io.BytesIO()
    recorder = EventRecorder(file)
    live = ScriptedModel(UNFINISHED).invoke("hi", callbacks=[recorder])
    assert live.response_metadata["finish_synthesized"] is True
    data = file.getvalue()
    same_message(replay(data).output, live)
    # The same recorder, another run: its own finish is written again.
    DemoModel(tokens_per_second=0).invoke("Hello!", callbacks=[recorder])
    second = file.getvalue()[len(data) :]
    assert json.loads(second.splitlines()[-1])["event"] == "message-finish"
    assert second.count(b'"message-finish"') == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_synthetic_finish_reaches_on_event(mode: str) -> None:
    seen: list[str] = []

    class Events(CallbackHandler):
        def on_event(self, run: Run, event: Mapping[str, Any]) -> None:
            seen.append(event["event"])

    model = ScriptedModel(UNFINISHED)
    if mode == "sync":
        printed = [e["event"] for e in model.stream_events("hi", callbacks=[Events()])]
    else:
        stream = await model.astream_events("hi", callbacks=[Events()])
        printed = [e["event"] async for e in stream]
    assert printed[-1] == "message-finish"
    assert seen == printed


@pytest.mark.parametrize("cut", [5, 62, -1])
def test_truncated_events_recording_is_incomplete_and_keeps_the_partial(cut: int) -> None:
    _, data = record_demo(PROMPTS[0])
    lines = data.splitlines(keepends=True)
    kept = lines[:cut]
    events = [json.loads(line) for line in kept]
    stream = replay(b"".join(kept))
    with pytest.raises(IncompleteStreamError, match="without message-finish") as info:
        stream.output  # noqa: B018
    assert not isinstance(info.value, EmptyStreamError)
    partial = stream.snapshot()
    reasoning = "".join(
        e["delta"].get("reasoning", "")
        for e in events
        if e["event"] == "content-block-delta" and e["index"] == 0
    )
    text = "".join(
        e["delta"].get("text", "")
        for e in events
        if e["event"] == "content-block-delta" and e["index"] == 1
    )
    assert partial.text == text
    blocks = {b["type"]: b for b in partial.to_dict()["content"]}
    if reasoning:
        assert blocks["reasoning"]["reasoning"] == reasoning
    assert partial.response_metadata.get("finish_synthesized") is None


def test_truncated_mid_line_is_incomplete() -> None:
    _, data = record_demo(PROMPTS[1])
    stream = replay(data[: len(data) // 2], provider="events")
    with pytest.raises(IncompleteStreamError):
        stream.output  # noqa: B018


def test_empty_events_recording() -> None:
    with pytest.raises(InvalidInputError, match="cannot tell which provider"):
        replay(b"")
    stream = replay(b"", provider="events")
    with pytest.raises(EmptyStreamError):
        stream.output  # noqa: B018


def test_error_event_fails_the_replay_with_provider_error() -> None:
    _, data = record_demo(PROMPTS[0])
    lines = data.splitlines(keepends=True)[:20]
    error = {"event": "error", "message": "the model overheated", "code": "overloaded"}
    lines.append(json.dumps(error).encode() + b"\n")
    lines.append(b'{"event":"message-finish"}\n')  # after the error: never reached
    stream = replay(b"".join(lines))
    with pytest.raises(ProviderError, match="the model overheated") as info:
        stream.output  # noqa: B018
    assert info.value.code == "overloaded"
    assert stream.snapshot().to_dict()["content"][0]["type"] == "reasoning"


def test_live_error_event_is_recorded_and_replayed_as_the_same_error() -> None:
    script: list[dict[str, Any]] = [
        {"event": "message-start"},
        {"event": "content-block-delta", "index": 0, "delta": text("hal")},
        {"event": "error", "message": "quota exceeded", "code": "insufficient_quota"},
    ]
    file = io.BytesIO()
    with pytest.raises(ProviderError) as live:
        ScriptedModel(script).invoke("hi", callbacks=[EventRecorder(file)])
    stream = replay(file.getvalue())
    with pytest.raises(ProviderError) as replayed:
        stream.output  # noqa: B018
    assert type(replayed.value) is type(live.value)
    assert str(replayed.value) == str(live.value)
    assert replayed.value.code == live.value.code == "insufficient_quota"
    assert stream.snapshot().text == "hal"


def test_malformed_event_in_a_recording_is_a_protocol_error() -> None:
    data = b'{"event":"message-start"}\n{"event":"content-block-delta","index":0}\n'
    stream = replay(data)
    with pytest.raises(ProtocolError, match="delta"):
        stream.output  # noqa: B018


def test_recorder_flushes_at_the_end_and_surfaces_write_errors() -> None:
    class Tracking(io.BytesIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1
            super().flush()

    file = Tracking()
    DemoModel(tokens_per_second=0).invoke("Hello!", callbacks=[EventRecorder(file)])
    assert file.flushes == 1

    class Full(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        DemoModel(tokens_per_second=0).invoke("Hello!", callbacks=[EventRecorder(Full())])


# -- the CLI's --events output is an events recording ---------------------------------


def cli_events(path: Path, capsys: pytest.CaptureFixture[str]) -> bytes:
    from streamblocks.cli import main  # here: the CLI is imported only by these tests

    capsys.readouterr()
    assert main(["replay", str(path), "--events"]) == 0
    return capsys.readouterr().out.encode("utf-8")


@pytest.mark.parametrize(
    "path",
    [
        FIXTURES / "anthropic" / "thinking-signature-text.sse",
        FIXTURES / "openai-chat" / "gpt-4o-parallel-tool-calls.sse",
        FIXTURES / "gemini" / "gemini-2.5-flash-json-array-stream-thought-function-call.json",
        FIXTURES / "openai-responses" / "reasoning-summary-code-interpreter.sse",
    ],
    ids=lambda p: p.name,
)
def test_cli_events_output_replays_to_the_same_message(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = tmp_path / "events.jsonl"
    printed.write_bytes(cli_events(path, capsys))
    assert detect_provider(printed.read_bytes(), "jsonl") == "events"
    same_message(replay(printed).output, replay(path).output)
    # And once more: an events recording replays to itself.
    again = tmp_path / "again.jsonl"
    again.write_bytes(cli_events(printed, capsys))
    assert again.read_bytes() == printed.read_bytes()


def test_cli_events_of_a_demo_recording_in_a_subprocess(tmp_path: Path) -> None:
    live, data = record_demo(PROMPTS[0])
    recorded = tmp_path / "demo.jsonl"
    recorded.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "streamblocks.cli", "replay", str(recorded), "--events"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = tmp_path / "printed.jsonl"
    printed.write_bytes(result.stdout)
    same_message(replay(printed).output, live)


# -- detection never mistakes a provider recording for events ---------------------------

EVERY_FIXTURE = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix != ".md")


@pytest.mark.parametrize("path", EVERY_FIXTURE, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_no_fixture_is_detected_as_events(path: Path) -> None:
    data = path.read_bytes()
    try:
        provider = detect_provider(data, detect_format(data, path.name))
    except InvalidInputError:
        return  # a provider replay does not support (Bedrock, Cohere): not events either
    assert provider != "events"
