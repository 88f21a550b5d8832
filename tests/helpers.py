"""Small async and iteration helpers, and the expected values of ``events.mixed_message``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

from tests import events as ev

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Awaitable, Generator, Iterable

    from streamblocks import ChatModelStream

T = TypeVar("T")

MIXED = ev.mixed_message()
MIXED_TEXT = "Checking both."
MIXED_REASONING = "Let me think."
MIXED_TOOL_CALLS = [
    {"type": "tool_call", "id": "call_a", "name": "get_weather", "args": {"city": "Paris"}},
    {"type": "tool_call", "id": "call_b", "name": "get_time", "args": {"tz": "UTC"}},
]
MIXED_CHUNK_ARGS = ['{"city": ', '{"tz": "UTC"}', '"Paris"}']
MIXED_USAGE = {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30}


async def aw(awaitable: Awaitable[T]) -> T:
    """Await anything awaitable inside a coroutine (so it can become a task)."""
    return await awaitable


async def collect(ait: AsyncIterable[T]) -> list[T]:
    return [item async for item in ait]


def drain(iterable: Iterable[T]) -> tuple[list[T], BaseException | None]:
    """Iterate to the end; return what was yielded and the error that ended it."""
    items: list[T] = []
    try:
        for item in iterable:
            items.append(item)
    except Exception as exc:
        return items, exc
    return items, None


async def adrain(ait: AsyncIterable[T]) -> tuple[list[T], BaseException | None]:
    """``drain`` for async iterables."""
    items: list[T] = []
    try:
        async for item in ait:
            items.append(item)
    except Exception as exc:
        return items, exc
    return items, None


async def settle() -> None:
    """Let every ready task run until it blocks again."""
    for _ in range(5):
        await asyncio.sleep(0)


class GeneratorSource:
    """A real generator behind a sync stream's pump: one event per pull.

    Counts ``pulls``, how often the generator's ``finally`` ran (where an HTTP
    response would be released) and ``close_calls``. With ``install`` it binds
    its pump and close callback to the stream itself.
    """

    def __init__(
        self, stream: ChatModelStream, events: list[ev.Event], *, install: bool = True
    ) -> None:
        self.stream = stream
        self.pulls = 0
        self.finally_ran = 0
        self.close_calls = 0
        self.gen: Generator[ev.Event, None, None] = self._events(events)
        if install:
            stream.bind_pump(self.pump)
            stream.set_close(self.close)

    def _events(self, events: list[ev.Event]) -> Generator[ev.Event, None, None]:
        try:
            yield from events
        finally:
            self.finally_ran += 1

    def pump(self) -> bool:
        self.pulls += 1
        event = next(self.gen, None)
        if event is None:
            return False
        self.stream.dispatch(event)
        return True

    def close(self) -> None:
        self.close_calls += 1
        self.gen.close()
