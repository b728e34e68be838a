"""Tolerant reading of LSP frames from stdin: bytes that are not a message are skipped.

pygls accepts `Content-Length: N` only as a line of its own. One stray byte before a header
glues it to the line before, and since a body has no newline, every later header is glued to
the body before it: the server never sees another message, not even `shutdown`. This reader
finds each header wherever it starts, drops whatever is not part of a frame, and hands pygls
clean frames through the two calls it makes (`readline`, `read`).
"""
from __future__ import annotations

import re
from typing import BinaryIO

MAX_BODY = 64 * 1024 ** 2  # a larger length is treated as garbage, not allocated
MAX_LINE = 64 * 1024
_LENGTH = re.compile(rb"Content-Length[ \t]*:[ \t]*(\d{1,12})", re.IGNORECASE)


class FrameReader:
    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._out = b""  # clean frames not yet handed to pygls

    def _length(self, line: bytes) -> int | None:
        found = _LENGTH.findall(line)
        n = int(found[-1]) if found else None
        return n if n is not None and n <= MAX_BODY else None

    def _next_frame(self) -> bytes:
        """The next well-formed frame, or b"" at the end of input."""
        length = None
        while True:
            line = self._raw.readline(MAX_LINE)
            if not line:
                return b""
            if line.strip() == b"" and length is not None:  # the end of the headers
                body = self._raw.read(length)
                if len(body) < length:
                    return b""
                return b"Content-Length: %d\r\n\r\n" % length + body
            n = self._length(line)
            if n is not None:  # the last header seen wins: garbage before it is dropped
                length = n

    def _fill(self) -> None:
        if not self._out:
            self._out = self._next_frame()

    def readline(self) -> bytes:
        self._fill()
        end = self._out.find(b"\n") + 1 or len(self._out)
        line, self._out = self._out[:end], self._out[end:]
        return line

    def read(self, n: int) -> bytes:
        self._fill()
        data, self._out = self._out[:n], self._out[n:]
        return data
