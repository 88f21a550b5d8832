from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from streamblocks.providers._http import HTTPChatModel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture(autouse=True)
async def _close_models(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Close every HTTP model a test made, on the test's own loop, so that no
    socket is left for the garbage collector (which would warn, failing the test)."""
    created: list[HTTPChatModel] = []
    original = HTTPChatModel.__init__

    def init(self: HTTPChatModel, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(HTTPChatModel, "__init__", init)
    yield
    for model in created:
        await model.aclose()
        model.close()
