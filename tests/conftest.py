"""Suite-wide checks."""

from __future__ import annotations

import gc
import inspect
import logging
from typing import TYPE_CHECKING

import pytest

from tests.providers.server import LocalServer

if TYPE_CHECKING:
    from collections.abc import Iterator


class _LogTrap(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _no_asyncio_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail on "Task exception was never retrieved" / "Task was destroyed but it is
    pending": asyncio logs those instead of warning, so ``filterwarnings = error``
    alone would not catch them."""
    trap = _LogTrap()
    logger = logging.getLogger("asyncio")
    logger.addHandler(trap)
    try:
        yield
        if inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
            gc.collect()
    finally:
        logger.removeHandler(trap)
    assert [r.getMessage() for r in trap.records] == []


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A scriptable HTTP server on 127.0.0.1 (tests/providers/server.py), closed after the test."""
    srv = LocalServer()
    try:
        yield srv
    finally:
        srv.close()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move everything imported during collection (the SDKs' thousands of pydantic
    classes among it) out of the collector's reach: the per-test ``gc.collect()``
    above would otherwise walk it all again for every test."""
    del session
    gc.collect()
    gc.freeze()
