"""A lean HTTP/1.1 client for load generation: one keep-alive connection, raw asyncio streams.

httpx costs its client about 4 ms of CPU per request on this machine — more than the bare
endpoint costs the server — so with httpx the load generator, not the server, sets the bare
baseline.  This client does only what the benchmarks need (``Content-Length`` bodies, no
redirects, no TLS) for a few tens of microseconds a request, so both sides of a ratio are
measured against the server.  A body the server compressed (``Accept-Encoding: gzip`` among the
headers, as every browser sends it) is decompressed.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any


class HttpError(RuntimeError):
    pass


class Connection:
    """One keep-alive connection to ``host:port``; requests on it are sent one after another."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()

    async def post(
        self, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """POST ``body`` as JSON; (status, response body)."""
        data = json.dumps(body, ensure_ascii=False).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.fixed}{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        assert self.reader is not None and self.writer is not None, "use `async with`"
        self.writer.write(head.encode() + data)
        status_line = await self.reader.readline()
        if not status_line:
            raise HttpError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = None
        zipped = False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"content-encoding":
                zipped = value.strip().lower() == b"gzip"
            elif name == b"transfer-encoding":
                raise HttpError("chunked responses are not supported by this client")
        if length is None:
            raise HttpError("response without Content-Length")
        body = await self.reader.readexactly(length)
        return status, gzip.decompress(body) if zipped else body
