"""A scriptable HTTP/1.1 server on 127.0.0.1 that the tests start themselves.

It runs its own asyncio loop on a background thread, so sync clients,
async clients and the official SDKs can all talk to it. Each request takes
the next scripted :class:`Reply` for its path (the last one repeats). A
reply can pace its chunks, stall, or drop the connection mid-body; the
server records every request and whether the client went away before the
reply was complete (``Served.client_disconnected``), which is how the tests
observe cancellation from the server's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int = 200
    chunks: list[bytes] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before each chunk."""
    stall_after: int | None = None
    """Send this many chunks, then send nothing more until the client leaves."""
    disconnect_after: int | None = None
    """Send this many chunks, then close the socket without ending the body."""
    content_type: str = "text/event-stream"


@dataclass
class Served:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    chunks_sent: int = 0
    completed: bool = False
    client_disconnected: bool = False
    finished: threading.Event = field(default_factory=threading.Event)


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Served] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.AbstractServer | None = None
        self._handlers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._thread = threading.Thread(target=self._run, name="test-http-server", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        assert self._server is not None
        self.port: int = self._server.sockets[0].getsockname()[1]
        self.url: str = f"http://127.0.0.1:{self.port}"

    # -- scripting -----------------------------------------------------------

    def route(self, path: str, *replies: Reply) -> None:
        """Serve ``replies`` in order to requests for ``path``; the last one repeats."""
        self.routes[path] = list(replies)

    def wait_finished(self, index: int = -1, timeout: float = 5.0) -> Served:
        """The request at ``index`` once the server is done with it."""
        served = self.requests[index]
        assert served.finished.wait(timeout), "the server never finished the reply"
        return served

    def wait_chunks(self, count: int, timeout: float = 5.0) -> Served:
        """The first request, once the server has sent ``count`` body chunks of it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.requests and self.requests[0].chunks_sent >= count:
                return self.requests[0]
            time.sleep(0.005)
        msg = f"the server did not send {count} chunks in {timeout} s"
        raise AssertionError(msg)

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            # Connections kept alive by clients: drop them, so that their
            # handlers end normally (cancelling them would make asyncio log).
            for writer in list(self._handlers.values()):
                writer.transport.abort()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            if self._server is not None:
                await self._server.wait_closed()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # -- serving -------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers[task] = writer
            task.add_done_callback(lambda t: self._handlers.pop(t, None))
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = target.split("?", 1)[0]
        served = Served(method, target, headers, body)
        self.requests.append(served)
        replies = self.routes.get(path)
        if not replies:
            reply = Reply(404, [b'{"error": {"message": "no such route"}}'])
        else:
            reply = replies.pop(0) if len(replies) > 1 else replies[0]
        try:
            return await self._reply(reader, writer, reply, served)
        finally:
            served.finished.set()

    async def _reply(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        reply: Reply,
        served: Served,
    ) -> bool:
        content_type = reply.content_type if reply.status < 400 else "application/json"
        head = [f"HTTP/1.1 {reply.status} X", f"content-type: {content_type}"]
        head += ["transfer-encoding: chunked", *(f"{k}: {v}" for k, v in reply.headers.items())]
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            await writer.drain()
            for i, chunk in enumerate(reply.chunks):
                if reply.stall_after is not None and i >= reply.stall_after:
                    break
                if reply.disconnect_after is not None and i >= reply.disconnect_after:
                    writer.transport.abort()
                    return False
                if reply.delay:
                    # Watch for the client leaving while we wait.
                    with contextlib.suppress(asyncio.TimeoutError):
                        if await asyncio.wait_for(reader.read(1), reply.delay) == b"":
                            served.client_disconnected = True
                            return False
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                served.chunks_sent += 1
            if reply.stall_after is not None:
                # Send nothing until the client goes away.
                if await reader.read(1) == b"":
                    served.client_disconnected = True
                return False
            if reply.disconnect_after is not None:
                writer.transport.abort()
                return False
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, OSError):
            served.client_disconnected = True
            return False
        served.completed = True
        return True


def sse_chunks(data: bytes, size: int = 64) -> list[bytes]:
    """A recorded body cut into ``size``-byte chunks, as a server might send it."""
    return [data[i : i + size] for i in range(0, len(data), size)]
