"""The stream objects: a sans-I/O core and the sync and async layers that wait on it."""

from ._async import AsyncChatModelStream, AsyncProjection, AsyncTextProjection, AsyncValue
from ._core import StreamState
from ._sync import ChatModelStream, SyncProjection, SyncTextProjection

__all__ = [
    "AsyncChatModelStream",
    "AsyncProjection",
    "AsyncTextProjection",
    "AsyncValue",
    "ChatModelStream",
    "StreamState",
    "SyncProjection",
    "SyncTextProjection",
]
