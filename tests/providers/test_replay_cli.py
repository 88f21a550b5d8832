"""``streamblocks replay``, run as a user runs it, and the ``replay()`` it is built on."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from streamblocks import InvalidInputError, ProviderError
from streamblocks.providers import adapter_for, detect_format, detect_provider, replay
from tests.providers.replay import FIXTURES, raw_chunks, replay_pieces, transcripts, wire_format

if TYPE_CHECKING:
    from pathlib import Path

PROVIDER_DIRS = {
    "openai-chat": "openai",
    "openai-chat-compatible": "openai",
    "openai-responses": "openai-responses",
    "anthropic": "anthropic",
    "gemini": "gemini",
}
ALL = [(d, p) for d, provider in PROVIDER_DIRS.items() for p in transcripts(d)]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamblocks.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def without_id(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "id"}


@pytest.mark.parametrize(("folder", "path"), ALL, ids=[f"{d}/{p.name}" for d, p in ALL])
def test_provider_and_format_are_detected_for_every_recording(folder: str, path: Path) -> None:
    data = path.read_bytes()
    fmt = detect_format(data, path.name)
    assert fmt == wire_format(path)
    assert detect_format(data) == fmt, "sniffing the bytes agrees with the suffix"
    assert detect_provider(data, fmt) == PROVIDER_DIRS[folder]


@pytest.mark.parametrize(("folder", "path"), ALL, ids=[f"{d}/{p.name}" for d, p in ALL])
def test_replay_gives_the_adapters_message(folder: str, path: Path) -> None:
    provider = PROVIDER_DIRS[folder]
    want = replay_pieces(lambda: adapter_for(provider), [path.read_bytes()], wire_format(path))
    stream = replay(path, chunk_size=37)
    if want.error is not None:
        with pytest.raises(type(want.error)):
            stream.output  # noqa: B018
        assert without_id(stream.snapshot().to_dict()) == without_id(want.partial.to_dict())
    else:
        assert without_id(stream.output.to_dict()) == without_id(want.ok().to_dict())


def test_cli_prints_the_text_live() -> None:
    path = FIXTURES / "openai-chat" / "gpt-4o-text-usage-chunk.sse"
    result = run_cli("replay", str(path))
    text = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in raw_chunks(path) if c["choices"]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == text + "\n"


def test_cli_prints_tool_calls_after_the_text() -> None:
    path = FIXTURES / "anthropic" / "text-then-tool-use-input-json-delta.sse"
    result = run_cli("replay", str(path), "--provider", "anthropic")
    assert result.returncode == 0, result.stderr
    tool = next(
        c["content_block"]
        for c in raw_chunks(path)
        if c.get("type") == "content_block_start" and c["content_block"]["type"] == "tool_use"
    )
    assert f"[tool call] {tool['name']}(" in result.stdout


@pytest.mark.parametrize(
    "path",
    [
        FIXTURES / "gemini" / "gemini-2.5-flash-json-array-stream-thought-function-call.json",
        FIXTURES / "openai-responses" / "reasoning-summary-code-interpreter.sse",
        FIXTURES / "openai-chat-compatible" / "deepseek-reasoning-content-then-tool-call.jsonl",
    ],
    ids=lambda p: p.name,
)
def test_cli_json_is_the_assembled_message(path: Path) -> None:
    result = run_cli("replay", str(path), "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert without_id(printed) == without_id(replay(path).output.to_dict())


def test_cli_events_are_json_lines() -> None:
    path = FIXTURES / "anthropic" / "thinking-signature-text.sse"
    result = run_cli("replay", str(path), "--events")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "message-start"
    assert events[-1]["event"] == "message-finish"
    assert any(e.get("delta", {}).get("type") == "reasoning-delta" for e in events)


def test_cli_provider_error_keeps_the_partial_output_and_exits_1() -> None:
    path = FIXTURES / "openai-chat-compatible" / "groq-gpt-oss-midstream-error-tool-use-failed.sse"
    error = next(c["error"] for c in raw_chunks(path) if "error" in c)
    result = run_cli("replay", str(path), "--json")
    assert result.returncode == 1
    assert "BadRequestError" in result.stderr
    assert error["message"][:40] in result.stderr
    partial = json.loads(result.stdout)
    assert any(b["type"] == "reasoning" for b in partial["content"]), "partial reasoning kept"
    with pytest.raises(ProviderError):
        replay(path).output  # noqa: B018


def test_cli_truncated_recording_exits_1(tmp_path: Path) -> None:
    data = (FIXTURES / "openai-chat" / "gpt-4o-text-usage-chunk.sse").read_bytes()
    cut = tmp_path / "cut.sse"
    cut.write_bytes(data[: len(data) // 2])
    result = run_cli("replay", str(cut))
    assert result.returncode == 1
    assert "IncompleteStreamError" in result.stderr
    assert result.stdout.strip(), "the text before the cut is printed"


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = run_cli("replay", str(tmp_path / "nope.sse"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    unknown = tmp_path / "mystery.jsonl"
    unknown.write_text('{"hello": 1}\n')
    result = run_cli("replay", str(unknown))
    assert result.returncode == 2
    assert "cannot tell which provider" in result.stderr
    with pytest.raises(InvalidInputError, match="pass the provider"):
        replay(unknown)
    bad = run_cli("replay", str(unknown), "--provider", "nope")
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr


def test_cli_version_and_help() -> None:
    version = run_cli("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("streamblocks ")
    help_text = run_cli("replay", "--help")
    assert help_text.returncode == 0
    for option in ("--provider", "--format", "--json", "--events"):
        assert option in help_text.stdout
    bare = run_cli()
    assert bare.returncode == 2
    assert "replay" in bare.stdout


def test_cli_stops_quietly_when_its_reader_goes_away() -> None:
    path = FIXTURES / "openai-chat-compatible" / "deepseek-reasoner-reasoning-content-text.sse"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamblocks.cli", "replay", str(path), "--events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode in (0, 141)
    assert b"Traceback" not in stderr
