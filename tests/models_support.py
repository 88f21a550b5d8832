"""Shared by the model test modules: one way to run a model in each mode, and leak checks."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streamblocks import AsyncChatModelStream
from streamblocks.models._driver import _BackgroundLoop
from streamblocks.testing import RecordingHandler, ScriptedModel

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from streamblocks import AIMessage, ChatModelStream
    from streamblocks._messages import Message

MODES = ["async", "sync-native", "sync-bridged"]
"""How a run is driven: the async stream, or the sync stream over a native sync
source or over the async source (the background-loop bridge)."""


@dataclass
class Outcome:
    stream: AsyncChatModelStream | ChatModelStream
    handler: RecordingHandler
    message: AIMessage | None
    error: BaseException | None
    errors: dict[str, BaseException | None]
    """What each projection raised once the run had ended (see ``projection_errors``)."""
    leaked: set[asyncio.Task[Any]]
    """Async mode: tasks still alive on the loop once the run had ended and been closed."""


def set_mode(model: ScriptedModel, mode: str) -> ScriptedModel:
    model.native_sync = mode != "sync-bridged"
    return model


def run(model: ScriptedModel, mode: str, input: Any = "hi", **kwargs: Any) -> Outcome:
    """Run ``model`` to its end in ``mode`` (draining ``.output``), recording callbacks.

    A plain function in every mode (the async mode runs on a fresh event loop),
    so that the tests using it are plain functions too. Every async run is
    checked to leave no task behind.
    """
    set_mode(model, mode)
    handler = RecordingHandler()
    callbacks = [*kwargs.pop("callbacks", ()), handler]
    if mode == "async":
        outcome = asyncio.run(_arun(model, input, handler, callbacks, kwargs))
        assert outcome.leaked == set(), outcome.leaked
        return outcome
    message: AIMessage | None = None
    error: BaseException | None = None
    stream = model.stream_events(input, callbacks=callbacks, **kwargs)
    try:
        message = stream.output
    except Exception as exc:
        error = exc
    stream.close()
    return Outcome(stream, handler, message, error, sync_projection_errors(stream), set())


async def _arun(
    model: ScriptedModel,
    input: Any,
    handler: RecordingHandler,
    callbacks: list[Any],
    kwargs: dict[str, Any],
) -> Outcome:
    message: AIMessage | None = None
    error: BaseException | None = None
    stream = await model.astream_events(input, callbacks=callbacks, **kwargs)
    try:
        message = await stream
    except Exception as exc:
        error = exc
    await stream.aclose()
    errors = await projection_errors(stream)
    return Outcome(stream, handler, message, error, errors, await other_tasks())


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` from a plain thread until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def waiters(stream: AsyncChatModelStream | ChatModelStream) -> int:
    """How many consumers are registered as waiting on the stream (should be 0 at rest)."""
    core = stream._core
    return sum(
        len(channel.waiters)
        for channel in (core.events, core.text, core.reasoning, core.tool_chunks, core.terminal)
    )


async def other_tasks() -> set[asyncio.Task[Any]]:
    """Tasks of this loop, other than the current one, after letting them settle."""
    for _ in range(5):
        await asyncio.sleep(0)
    return asyncio.all_tasks() - {asyncio.current_task()}


def bridge_tasks() -> set[asyncio.Task[Any]]:
    """Tasks pending on the background loop that drives async sources for sync callers."""
    loop = _BackgroundLoop.get()

    async def tasks() -> set[asyncio.Task[Any]]:
        await asyncio.sleep(0)
        return asyncio.all_tasks() - {asyncio.current_task()}

    return asyncio.run_coroutine_threadsafe(tasks(), loop).result(5)


async def projection_errors(
    stream: AsyncChatModelStream | ChatModelStream,
) -> dict[str, BaseException | None]:
    """What each projection raises once the stream has ended (``None``: it did not raise)."""
    errors: dict[str, BaseException | None] = {}
    if isinstance(stream, AsyncChatModelStream):
        checks: dict[str, Any] = {
            "await stream": lambda: stream,
            "output": lambda: stream.output,
            "usage": lambda: stream.usage,
            "text": lambda: stream.text,
            "reasoning": lambda: stream.reasoning,
            "tool_calls": lambda: stream.tool_calls,
        }
        for name, awaitable in checks.items():
            try:
                await awaitable()
                errors[name] = None
            except Exception as exc:
                errors[name] = exc
        for name, iterable in (("iter text", stream.text), ("iter events", stream)):
            try:
                async for _ in iterable:
                    pass
                errors[name] = None
            except Exception as exc:
                errors[name] = exc
        return errors
    return sync_projection_errors(stream)


def sync_projection_errors(stream: ChatModelStream) -> dict[str, BaseException | None]:
    """``projection_errors`` for a sync stream."""
    errors: dict[str, BaseException | None] = {}
    sync_checks: dict[str, Any] = {
        "output": lambda: stream.output,
        "usage": lambda: stream.usage,
        "text": lambda: str(stream.text),
        "reasoning": stream.reasoning.get,
        "tool_calls": stream.tool_calls.get,
        "iter text": lambda: list(stream.text),
        "iter events": lambda: list(stream),
    }
    for name, call in sync_checks.items():
        try:
            call()
            errors[name] = None
        except Exception as exc:
            errors[name] = exc
    return errors


class SlowCleanup(ScriptedModel):
    """A scripted async source whose cleanup awaits (as closing a connection does).

    ``cleanup_started`` is set when its ``finally`` begins (on the loop that
    runs the source); ``cleanup_done`` counts the cleanups that completed.
    """

    def __init__(self, *args: Any, cleanup: float = 0.05, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cleanup = cleanup
        self.cleanup_started = threading.Event()
        self.cleanup_done = 0

    async def _astream(
        self, messages: list[Message], **params: Any
    ) -> AsyncGenerator[dict[str, Any], None]:
        inner = super()._astream(messages, **params)
        try:
            async for event in inner:
                yield dict(event)
        finally:
            self.cleanup_started.set()
            try:
                await asyncio.sleep(self.cleanup)
            finally:
                await inner.aclose()
            self.cleanup_done += 1
