"""The public API pin: what ``streamblocks`` exports, and the error tree.

Changing the exports is a deliberate act: update ``EXPECTED_ALL`` together
with the changelog.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import types

import pytest

import streamblocks
from streamblocks import (
    AsyncChatModelStream,
    ChatModelStream,
    IncompleteStreamError,
    ProtocolError,
    ProviderError,
    StreamCancelledError,
    StreamError,
    StreamTimeoutError,
)

EXPECTED_ALL = [
    "AIMessage",
    "Annotation",
    "AsyncChatModelStream",
    "AsyncProjection",
    "AsyncTextProjection",
    "AsyncValue",
    "AudioContentBlock",
    "AuthenticationError",
    "BadRequestError",
    "BlockDelta",
    "ChatModelStream",
    "Citation",
    "ContentBlock",
    "ContentBlockDelta",
    "ContentBlockDeltaData",
    "ContentBlockFinishData",
    "ContentBlockStartData",
    "DataDelta",
    "EmptyStreamError",
    "FileContentBlock",
    "HumanMessage",
    "ImageContentBlock",
    "IncompleteStreamError",
    "InputTokenDetails",
    "InvalidInputError",
    "InvalidToolCall",
    "Message",
    "MessageErrorData",
    "MessageFinishData",
    "MessageMetadata",
    "MessageStartData",
    "MessagesData",
    "NonStandardAnnotation",
    "NonStandardContentBlock",
    "OutputTokenDetails",
    "ProtocolError",
    "ProviderError",
    "ProviderOverloadedError",
    "RateLimitError",
    "ReasoningContentBlock",
    "ReasoningDelta",
    "RunStats",
    "ServerToolCall",
    "ServerToolCallChunk",
    "ServerToolResult",
    "StreamCancelledError",
    "StreamError",
    "StreamState",
    "StreamTimeoutError",
    "SyncProjection",
    "SyncTextProjection",
    "SystemMessage",
    "TextContentBlock",
    "TextDelta",
    "ToolCall",
    "ToolCallChunk",
    "ToolCallDelta",
    "ToolMessage",
    "UsageInfo",
    "VideoContentBlock",
    "__version__",
    "from_anthropic",
    "from_openai",
    "init_chat_model",
    "to_messages",
    "validate_event",
]


def test_all_is_pinned() -> None:
    assert streamblocks.__all__ == EXPECTED_ALL


def test_all_is_sorted_without_duplicates() -> None:
    assert sorted(EXPECTED_ALL) == EXPECTED_ALL
    assert len(set(streamblocks.__all__)) == len(streamblocks.__all__)


@pytest.mark.parametrize("name", EXPECTED_ALL)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(streamblocks, name) is not None


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from streamblocks import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == EXPECTED_ALL


def test_nothing_private_is_exported() -> None:
    private = [n for n in streamblocks.__all__ if n.startswith("_") and n != "__version__"]
    assert private == []


def test_every_public_module_attribute_is_in_all() -> None:
    public = {
        name
        for name, value in vars(streamblocks).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(EXPECTED_ALL) - {"__version__"}


def test_version_matches_the_installed_distribution() -> None:
    assert isinstance(streamblocks.__version__, str)
    assert streamblocks.__version__ == importlib.metadata.version("streamblocks")


def test_exported_objects_come_from_the_package() -> None:
    for name in EXPECTED_ALL:
        value = getattr(streamblocks, name)
        module = getattr(value, "__module__", None)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert module is not None
            assert module.startswith("streamblocks"), (name, module)


# -- the error tree ------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [ProtocolError, ProviderError, IncompleteStreamError, StreamCancelledError, StreamTimeoutError],
)
def test_every_stream_error_is_a_stream_error_and_a_runtime_error(
    error: type[StreamError],
) -> None:
    assert issubclass(error, StreamError)
    assert issubclass(error, RuntimeError)


def test_stream_error_derives_from_runtime_error() -> None:
    assert StreamError.__bases__ == (RuntimeError,)


def test_protocol_error_is_also_a_value_error() -> None:
    assert issubclass(ProtocolError, ValueError)
    assert issubclass(ProtocolError, StreamError)
    err = ProtocolError("bad field", event_type="content-block-delta", field="index")
    assert isinstance(err, ValueError)
    assert isinstance(err, RuntimeError)
    assert (err.event_type, err.field) == ("content-block-delta", "index")


def test_only_protocol_error_is_a_value_error() -> None:
    for error in (
        StreamError,
        ProviderError,
        IncompleteStreamError,
        StreamCancelledError,
        StreamTimeoutError,
    ):
        assert not issubclass(error, ValueError), error


def test_stream_cancelled_error_is_not_asyncio_cancellation() -> None:
    import asyncio

    assert not issubclass(StreamCancelledError, asyncio.CancelledError)
    assert issubclass(StreamCancelledError, Exception)


def test_provider_error_carries_message_code_and_status() -> None:
    err = ProviderError("rate limited", code="429", status=429)
    assert (err.message, err.code, err.status) == ("rate limited", "429", 429)
    assert str(err) == "rate limited"
    bare = ProviderError("x")
    assert (bare.code, bare.status) == (None, None)


# -- the stream classes' surface (LangChain's names plus ours) -------------------

COMMON = {
    "dispatch",
    "fail",
    "set_start",
    "text",
    "reasoning",
    "tool_calls",
    "output",
    "usage",
    "done",
    "message_id",
    "namespace",
    "node",
    "output_message",
    "state",
    "error",
    "snapshot",
}


def test_sync_stream_surface() -> None:
    names = set(dir(ChatModelStream))
    missing = (COMMON | {"set_request_more", "bind_pump", "set_close", "close"}) - names
    assert missing == set()
    assert {"__iter__", "__enter__", "__exit__"} <= names


def test_async_stream_surface() -> None:
    names = set(dir(AsyncChatModelStream))
    missing = (COMMON | {"set_arequest_more", "bind_producer", "aclose"}) - names
    assert missing == set()
    assert {"__aiter__", "__await__", "__aenter__", "__aexit__"} <= names
    assert inspect.iscoroutinefunction(AsyncChatModelStream.aclose)


@pytest.mark.parametrize("cls", [ChatModelStream, AsyncChatModelStream])
def test_constructor_is_keyword_only_like_langchain(
    cls: type[ChatModelStream] | type[AsyncChatModelStream],
) -> None:
    params = inspect.signature(cls).parameters
    assert list(params) == ["namespace", "node", "message_id"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert all(p.default is None for p in params.values())
