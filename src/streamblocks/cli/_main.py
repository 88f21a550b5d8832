"""``streamblocks``: argument parsing and the subcommands.

Exit codes: 0 success; 1 the stream failed (provider error, truncated or
malformed recording); 2 bad usage or unreadable input; 130 interrupted; 141
the output pipe was closed by its reader.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, TextIO

from .. import __version__
from .._errors import InvalidInputError, StreamError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

EXIT_OK = 0
EXIT_STREAM_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamblocks",
        description="Stream chat-model responses: one typed stream for any provider.",
    )
    parser.add_argument("--version", action="version", version=f"streamblocks {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    replay = commands.add_parser(
        "replay",
        help="replay a recorded provider stream through its adapter",
        description=(
            "Replay a recorded raw response (.sse body, .jsonl payloads, or Gemini's .json "
            "array) through the provider's adapter. Prints the answer text as it is decoded, "
            "or the assembled message as JSON. The provider and framing are detected from "
            "the file unless given."
        ),
    )
    replay.add_argument("file", help="the recording (.sse, .jsonl or .json)")
    replay.add_argument(
        "--provider",
        choices=["openai", "openai-chat", "openai-responses", "anthropic", "gemini", "google"],
        help="the provider wire format (default: detected)",
    )
    replay.add_argument(
        "--format",
        dest="wire_format",
        choices=["sse", "jsonl", "json-array"],
        help="the framing (default: from the file suffix, else detected)",
    )
    output = replay.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true", help="print the assembled message as JSON (to_dict())"
    )
    output.add_argument(
        "--events", action="store_true", help="print every protocol event as one JSON line"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "replay":
            return _replay(args, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Unix tools do, and
        # keep Python from complaining when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    parser.error(f"unknown command {args.command!r}")  # exits; argparse checks first
    return EXIT_USAGE  # pragma: no cover


def _replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..providers._replay import replay  # noqa: PLC0415 - keeps --help fast

    try:
        stream = replay(args.file, provider=args.provider, wire_format=args.wire_format)
    except InvalidInputError as exc:
        print(f"streamblocks replay: {exc}", file=err)
        return EXIT_USAGE
    with stream:
        try:
            if args.events:
                for event in stream:
                    out.write(json.dumps(event, ensure_ascii=False) + "\n")
            elif args.json:
                message = stream.output
                json.dump(message.to_dict(), out, indent=2, ensure_ascii=False)
                out.write("\n")
            else:
                for delta in stream.text:
                    out.write(delta)
                    out.flush()
                message = stream.output
                for call in message.tool_calls:
                    out.write(f"\n[tool call] {call['name']}({json.dumps(call['args'])})")
                for bad in message.invalid_tool_calls:
                    out.write(f"\n[invalid tool call] {bad.get('name')}: {bad.get('error')}")
                out.write("\n")
        except StreamError as exc:
            out.flush()
            if args.json:
                json.dump(stream.snapshot().to_dict(), out, indent=2, ensure_ascii=False)
                out.write("\n")
            elif not args.events:
                out.write("\n")
            print(f"streamblocks replay: {type(exc).__name__}: {exc}", file=err)
            return EXIT_STREAM_ERROR
    return EXIT_OK
