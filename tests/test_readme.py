"""The README's examples run as written.

The provider example talks to a real HTTP server: one on 127.0.0.1 that
replays a recorded OpenAI response, reached through ``OPENAI_BASE_URL``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.providers.replay import FIXTURES
from tests.providers.server import LocalServer, Reply

if TYPE_CHECKING:
    from collections.abc import Iterator

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    server = LocalServer()
    body = (FIXTURES / "openai-chat" / "gpt-4o-text-usage-chunk.sse").read_bytes()
    server.route("/v1/chat/completions", Reply(chunks=[body]))
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme")
    try:
        yield server
    finally:
        server.close()


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(
    source: str, capsys: pytest.CaptureFixture[str], openai_server: LocalServer
) -> None:
    exec(compile(source, str(README), "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out  # every example shows something
    if "init_chat_model" in source:
        [request] = openai_server.requests
        assert request.headers["authorization"] == "Bearer sk-readme"
        assert request.body["max_tokens"] == 50
