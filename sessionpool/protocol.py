"""Frames between the pool and a session's interpreter: 4-byte length, then JSON."""

import json
import socket
import struct

HEADER = struct.Struct("!I")
MAX_FRAME = 256 * 1024 * 1024


def encode(message: dict) -> bytes:
    body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    return HEADER.pack(len(body)) + body


def decode_length(header: bytes) -> int:
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes is larger than {MAX_FRAME}")
    return length


def send(sock: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    """Send one frame on a blocking socket; `fds` ride on its first byte."""
    data = encode(message)
    if fds:
        sent = socket.send_fds(sock, [data], fds)
        data = data[sent:]
    sock.sendall(data)


def recv(sock: socket.socket, maxfds: int = 0) -> tuple[dict, list[int]]:
    """Receive one frame on a blocking socket, with any descriptors sent along."""
    fds: list[int] = []
    if maxfds:
        first, fds, _, _ = socket.recv_fds(sock, HEADER.size, maxfds)
    else:
        first = sock.recv(HEADER.size)
    if not first:
        raise EOFError("peer closed the channel")
    header = first + _recv_exactly(sock, HEADER.size - len(first))
    body = _recv_exactly(sock, decode_length(header))
    return json.loads(body), fds


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the channel mid-frame")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
