"""Message framing: newline-delimited JSON and LSP ``Content-Length`` (docs/promises.md §3)."""

import json
from typing import Any, BinaryIO, Optional

NDJSON = "ndjson"
CONTENT_LENGTH = "content-length"


def dumps(msg: Any) -> bytes:
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode(msg: Any, framing: str) -> bytes:
    body = dumps(msg)
    if framing == CONTENT_LENGTH:
        return b"Content-Length: %d\r\n\r\n" % len(body) + body
    return body + b"\n"


class FrameError(ValueError):
    pass


def read_frame(stream: BinaryIO, framing: Optional[str]) -> Optional[bytes]:
    """Reads one frame body from a buffered binary stream; ``None`` at EOF.

    With ``framing=None`` the framing is detected from the first bytes of each frame.
    """
    while True:
        line = stream.readline()
        if not line:
            return None
        if framing == NDJSON or (framing is None and not line.lower().startswith(b"content-length:")):
            if line.strip():
                return line
            continue
        # Content-Length: headers until an empty line.
        length = None
        while True:
            if not line:
                return None
            stripped = line.strip()
            if not stripped:
                if length is None:
                    line = stream.readline()
                    continue  # stray blank line before headers
                break
            name, _, value = stripped.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise FrameError("bad Content-Length header: %r" % stripped)
            line = stream.readline()
        body = _read_exact(stream, length)
        if body is None:
            return None
        return body


def _read_exact(stream: BinaryIO, n: int) -> Optional[bytes]:
    chunks = []
    while n > 0:
        chunk = stream.read(n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


async def aread_frame(reader: Any, framing: Optional[str]) -> Optional[bytes]:
    """The asyncio twin of :func:`read_frame` for an ``asyncio.StreamReader``."""
    while True:
        line = await reader.readline()
        if not line:
            return None
        if framing == NDJSON or (framing is None and not line.lower().startswith(b"content-length:")):
            if line.strip():
                return line
            continue
        length = None
        while True:
            if not line:
                return None
            stripped = line.strip()
            if not stripped:
                if length is None:
                    line = await reader.readline()
                    continue
                break
            name, _, value = stripped.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise FrameError("bad Content-Length header: %r" % stripped)
            line = await reader.readline()
        try:
            return await reader.readexactly(length)
        except Exception:
            return None
