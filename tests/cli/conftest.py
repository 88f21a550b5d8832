"""Running ``streamblocks`` as a user does: a subprocess with a clean environment,
stdout a pipe (so the CLI prints plain text), and a local HTTP server to talk to."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING, Protocol

import pytest

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

CLI_TIMEOUT = 30.0


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without anything that picks a model, a key or a
    server (so a developer's own settings cannot change what the CLI does), with
    warnings shown (a leaked socket or file then shows on stderr, which the tests
    check), plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "STREAMBLOCKS_MODEL"
        and not name.endswith(("_API_KEY", "_BASE_URL"))
        and not name.startswith("PYTEST")
    }
    env["PYTHONWARNINGS"] = "default"
    env.update(extra or {})
    return env


class RunCLI(Protocol):
    def __call__(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCLI:
    """``run_cli("chat", "hi", env={...}, input="...")``: ``python -m streamblocks``
    in ``tmp_path``; stdin is ``input`` (or empty), stdout and stderr are captured."""

    def run(
        *args: str,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "streamblocks", *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=clean_env(env),
            cwd=tmp_path,
            timeout=CLI_TIMEOUT,
            check=False,
        )

    return run
