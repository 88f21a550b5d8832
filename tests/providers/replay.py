"""Replaying the recorded provider transcripts through an adapter, three ways.

The transcripts live in ``../shared/fixtures/provider-streams/`` (next to the
repository, never copied into it; ``STREAMBLOCKS_FIXTURES`` overrides the
location). :func:`replay_three_ways` feeds one transcript whole, byte by byte
and split at random points, checks that all three give the same events and
the same message (or the same error), and returns that result.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamblocks import AIMessage, ChatModelStream, StreamError
from streamblocks.providers._framing import WireFormat, WireParser

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from streamblocks.providers._framing import Adapter


def _find_fixtures() -> Path:
    override = os.environ.get("STREAMBLOCKS_FIXTURES")
    if override:
        return Path(override)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "fixtures" / "provider-streams"
        if candidate.is_dir():
            return candidate
    msg = (
        "recorded provider streams not found: expected shared/fixtures/provider-streams "
        "next to the repository (or set STREAMBLOCKS_FIXTURES)"
    )
    raise RuntimeError(msg)


FIXTURES = _find_fixtures()

_FORMATS: dict[str, WireFormat] = {".sse": "sse", ".jsonl": "jsonl", ".json": "json-array"}


def wire_format(path: Path) -> WireFormat:
    return _FORMATS[path.suffix]


def transcripts(provider_dir: str) -> list[Path]:
    """Every transcript in one provider folder, sorted (derived ``.decoded`` files excluded)."""
    paths = sorted(
        p
        for p in (FIXTURES / provider_dir).iterdir()
        if p.suffix in _FORMATS and ".decoded" not in p.name
    )
    assert paths, f"no transcripts in {FIXTURES / provider_dir}"
    return paths


def raw_chunks(path: Path) -> list[Any]:
    """The transcript's JSON payloads, parsed independently of the adapter's
    decoders (so tests check against the raw data, not the code under test)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if path.suffix == ".json":
        value = json.loads(text)
        assert isinstance(value, list)
        return value
    chunks = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                chunks.append(json.loads(data))
    return chunks


@dataclass
class Replay:
    """What one replay produced: the events, and the message or the error."""

    events: list[dict[str, Any]]
    message: AIMessage | None
    error: BaseException | None
    partial: AIMessage
    """The stream's snapshot at the end: everything received, finished or not."""

    def ok(self) -> AIMessage:
        assert self.error is None, f"replay failed: {self.error!r}"
        assert self.message is not None
        return self.message


def replay_pieces(
    make_adapter: Callable[[], Adapter], pieces: Iterator[bytes] | list[bytes], fmt: WireFormat
) -> Replay:
    """Feed ``pieces`` to a fresh parser and a fresh stream."""
    parser = WireParser(make_adapter(), fmt)
    stream = ChatModelStream()
    events: list[dict[str, Any]] = []
    error: BaseException | None = None
    try:
        for piece in pieces:
            for event in parser.feed(piece):
                events.append(event)
                stream.dispatch(event)
        for event in parser.close():
            events.append(event)
            stream.dispatch(event)
    except StreamError as exc:
        error = exc
        stream.fail(exc)
    message = stream.output if error is None else None
    return Replay(events, message, error, stream.snapshot())


def splits(data: bytes, seed: int) -> list[bytes]:
    """``data`` cut at random points (about one cut per 16 bytes, at least 3)."""
    rng = random.Random(seed)
    count = min(len(data) - 1, max(3, len(data) // 16))
    cuts = sorted(rng.sample(range(1, len(data)), count)) if count > 0 else []
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def replay_three_ways(make_adapter: Callable[[], Adapter], path: Path) -> Replay:
    """Whole, byte by byte, and at random splits; all three must agree."""
    data = path.read_bytes()
    fmt = wire_format(path)
    whole = replay_pieces(make_adapter, [data], fmt)
    bytewise = replay_pieces(make_adapter, (data[i : i + 1] for i in range(len(data))), fmt)
    for way in (bytewise, *(replay_pieces(make_adapter, splits(data, s), fmt) for s in (1, 2))):
        assert way.events == whole.events, f"{path.name}: events differ with another split"
        assert repr(way.error) == repr(whole.error), f"{path.name}: errors differ"
        if whole.message is not None:
            assert way.message is not None
            assert way.message.to_dict() == whole.message.to_dict()
        assert way.partial.to_dict() == whole.partial.to_dict()
    return whole
