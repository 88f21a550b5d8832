"""A loopback HTTP server in its own process, serving prebuilt streaming bodies.

It runs in a child process so that its CPU time is not charged to the client
being measured (``time.process_time`` counts only the calling process). The
bodies go out with chunked transfer encoding, 16 KiB per chunk, as a real
streaming server's would arrive in TCP segments.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

CHUNK = 16 * 1024


async def _serve(routes: dict[str, bytes], conn: Connection) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1].split("?")[0]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                body = routes.get(path)
                if body is None:
                    writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                for start in range(0, len(body), CHUNK):
                    piece = body[start : start + CHUNK]
                    writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    conn.send(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def _main(routes: dict[str, bytes], conn: Connection) -> None:
    asyncio.run(_serve(routes, conn))


class LoopbackServer:
    """``with LoopbackServer(routes) as url: ...``; the child process ends on exit."""

    def __init__(self, routes: dict[str, bytes]) -> None:
        self.routes = routes
        self.process: multiprocessing.Process | None = None
        self.url = ""

    def __enter__(self) -> str:
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_main, args=(self.routes, child), daemon=True)
        self.process.start()
        if not parent.poll(30):
            msg = "the loopback server did not start"
            raise RuntimeError(msg)
        self.url = f"http://127.0.0.1:{parent.recv()}"
        return self.url

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join(5)
