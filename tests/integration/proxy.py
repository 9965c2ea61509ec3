"""A TCP proxy on loopback that a test can cut, to take the broker away from a worker.

The broker advertises the proxy's port, so every client connection (bootstrap
and per-broker) goes through it.  ``cut()`` drops every open connection and
refuses new ones (each is accepted and closed at once) until ``restore()``.
"""

from __future__ import annotations

import asyncio
import threading

from memberflow.dev.broker import HOST, free_port


class CuttableProxy:
    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.port = port or free_port()
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self.open = True
        self.connections: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def start(self) -> CuttableProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, HOST, self.port), self.loop).result(10)
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            writer.close()
            return
        self.connections.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.connections.discard(writer)
            writer.close()

    def _run(self, fn) -> None:
        self.loop.call_soon_threadsafe(fn)

    def cut(self) -> None:
        def drop() -> None:
            self.open = False
            for writer in list(self.connections):
                transport = writer.transport
                transport.abort()  # RST: the peer sees the connection die, not a clean close
            self.connections.clear()
        self._run(drop)

    def restore(self) -> None:
        def reopen() -> None:
            self.open = True
        self._run(reopen)

    def stop(self) -> None:
        def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self.connections):
                writer.transport.abort()
            self.loop.stop()
        self._run(shutdown)
        self._thread.join(10)
