"""``streamblocks``: argument parsing and the subcommands.

Subcommands: ``chat`` (``_chat.py``: talk to any model, shown live) and
``replay`` (a recorded provider stream through its adapter). Exit codes are
listed in ``_failures.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import TYPE_CHECKING, TextIO

from .. import __version__
from .._errors import InvalidInputError, StreamError
from ._failures import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

EXIT_STREAM_ERROR = 1

_CHAT_EPILOG = f"""\
models (--model PROVIDER:MODEL, or the STREAMBLOCKS_MODEL variable):
  demo                          offline, no key (the default)
  openai:gpt-4o-mini            OPENAI_API_KEY
  openai-responses:gpt-5-mini   OPENAI_API_KEY (the Responses API)
  anthropic:claude-sonnet-4-5   ANTHROPIC_API_KEY
  gemini:gemini-2.5-flash       GEMINI_API_KEY or GOOGLE_API_KEY
  ollama:llama3.2               a local Ollama, no key (OLLAMA_BASE_URL)
  vllm:MODEL                    a local vLLM, no key
  deepseek, groq, mistral, openrouter, xai, perplexity, qwen, together,
  fireworks, lmstudio, llamacpp: OpenAI-compatible presets
  openai:MODEL --base-url URL   any OpenAI-compatible server

--reasoning sends: reasoning_effort=medium (OpenAI and compatible servers,
  Anthropic's thinking budget), with summaries on the Responses API, and
  includeThoughts on Gemini. --no-reasoning asks for the least the provider
  allows (minimal effort; thinking off on Anthropic and Gemini).

in a session: /help, /clear (forget the conversation), /exit or Ctrl-D.
Ctrl-C stops the reply being streamed and keeps what arrived; a second
Ctrl-C quits.

{EXIT_CODES_HELP}

examples:
  streamblocks chat "What's the weather in Paris?"
  streamblocks chat --model anthropic:claude-sonnet-4-5 --reasoning "Why is the sky blue?"
  streamblocks chat --model ollama:llama3.2 --base-url http://gpu-box:11434/v1
  echo "Summarize this" | streamblocks chat --json -
  streamblocks chat --record reply.sse "Hi" && streamblocks replay reply.sse"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamblocks",
        description=(
            "Stream chat-model responses: text, reasoning and tool calls from any provider, "
            "as one typed stream."
        ),
        epilog=(
            "run 'streamblocks COMMAND --help' for a command's options. "
            'Start with: streamblocks chat "What\'s the weather in Paris?"'
        ),
    )
    parser.add_argument("--version", action="version", version=f"streamblocks {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _chat_parser(commands)
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
        choices=[
            "openai",
            "openai-chat",
            "openai-responses",
            "anthropic",
            "gemini",
            "google",
            "events",
        ],
        help="the wire format (default: detected); events: protocol events, one JSON per line",
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


def _chat_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    chat = commands.add_parser(
        "chat",
        help="chat with a model: one answer, or an interactive session, streamed live",
        description=(
            "Ask a model and watch the answer stream: reasoning dimmed, the text as\n"
            "Markdown, tool calls with their arguments as they arrive, and a footer with\n"
            "the time to first token, tokens per second and usage.\n\n"
            "With a PROMPT it answers once; without one it starts a session that keeps\n"
            "the conversation. When stdout is not a terminal it prints the answer's text\n"
            "only."
        ),
        epilog=_CHAT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument(
        "prompt",
        nargs="*",
        metavar="PROMPT",
        help="what to ask ('-' reads it from stdin); none starts an interactive session",
    )
    chat.add_argument(
        "-m",
        "--model",
        metavar="PROVIDER:MODEL",
        help="the model (default: $STREAMBLOCKS_MODEL, else the offline 'demo')",
    )
    chat.add_argument(
        "--base-url",
        metavar="URL",
        help="the server's API root, e.g. http://localhost:11434/v1 (needs --model)",
    )
    chat.add_argument("-s", "--system", metavar="TEXT", help="a system prompt")
    chat.add_argument("-t", "--temperature", type=float, metavar="T", help="sampling temperature")
    chat.add_argument(
        "--max-tokens", type=int, metavar="N", help="the most tokens the reply may use"
    )
    chat.add_argument(
        "--reasoning",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ask the model to reason and show it, or not (default: the model's own)",
    )
    chat.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="give up when the model sends nothing for this long (default: 300)",
    )
    chat.add_argument(
        "--retries",
        type=int,
        metavar="N",
        help=(
            "retry a failed request this many times (connection errors, 429, 5xx), "
            "only before the answer starts (default: 2)"
        ),
    )
    chat.add_argument(
        "--json",
        action="store_true",
        help="print each reply as the assembled message's JSON (AIMessage.to_dict())",
    )
    chat.add_argument(
        "--record",
        metavar="FILE",
        help=(
            "save each reply's raw wire stream to FILE (FILE-2, FILE-3... for later turns) "
            "for 'streamblocks replay'; use .sse for HTTP providers, .jsonl for demo"
        ),
    )
    chat.add_argument(
        "--plain", action="store_true", help="plain text even on a terminal (no live view)"
    )
    chat.add_argument(
        "-v", "--verbose", action="store_true", help="on errors, show the details and traceback"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "chat":
            if args.timeout is not None and not (0 < args.timeout < math.inf):
                parser.error("--timeout must be a positive number of seconds")
            if args.retries is not None and args.retries < 0:
                parser.error("--retries must be 0 or more")
            from ._chat import run_chat  # noqa: PLC0415 - keeps --help fast

            return run_chat(args, sys.stdout, sys.stderr)
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
