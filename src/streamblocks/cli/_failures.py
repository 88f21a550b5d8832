"""What went wrong, in one line a user can act on, and the exit code that goes with it.

Exit codes (also in ``streamblocks chat --help``):

====  =================================================================
0     success
1     the provider or the stream failed otherwise (bad request, unknown
      model, server error, malformed or truncated stream)
2     bad usage: an unknown option or provider, an unreadable file, a
      missing extra (``pip install 'streamblocks[cli]'``)
3     authentication: no API key, or the provider refused it (401/403)
4     rate limited or out of quota (429)
5     the server could not be reached
6     timed out waiting for the model
130   interrupted (Ctrl-C)
141   the output pipe was closed by its reader
====  =================================================================
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._errors import (
    AuthenticationError,
    IncompleteStreamError,
    InvalidInputError,
    ProviderError,
    RateLimitError,
    StreamError,
    StreamTimeoutError,
)

if TYPE_CHECKING:
    from typing import TextIO

__all__ = [
    "EXIT_AUTH",
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_RATE_LIMIT",
    "EXIT_TIMEOUT",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "Failure",
    "describe",
    "report",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_RATE_LIMIT = 4
EXIT_UNREACHABLE = 5
EXIT_TIMEOUT = 6
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it

EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    the provider or the stream failed (bad request, unknown model, server error)
  2    bad usage (unknown option or provider, unreadable file, missing extra)
  3    no API key, or the provider refused it (401/403)
  4    rate limited or out of quota (429)
  5    the server could not be reached
  6    timed out waiting for the model
  130  interrupted (Ctrl-C)"""


@dataclass(frozen=True)
class Failure:
    """One line for the user, and the process exit code."""

    line: str
    exit_code: int


def describe(error: BaseException, *, key_env: tuple[str, ...] = ()) -> Failure:
    """The line and exit code for an error raised while chatting.

    ``key_env`` names the variables the model reads its key from, for the hint.
    """
    keys = " or ".join(key_env)
    if isinstance(error, AuthenticationError):
        if error.code == "missing_api_key":
            where = f"set {keys}" if keys else "set the provider's API key variable"
            return Failure(
                f"no API key: {where} (or run the offline demo with --model demo)", EXIT_AUTH
            )
        check = f"check {keys}" if keys else "check the API key"
        return Failure(f"{_provider_message(error)} ({check})", EXIT_AUTH)
    if isinstance(error, RateLimitError):
        wait = (
            f"wait {error.retry_after:.3g} s and try again"
            if error.retry_after is not None
            else "wait a moment and try again, or check your plan's quota"
        )
        return Failure(f"rate limited: {_provider_message(error)} ({wait})", EXIT_RATE_LIMIT)
    if isinstance(error, ProviderError) and error.code in ("connect_error", "connect_timeout"):
        return Failure(f"{error} (is the server running? point --base-url at it)", EXIT_UNREACHABLE)
    if isinstance(error, StreamTimeoutError):
        limit = f"{error.timeout:g} s" if error.timeout is not None else "too long"
        what = {
            "first_event": f"no reply began within {limit}",
            "idle": f"the reply stalled for {limit}",
            "total": f"the reply took longer than {limit}",
        }.get(error.kind or "", f"no answer within {limit}")
        return Failure(f"timed out: {what} (raise --timeout, or retry)", EXIT_TIMEOUT)
    if isinstance(error, InvalidInputError):
        return Failure(str(error), EXIT_USAGE)
    if isinstance(error, ProviderError):
        return Failure(_provider_message(error), EXIT_FAILED)
    if isinstance(error, IncompleteStreamError):
        return Failure(f"{error} (the answer is cut off; try again)", EXIT_FAILED)
    if isinstance(error, StreamError):
        return Failure(str(error), EXIT_FAILED)
    return Failure(f"{type(error).__name__}: {error}", EXIT_FAILED)


def report(error: BaseException, failure: Failure, err: TextIO, *, verbose: bool) -> None:
    """Print the failure's line; with ``verbose``, the error's details and traceback too."""
    # One line, whatever the provider's message held.
    err.write(f"streamblocks chat: {' '.join(failure.line.split())}\n")
    if not verbose:
        return
    err.write(f"  error: {type(error).__module__}.{type(error).__qualname__}\n")
    if isinstance(error, ProviderError):
        for name in ("status", "code", "request_id", "retry_after", "body"):
            value = getattr(error, name)
            if value is not None:
                err.write(f"  {name}: {value!r}\n")
    err.write("".join(traceback.format_exception(error)))


def _provider_message(error: ProviderError) -> str:
    return str(error).strip() or type(error).__name__
