"""The pool's end of a kernel's socket: one request, then its reply, or the session is done.

The kernel runs the session's code in its own process, so whatever arrives here may have been
written by that code. A reply must answer the request just sent (it carries its number), be
one JSON object without NaN, nest shallowly and fit the size the pool allows for the call;
anything else is a ProtocolError, and the pool ends the session. The event loop watches the
socket only while an exchange waits on it, and never after `close`.
"""

import asyncio
import itertools
import json
import socket

from sessionpool import protocol

MAX_DEPTH = 32
UNASKED = "an answer it had not been asked for"


class ChannelClosed(EOFError):
    """The kernel's end of the socket is gone."""


class ProtocolError(ValueError):
    """The kernel sent something the pool did not ask for, or could not read."""


class Channel:
    """Exchanges with one kernel, one at a time; each is a task its caller gives a deadline."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.delivered = False  # the request of the current exchange is all written
        self._loop = asyncio.get_running_loop()
        self._numbers = itertools.count(1)
        self._exchange: asyncio.Task | None = None

    def call(self, message: dict, limit: int) -> asyncio.Task:
        """Send `message`, then read its reply of at most `limit` bytes."""
        self._exchange = self._loop.create_task(self._call(message, limit))
        return self._exchange

    async def _call(self, message: dict, limit: int) -> dict:
        self.delivered = False
        number = next(self._numbers)
        self._check_quiet()
        await self._loop.sock_sendall(self.sock, protocol.encode({**message, "id": number}))
        self.delivered = True
        (length,) = protocol.HEADER.unpack(await self._read(protocol.HEADER.size))
        if length > limit:
            raise ProtocolError(f"a reply of {length} bytes, more than the {limit} allowed")
        reply = parse(await self._read(length))
        if reply.get("id") != number:
            raise ProtocolError(UNASKED)
        return reply

    def _check_quiet(self) -> None:
        """Between exchanges a kernel says nothing: anything waiting now was not asked for."""
        try:
            waiting = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError as error:
            raise ChannelClosed(str(error)) from error
        if not waiting:
            raise ChannelClosed("the kernel closed its channel")
        raise ProtocolError(UNASKED)

    async def _read(self, size: int) -> bytes:
        buffer = bytearray(size)
        view, got = memoryview(buffer), 0
        while got < size:
            count = await self._loop.sock_recv_into(self.sock, view[got:])
            if not count:
                raise ChannelClosed("the kernel closed its channel")
            got += count
        return bytes(buffer)

    def close(self) -> None:
        """End the exchange in flight and stop watching the socket, before it is closed (its
        number could otherwise come back as a new connection's while still watched)."""
        if self._exchange is not None:
            self._exchange.cancel()
        fd = self.sock.fileno()
        if fd >= 0:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)


def parse(body: bytes) -> dict:
    """One JSON object, no NaN or Infinity, at most MAX_DEPTH levels deep."""
    try:
        reply = _DECODER.decode(body.decode())
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise ProtocolError(f"a reply that is not JSON ({error})") from None
    if not isinstance(reply, dict):
        raise ProtocolError("a reply that is not a JSON object")
    # Fewer brackets than the limit cannot nest deeper: the usual reply skips the walk.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and not _shallow(reply):
        raise ProtocolError(f"a reply nested more than {MAX_DEPTH} levels deep")
    return reply


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def _shallow(value: object) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return True
