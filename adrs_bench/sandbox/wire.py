"""The wire format between the harness and a sandboxed child: length-prefixed frames on two pipes.

Parent to child: marshal, which is fast and safe in this direction only (the child trusts the parent;
the parent never unmarshals anything a child wrote). Child to parent: JSON, parsed as untrusted data
and bounded in size. Both sides poll briefly before they sleep (see `wait_briefly`).
"""
from __future__ import annotations

import json
import marshal
import os
import select
import struct
import time
from typing import Any, Callable

HEADER = struct.Struct(">I")
MAX_REPLY_BYTES = 64 * 1024 * 1024
READ_CHUNK = 65536  # below malloc's mmap threshold: a 1 MiB read buffer costs page faults on every call
SPIN_SECONDS = 0.0005  # how long each side polls before it sleeps


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_frame(fd: int, data: bytes) -> None:
    write_all(fd, HEADER.pack(len(data)) + data)


def send_request(fd: int, message: Any) -> None:
    """Parent to child (trusted direction)."""
    write_frame(fd, marshal.dumps(message))


def send_requests(fd: int, messages: list) -> None:
    """Several requests in one write (the child answers them in order)."""
    write_all(fd, b"".join(HEADER.pack(len(body)) + body for body in map(marshal.dumps, messages)))


def encode_reply(message: dict) -> bytes:
    """Child to parent: strict JSON (no NaN), which the parent validates."""
    return json.dumps(message, allow_nan=False, separators=(",", ":")).encode()


def send_reply(fd: int, message: dict) -> None:
    write_frame(fd, encode_reply(message))


def read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, decode: Callable[[bytes], Any] = marshal.loads) -> Any:
    """One whole frame, blocking; None at end of file. Used by the child on its request pipe."""
    header = read_exact(fd, HEADER.size)
    if header is None:
        return None
    body = read_exact(fd, HEADER.unpack(header)[0])
    return None if body is None else decode(body)


class RequestReader:
    """Child side: frames from the request pipe, read in large chunks (several requests often arrive in
    one write), so a batch of calls costs one read, not two per call."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = b""

    def ready(self) -> bool:
        """A whole frame is already buffered."""
        return len(self.data) >= HEADER.size and len(self.data) >= HEADER.size + HEADER.unpack_from(self.data)[0]

    def next(self) -> Any:
        """The next request, blocking; None at end of file."""
        while not self.ready():
            chunk = os.read(self.fd, READ_CHUNK)
            if not chunk:
                return None
            self.data += chunk
        size = HEADER.unpack_from(self.data)[0]
        body, self.data = self.data[HEADER.size:HEADER.size + size], self.data[HEADER.size + size:]
        return marshal.loads(body)


def wait_briefly(*fds: int) -> None:
    """Poll `fds` for up to SPIN_SECONDS before the caller blocks on them. A stateful task calls the
    child thousands of times per case; on a virtual machine, waking a sleeping CPU for each of those
    round trips costs more than the call itself, so both sides stay awake for a moment first."""
    deadline = time.perf_counter() + SPIN_SECONDS
    while time.perf_counter() < deadline:
        if select.select(fds, [], [], 0)[0]:
            return


class Oversized(Exception):
    """A reply frame announced or grew past MAX_REPLY_BYTES."""


class Malformed(Exception):
    """A reply frame that is not a JSON object."""


def refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class ReplyBuffer:
    """Parent side: bytes read from a child's reply pipe, cut into frames as they complete. Frames are
    untrusted: strict JSON objects only (no NaN or Infinity, no nesting deep enough to recurse out)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self.data += chunk  # a bytearray grows in place: a large reply costs linear, not quadratic, time
        if len(self.data) > MAX_REPLY_BYTES + HEADER.size:
            raise Oversized

    def take(self) -> dict | None:
        """The next whole reply, or None if it has not fully arrived."""
        if len(self.data) < HEADER.size:
            return None
        size = HEADER.unpack_from(self.data)[0]
        if size > MAX_REPLY_BYTES:
            raise Oversized
        if len(self.data) < HEADER.size + size:
            return None
        body = bytes(self.data[HEADER.size:HEADER.size + size])
        del self.data[:HEADER.size + size]
        try:
            message = json.loads(body, parse_constant=refuse_constant)
        except (ValueError, RecursionError):
            raise Malformed from None
        if not isinstance(message, dict):
            raise Malformed
        return message
