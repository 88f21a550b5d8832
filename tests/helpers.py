"""Small async and iteration helpers, and the expected values of ``events.mixed_message``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

from tests import events as ev

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Awaitable, Iterable

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
