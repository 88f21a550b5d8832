"""End to end over loopback HTTP: streamblocks against the official SDK helpers.

Two recorded streams from ``../shared/fixtures/provider-streams`` are stretched to
about 20k SSE events each by repeating their recorded text-delta events in place
(the role/start events and the finish, usage and tool-call events stay as recorded,
once):

* OpenAI Chat Completions (``openai-chat/gpt-4o-text-usage-chunk.sse``);
* Anthropic Messages (``anthropic/text-then-tool-use-input-json-delta.sse``: text,
  then a tool call with streamed JSON input).

A server in a child process sends each body with chunked encoding. In this process,
each side makes the same request and builds the final message:

* **streamblocks**: ``OpenAIChat`` / ``AnthropicChat``, ``stream_events(...)`` then
  ``.output`` (HTTP, SSE decoding, the adapter, the stream, the assembled message);
* **SDK**: ``client.chat.completions.stream(...)`` with ``get_final_completion()``,
  and ``client.messages.stream(...)`` with ``get_final_message()`` (openai 3.52.0,
  anthropic 2.11.0).

Both use the sync API with a client reused across runs. The figure is the CPU time
of this process (``time.process_time``) per SSE event, best of the runs; the
server's CPU is in its own process and not counted. Runs alternate between the two
sides. Both final texts are checked against each other.
"""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._harness import Figure, Impls, Options, Row, Scenario, Target, Unit, progress
from benchmarks._loopback import LoopbackServer

if TYPE_CHECKING:
    from collections.abc import Callable

TARGET_EVENTS = 20_000
RUNS = 7
TARGET_FACTOR = 3.0
CPU_PER_EVENT = Unit("us CPU/event", higher_is_better=False)


def _fixtures() -> Path:
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "fixtures" / "provider-streams"
        if candidate.is_dir():
            return candidate
    msg = "shared/fixtures/provider-streams not found next to the repository"
    raise FileNotFoundError(msg)


def _events(path: Path) -> list[bytes]:
    raw = path.read_bytes().replace(b"\r\n", b"\n")
    return [e + b"\n\n" for e in raw.split(b"\n\n") if e.strip()]


def _data(event: bytes) -> Any:
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            payload = line[5:].strip()
            return None if payload == b"[DONE]" else json.loads(payload)
    return None


def stretch(events: list[bytes], is_delta: Callable[[Any], bool], total: int) -> list[bytes]:
    """``events`` with its delta events cycled in place until there are ``total`` events."""
    indexes = [i for i, e in enumerate(events) if is_delta(_data(e))]
    first, last = indexes[0], indexes[-1]
    deltas = events[first : last + 1]
    wanted = total - (len(events) - len(deltas))
    body = [deltas[i % len(deltas)] for i in range(wanted)]
    return events[:first] + body + events[last + 1 :]


def _openai_delta(data: Any) -> bool:
    if not isinstance(data, dict) or not data.get("choices"):
        return False
    choice = data["choices"][0]
    return bool(choice["delta"].get("content")) and choice.get("finish_reason") is None


def _anthropic_delta(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and data.get("type") == "content_block_delta"
        and data["delta"].get("type") == "text_delta"
    )


def _cpu(run: Callable[[], str]) -> tuple[float, str]:
    gc.collect()
    start = time.process_time()
    text = run()
    return time.process_time() - start, text


def _measure(
    ours: Callable[[], str], sdk: Callable[[], str], events: int
) -> tuple[Figure, Figure, str]:
    ours_times: list[float] = []
    sdk_times: list[float] = []
    note = ""
    for _ in range(RUNS):
        t_ours, text_ours = _cpu(ours)
        t_sdk, text_sdk = _cpu(sdk)
        if text_ours != text_sdk:
            note = "WRONG OUTPUT: the two final texts differ"
        ours_times.append(t_ours)
        sdk_times.append(t_sdk)
    per = 1e6 / events
    return (
        Figure.measured(min(ours_times) * per, RUNS),
        Figure.measured(min(sdk_times) * per, RUNS),
        note,
    )


def _target() -> Target:
    def check(ours: float, ref: float | None) -> bool | None:
        return None if ref is None else ours * TARGET_FACTOR <= ref

    return Target(f">= {TARGET_FACTOR:g}x less CPU than the SDK", check)


def run_http(impls: Impls, options: Options) -> list[Row]:
    """CPU per SSE event, end to end over loopback, against the official SDKs."""
    del impls, options
    try:
        import anthropic
        import openai

        from streamblocks.providers import AnthropicChat, OpenAIChat
    except ImportError as exc:
        missing = Figure.missing(f"not importable: {exc.name}")
        return [Row("http: OpenAI chat, 20k events", CPU_PER_EVENT, missing, missing)]

    fixtures = _fixtures()
    openai_body = stretch(
        _events(fixtures / "openai-chat" / "gpt-4o-text-usage-chunk.sse"),
        _openai_delta,
        TARGET_EVENTS,
    )
    anthropic_body = stretch(
        _events(fixtures / "anthropic" / "text-then-tool-use-input-json-delta.sse"),
        _anthropic_delta,
        TARGET_EVENTS,
    )
    routes = {
        "/v1/chat/completions": b"".join(openai_body),
        "/v1/messages": b"".join(anthropic_body),
    }
    messages: Any = [{"role": "user", "content": "hi"}]
    rows: list[Row] = []
    with LoopbackServer(routes) as url:
        oa_model = OpenAIChat(model="gpt-4o", base_url=f"{url}/v1", api_key="k")
        oa_client = openai.OpenAI(api_key="k", base_url=f"{url}/v1", max_retries=0)
        an_model = AnthropicChat(model="claude-sonnet-4", base_url=url, api_key="k")
        an_client = anthropic.Anthropic(api_key="k", base_url=url, max_retries=0)

        def ours_openai() -> str:
            return oa_model.stream_events("hi").output.text

        def sdk_openai() -> str:
            with oa_client.chat.completions.stream(model="gpt-4o", messages=messages) as s:
                return s.get_final_completion().choices[0].message.content or ""

        def ours_anthropic() -> str:
            return an_model.stream_events("hi", max_tokens=1024).output.text

        def sdk_anthropic() -> str:
            with an_client.messages.stream(
                model="claude-sonnet-4", max_tokens=1024, messages=messages
            ) as s:
                final = s.get_final_message()
            return "".join(b.text for b in final.content if b.type == "text")

        for label, ours, sdk, events in (
            ("OpenAI chat", ours_openai, sdk_openai, len(openai_body)),
            ("Anthropic", ours_anthropic, sdk_anthropic, len(anthropic_body)),
        ):
            progress(f"  http: {label}, {events:,} SSE events, {RUNS} runs each side")
            ours(), sdk()  # warm up: connections, imports, caches
            ours_fig, sdk_fig, note = _measure(ours, sdk, events)
            row = Row(f"http: {label}, {events:,} events", CPU_PER_EVENT, ours_fig, sdk_fig)
            row.target = _target()
            if note:
                row.notes.append(note)
            ratio = (sdk_fig.value or 0) / (ours_fig.value or 1)
            row.notes.append(f"{label}: the SDK spends {ratio:.1f}x the CPU per event")
            rows.append(row)
        oa_model.close()
        an_model.close()
        oa_client.close()
        an_client.close()
    return rows


SCENARIOS = [
    Scenario(
        "http",
        "CPU per event end to end over loopback vs the openai/anthropic SDK helpers",
        run_http,
    )
]
