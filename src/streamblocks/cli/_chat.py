"""``streamblocks chat``: one answer, or an interactive session, shown live.

Each reply is one ``AsyncChatModelStream`` consumed on a fresh event loop
(``asyncio.run`` per turn), so that reading the next prompt is ordinary
blocking ``input()``. While a reply streams, Ctrl-C is handled by the loop
(not as a ``KeyboardInterrupt`` landing anywhere): the first one cancels the
consumer, and leaving the ``async with stream`` block closes the stream,
which cancels its producer and closes the HTTP response; what arrived is
kept, shown as interrupted, and stays in the conversation. A second Ctrl-C
exits at once with status 130.

The conversation keeps every assistant message whole (reasoning with its
signature, tool calls), so the provider sees its own earlier turns. The CLI
runs no tools: before the next prompt, each unanswered tool call is answered
with an error result saying so, which keeps the conversation valid for
every provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from .._errors import InvalidInputError, StreamError
from .._messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from ._failures import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    describe,
    report,
)

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping
    from typing import TextIO

    from .._messages import Message
    from .._stream import AsyncChatModelStream
    from ..models import ChatModel
    from ..providers._http import HTTPChatModel

__all__ = ["DEFAULT_MODEL_NOTICE", "run_chat"]

DEFAULT_MODEL_NOTICE = (
    "streamblocks: the offline demo model (for a real one: --model openai:gpt-4o-mini)"
)
NO_TOOLS = "not run: streamblocks chat does not execute tools"
SESSION_HELP = """\
commands: /help  /clear (forget the conversation)  /exit (or Ctrl-D)
Ctrl-C stops a reply; a second Ctrl-C quits."""


class _View(Protocol):
    def __enter__(self) -> Any: ...
    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None: ...
    def event(self, event: Mapping[str, Any]) -> None: ...
    def tick(self) -> None: ...
    def end(self, message: AIMessage | None, status: str | None = None) -> None: ...


@dataclass
class _Turn:
    message: AIMessage
    error: BaseException | None = None
    interrupted: bool = False


@dataclass
class _Options:
    params: dict[str, Any]
    timeout: float | None
    json: bool
    live: bool
    verbose: bool
    record: Path | None
    label: str
    key_env: tuple[str, ...]
    out: TextIO
    err: TextIO


class _ExitNow(Exception):
    """A second Ctrl-C: leave at once."""


# -- the command ---------------------------------------------------------------


def run_chat(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``streamblocks chat`` with parsed ``args``; return the exit code."""
    try:
        model, spec_given = _model(args)
    except (InvalidInputError, ImportError) as exc:
        return _usage(exc, err)
    try:
        params = _params(args, model.provider)
    except InvalidInputError as exc:
        return _usage(exc, err)
    live = False
    if not args.json and out.isatty() and not args.plain:
        live = _rich_available(err)
    opts = _Options(
        params=params,
        timeout=args.timeout,
        json=args.json,
        live=live,
        verbose=args.verbose,
        record=Path(args.record) if args.record else None,
        label=f"{model.provider}:{model.model}",
        key_env=tuple(getattr(model, "api_key_env", ())),
        out=out,
        err=err,
    )
    if opts.record is not None:
        problem = _record_problem(model, opts.record)
        if problem:
            err.write(f"streamblocks chat: {problem}\n")
            return EXIT_USAGE
    if not spec_given:
        err.write(DEFAULT_MODEL_NOTICE + "\n")
    history: list[Message] = [SystemMessage(args.system)] if args.system else []
    try:
        if args.prompt:
            prompt = " ".join(args.prompt)
            if prompt == "-":
                prompt = sys.stdin.read()
            return _one_shot(model, history, prompt, opts)
        return _session(model, history, opts)
    finally:
        close = getattr(model, "close", None)
        if callable(close):
            close()


def _usage(exc: BaseException, err: TextIO) -> int:
    if isinstance(exc, ImportError):
        err.write(
            f"streamblocks chat: {exc.name or 'a dependency'} is not installed: "
            "pip install 'streamblocks[cli]'\n"
        )
    else:
        err.write(f"streamblocks chat: {exc}\n")
    return EXIT_USAGE


def _model(args: argparse.Namespace) -> tuple[ChatModel, bool]:
    from ..models import init_chat_model  # noqa: PLC0415 - keeps --help fast

    spec = args.model or os.environ.get("STREAMBLOCKS_MODEL") or ""
    given = bool(spec)
    if not spec:
        if args.base_url:
            msg = (
                "--base-url needs --model naming the server's protocol and model, "
                "e.g. --model ollama:llama3.2 or --model openai:<model>"
            )
            raise InvalidInputError(msg)
        spec = "demo"
    kwargs: dict[str, Any] = {}
    if args.base_url:
        kwargs["base_url"] = args.base_url
    if args.retries is not None and spec.partition(":")[0] != "demo":
        kwargs["max_retries"] = args.retries
    return init_chat_model(spec, **kwargs), given


def _params(args: argparse.Namespace, provider: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if args.temperature is not None:
        if not math.isfinite(args.temperature) or args.temperature < 0:
            msg = f"--temperature must be >= 0, got {args.temperature}"
            raise InvalidInputError(msg)
        params["temperature"] = args.temperature
    if args.max_tokens is not None:
        if args.max_tokens < 1:
            msg = f"--max-tokens must be at least 1, got {args.max_tokens}"
            raise InvalidInputError(msg)
        params["max_tokens"] = args.max_tokens
    if args.reasoning is not None:
        params.update(reasoning_params(provider, on=args.reasoning))
    return params


def reasoning_params(provider: str, *, on: bool) -> dict[str, Any]:
    """What ``--reasoning`` / ``--no-reasoning`` send to each provider."""
    if provider == "demo":
        return {"reasoning": on}
    if provider == "openai-responses":
        return (
            {"reasoning_effort": "medium", "include_reasoning": True}
            if on
            else {"reasoning_effort": "minimal"}
        )
    if provider in ("gemini", "google"):
        return {"include_reasoning": True} if on else {"thinking_budget": 0}
    if provider == "anthropic":
        return {"reasoning_effort": "medium" if on else "none"}
    # OpenAI Chat Completions and compatible servers.
    return {"reasoning_effort": "medium" if on else "minimal"}


def _rich_available(err: TextIO) -> bool:
    try:
        import rich  # noqa: F401, PLC0415
    except ImportError:
        err.write(
            "streamblocks: install 'streamblocks[cli]' for the live view; showing plain text\n"
        )
        return False
    return True


def _record_problem(model: ChatModel, path: Path) -> str | None:
    wire = _wire_suffix(model)
    suffix = path.suffix.lower()
    known = {".sse", ".jsonl", ".ndjson", ".json"}
    if suffix in known and suffix != wire and not (wire == ".jsonl" and suffix == ".ndjson"):
        return f"{model.provider} replies are recorded as {wire}; name the file {path.stem}{wire}"
    if path.is_dir():
        return f"cannot record to {path}: it is a directory; name a file in it"
    if not path.parent.is_dir():
        return f"cannot record to {path}: {path.parent} is not a directory"
    return None


def _http_model(model: ChatModel) -> HTTPChatModel | None:
    try:
        from ..providers._http import HTTPChatModel  # noqa: PLC0415 - needs httpx
    except ImportError:
        return None  # then no model can be one
    return model if isinstance(model, HTTPChatModel) else None


def _wire_suffix(model: ChatModel) -> str:
    if _http_model(model) is not None:
        return ".json" if getattr(model, "wire_format", "sse") == "json-array" else ".sse"
    return ".jsonl"  # no wire: the protocol events themselves


# -- one-shot and interactive ----------------------------------------------------


def _one_shot(model: ChatModel, history: list[Message], prompt: str, opts: _Options) -> int:
    history.append(HumanMessage(prompt))
    try:
        turn = _run_turn(model, history, opts, number=1)
    except _ExitNow:
        return EXIT_INTERRUPTED
    if turn.error is not None:
        return _fail(turn.error, opts)
    return EXIT_INTERRUPTED if turn.interrupted else EXIT_OK


def _session(model: ChatModel, history: list[Message], opts: _Options) -> int:
    interactive = sys.stdin.isatty()
    if interactive:
        opts.err.write(f"streamblocks chat · {opts.label} · /help for commands\n")
    number = 0
    while True:
        try:
            line = _read_prompt(interactive, opts)
        except KeyboardInterrupt:
            opts.err.write("\n")
            return EXIT_INTERRUPTED
        if line is None:
            if interactive:
                opts.err.write("\n")
            return EXIT_OK
        prompt = line.strip()
        if not prompt:
            continue
        if prompt in ("/exit", "/quit"):
            return EXIT_OK
        if prompt == "/help":
            opts.err.write(SESSION_HELP + "\n")
            continue
        if prompt == "/clear":
            del history[int(isinstance(history[0], SystemMessage)) if history else 0 :]
            opts.err.write("(conversation cleared)\n")
            continue
        _answer_tool_calls(history)
        history.append(HumanMessage(prompt))
        number += 1
        try:
            turn = _run_turn(model, history, opts, number=number)
        except _ExitNow:
            return EXIT_INTERRUPTED
        if turn.error is not None:
            history.pop()  # the turn did not happen; the user may retry it
            code = _fail(turn.error, opts)
            if not interactive:
                return code
            continue
        if turn.interrupted:
            if turn.message.text:
                # What the user saw stays in the conversation, as plain text:
                # a cut-off tool call or unsigned reasoning could not be sent back.
                history.append(AIMessage(turn.message.text))
            else:
                history.pop()
            continue
        history.append(turn.message)


def _read_prompt(interactive: bool, opts: _Options) -> str | None:
    if interactive and opts.out.isatty():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401, PLC0415 - line editing and history for input()
        try:
            return input("\n> ")
        except EOFError:
            return None
    if interactive:
        opts.err.write("> ")
        opts.err.flush()
    line = sys.stdin.readline()
    return line if line else None


def _answer_tool_calls(history: list[Message]) -> None:
    last = history[-1] if history else None
    if not isinstance(last, AIMessage):
        return
    # Providers reject a conversation in which a call has no result, invalid
    # calls (arguments cut off, say) included.
    calls: list[tuple[str | None, str | None]] = [(c["id"], c["name"]) for c in last.tool_calls]
    calls += [(c["id"], c["name"]) for c in last.invalid_tool_calls if c["id"]]
    for call_id, name in calls:
        history.append(
            ToolMessage(
                json.dumps({"error": NO_TOOLS}),
                tool_call_id=call_id or "",
                name=name,
                status="error",
            )
        )


def _fail(error: BaseException, opts: _Options) -> int:
    failure = describe(error, key_env=opts.key_env)
    report(error, failure, opts.err, verbose=opts.verbose)
    return failure.exit_code


# -- one reply -------------------------------------------------------------------


def _run_turn(model: ChatModel, history: list[Message], opts: _Options, *, number: int) -> _Turn:
    """One reply: stream it into the view; errors come back in the ``_Turn``."""
    try:
        return asyncio.run(_turn(model, history, opts, number))
    except (StreamError, InvalidInputError) as exc:
        # Raised before the stream existed (bad input, no API key).
        return _Turn(AIMessage(), error=exc)
    except asyncio.CancelledError:
        raise _ExitNow from None


async def _turn(model: ChatModel, history: list[Message], opts: _Options, number: int) -> _Turn:
    recorder = _Recorder(model, opts, number)
    kwargs: dict[str, Any] = {}
    if opts.timeout is not None:
        kwargs.update(first_event_timeout=opts.timeout, idle_timeout=opts.timeout)
    loop = asyncio.get_running_loop()
    interrupts = _Interrupts(asyncio.current_task())
    # Installed for the whole turn, until the view has drawn its ending: a
    # Ctrl-C never lands as a KeyboardInterrupt in the middle of a redraw.
    handled = _catch_sigint(loop, interrupts)
    try:
        with recorder:
            stream = await model.astream_events(
                list(history), callbacks=recorder.callbacks, **kwargs, **opts.params
            )
            # A second Ctrl-C cancels this task: the view's exit still draws
            # what arrived and an "interrupted" footer.
            with _make_view(opts) as view:
                turn = await _consume(stream, view, interrupts)
                status = "interrupted" if turn.interrupted else "failed" if turn.error else None
                view.end(turn.message, status)
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)
    if interrupts.exiting:
        raise _ExitNow  # the second Ctrl-C came after the stream had closed
    if opts.json:
        json.dump(turn.message.to_dict(), opts.out, indent=2, ensure_ascii=False)
        opts.out.write("\n")
        opts.out.flush()
    if recorder.path is not None:
        opts.err.write(f"recorded the reply to {recorder.path}\n")
    return turn


class _Interrupts:
    """The turn's SIGINT handler: the first stops the reply, the second the command."""

    def __init__(self, main: asyncio.Task[Any] | None) -> None:
        self.main = main
        self.consumer: asyncio.Future[None] | None = None
        self.count = 0

    @property
    def interrupted(self) -> bool:
        return self.count >= 1

    @property
    def exiting(self) -> bool:
        return self.count >= 2

    def __call__(self) -> None:
        self.count += 1
        consumer = self.consumer
        if self.count == 1 and consumer is not None and not consumer.done():
            consumer.cancel()
            return
        if self.count == 1:
            self.count = 2  # nothing is streaming yet (or any more): leave
        if self.main is not None:
            self.main.cancel()


async def _consume(stream: AsyncChatModelStream, view: _View, interrupts: _Interrupts) -> _Turn:
    async def consume() -> None:
        async for event in stream:
            view.event(event)

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.1)
            view.tick()

    error: BaseException | None = None
    # Leaving this block closes the stream: the producer is cancelled and
    # the HTTP response closed, so the server sees the client go.
    async with stream:
        consumer = interrupts.consumer = asyncio.ensure_future(consume())
        ticker = asyncio.ensure_future(tick())
        try:
            await consumer
        except asyncio.CancelledError:
            # Ours after one Ctrl-C; after two (even both before the consumer
            # finished cancelling) or from outside, it goes on up.
            if not interrupts.interrupted or interrupts.exiting:
                raise
        except StreamError as exc:
            error = exc
        finally:
            ticker.cancel()
    if error is None and not interrupts.interrupted:
        return _Turn(await stream)
    return _Turn(stream.snapshot(), error=error, interrupted=interrupts.interrupted)


def _catch_sigint(loop: asyncio.AbstractEventLoop, handler: Any) -> bool:
    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError, ValueError):
        return False  # not the main thread, or a platform without it: KeyboardInterrupt as usual
    return True


def _make_view(opts: _Options) -> _View:
    if opts.live:
        from rich.console import Console  # noqa: PLC0415

        from ._live import LiveView  # noqa: PLC0415

        return LiveView(Console(file=opts.out), label=opts.label)
    if opts.json:
        return _NullView()
    from ._plain import PlainView  # noqa: PLC0415

    return PlainView(opts.out, opts.err, verbose=opts.verbose)


class _NullView:
    def __enter__(self) -> _NullView:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        pass

    def event(self, event: Mapping[str, Any]) -> None:
        pass

    def tick(self) -> None:
        pass

    def end(self, message: AIMessage | None, status: str | None = None) -> None:
        pass


class _Recorder:
    """Saves one reply as ``streamblocks replay`` reads it: the raw response body of
    an HTTP model, the protocol events (JSON lines) of any other."""

    def __init__(self, model: ChatModel, opts: _Options, number: int) -> None:
        self.http = _http_model(model)
        self.path: Path | None = None
        self.callbacks: list[Any] = []
        self._file: BinaryIO | None = None
        if opts.record is None:
            return
        path = opts.record
        if number > 1:
            path = path.with_name(f"{path.stem}-{number}{path.suffix}")
        self.path = path

    def __enter__(self) -> _Recorder:
        if self.path is None:
            return self
        try:
            self._file = self.path.open("wb")
        except OSError as exc:
            msg = f"cannot record to {self.path}: {exc.strerror or exc}"
            raise InvalidInputError(msg) from exc
        if self.http is not None:
            self.http.wire_tap = self._write
        else:
            from ..providers._record import EventRecorder  # noqa: PLC0415

            self.callbacks.append(EventRecorder(self._file))
        return self

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)

    def __exit__(self, *exc: object) -> None:
        if self.http is not None:
            self.http.wire_tap = None
        if self._file is not None:
            empty = self._file.tell() == 0
            self._file.close()
            if empty and self.path is not None:
                # The request failed before any reply: there is nothing to replay.
                self.path.unlink(missing_ok=True)
                self.path = None
