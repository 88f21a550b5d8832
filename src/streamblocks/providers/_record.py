"""Recording a reply so that :func:`~._replay.replay` can play it back.

Two kinds of recording, one per kind of model:

- an HTTP model's raw response body: pass ``file.write`` (a file opened in
  binary mode) as the model's ``wire_tap``; the recording replays through the
  provider's adapter;
- any other model's protocol events, one JSON object per line: add an
  :class:`EventRecorder` to the run's callbacks; the recording replays as
  provider ``"events"``.

Either way one file holds one reply: ``replay`` plays back one message.
"""

from __future__ import annotations

import io
import json
from typing import IO, TYPE_CHECKING, Any

from ..models._callbacks import CallbackHandler

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._messages import AIMessage
    from ..models._callbacks import Run

__all__ = ["EventRecorder"]


class EventRecorder(CallbackHandler):
    """Writes every event dispatched in a run as one JSON line to ``file``.

    The lines are what ``streamblocks replay --events`` prints (compact, not
    ASCII-escaped), so the file replays to the same message, with the
    message's ``id`` when the model sent one. ``file`` is a text file (an
    ``io.TextIOBase``: ``open(path, "w", encoding="utf-8")``, ``StringIO``),
    or else a binary one, which receives UTF-8. It is flushed when the run
    ends, on success or failure, and never closed: it is the caller's. One
    recorder may serve several runs in turn (not at once), each appending its
    own events; ``replay`` plays only the first reply of a file, so give each
    reply its own.

    A run whose source ended without ``message-finish`` is finished by the
    driver with a synthetic one, which ``on_event`` sees like any other, so
    the recording replays as finished too.

    ``raise_error`` is true: a write that fails (a full disk) fails the run
    with its exception rather than leaving a silently incomplete recording.
    A run that fails is recorded up to its last event; a failure that was not
    an ``error`` event (a source that raised, a timeout, a cancellation) is
    not in the file, whose replay then ends in ``IncompleteStreamError``.
    """

    raise_error = True

    def __init__(self, file: io.TextIOBase | IO[bytes]) -> None:
        self.file = file

    def on_event(self, run: Run, event: Mapping[str, Any]) -> None:
        self._write(event)

    def on_end(self, run: Run, message: AIMessage) -> None:
        self.file.flush()

    def on_error(self, run: Run, error: BaseException, partial_message: AIMessage) -> None:
        self.file.flush()

    def _write(self, event: Mapping[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
        file = self.file
        if isinstance(file, io.TextIOBase):
            file.write(line)
        else:
            file.write(line.encode("utf-8"))
