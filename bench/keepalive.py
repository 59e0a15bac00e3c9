"""A lean HTTP/1.1 keep-alive connection (h11 on asyncio streams) for load generators.

Throughput figures must measure the server, not the client: at 64 busy connections httpx's
async connection pool spends more CPU per request than the session pool does to run `1 + 1`,
and on a 2-core machine the two compete for the same cores.
"""

import asyncio
import json
from urllib.parse import urlencode, urlsplit

import h11


class KeepAliveConnection:
    """One connection, one request at a time, reused for every request."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = [("host", parts.netloc), *(headers or {}).items()]
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._state = h11.Connection(h11.CLIENT)

    async def request(
        self, method: str, path: str, params: dict | None = None, json_body: object = None
    ) -> tuple[int, bytes]:
        """The response's status and body."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        target = f"{path}?{urlencode(params)}" if params else path
        body = b"" if json_body is None else json.dumps(json_body).encode()
        headers = [*self.headers, ("content-length", str(len(body)))]
        if json_body is not None:
            headers.append(("content-type", "application/json"))
        send = self._state.send
        self._writer.write(send(h11.Request(method=method, target=target, headers=headers)))
        self._writer.write(send(h11.Data(data=body)) + send(h11.EndOfMessage()))
        return await self._response()

    async def _response(self) -> tuple[int, bytes]:
        status, chunks = 0, []
        while True:
            event = self._state.next_event()
            if event is h11.NEED_DATA:
                self._state.receive_data(await self._reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._state.start_next_cycle()
                return status, b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the server closed the connection")

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()
