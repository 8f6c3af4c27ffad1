"""Server side of RFC 6455 WebSocket framing over a socket the HTTP server already accepted.

The simulator serves OKX's WebSocket API on the same port as its REST API (ccxt derives the
``ws://`` URL from the host it is given), so the HTTP handler upgrades the connection itself:
``accept_key`` answers the handshake, then ``WsConnection`` reads client frames (masked, maybe
fragmented) and writes server frames (unmasked) from any thread. No extensions are negotiated
(a client's permessage-deflate offer is simply not accepted, as RFC 6455 allows).
"""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import struct
import threading
from typing import BinaryIO

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 1 << 20  # a client request larger than 1 MiB is a protocol violation here


class WsClosed(Exception):
    """The peer closed the connection (close frame, EOF, or a protocol error)."""

    def __init__(self, code: int = 1006, reason: str = "") -> None:
        super().__init__(f"websocket closed ({code}) {reason}".strip())
        self.code, self.reason = code, reason


def accept_key(client_key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1((client_key.strip() + GUID).encode()).digest()).decode()


def encode_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """One unmasked (server-to-client) frame."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


class WsConnection:
    """A server-side WebSocket over an accepted socket: ``recv()`` from one thread, ``send_*`` from any."""

    def __init__(self, sock: socket.socket, rfile: BinaryIO | io.BufferedIOBase) -> None:
        self.sock = sock
        self.rfile = rfile
        self._wlock = threading.Lock()
        self.closed = False

    # ------------------------------------------------------------ reading

    def _read(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if data is None or len(data) < n:
            raise WsClosed(1006, "connection lost")
        return data

    def _frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = self._read(2)
        fin, opcode, masked, n = bool(b0 & 0x80), b0 & 0x0F, bool(b1 & 0x80), b1 & 0x7F
        if b0 & 0x70:
            raise WsClosed(1002, "reserved bits set (no extension was negotiated)")
        if not masked:
            raise WsClosed(1002, "client frames must be masked")
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        if n > MAX_MESSAGE:
            raise WsClosed(1009, "message too big")
        mask = self._read(4)
        raw = self._read(n) if n else b""
        payload = (
            (int.from_bytes(raw, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
            if n
            else b""
        )
        return fin, opcode, payload

    def recv(self) -> str | bytes:
        """The next data message (text as str); answers pings itself; raises WsClosed at the end."""
        parts: list[bytes] = []
        first_op = None
        while True:
            fin, op, payload = self._frame()
            if op == OP_PING:
                self._send(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.close(code if code not in (1005, 1006) else 1000)
                raise WsClosed(code, payload[2:].decode(errors="replace"))
            if op in (OP_TEXT, OP_BINARY):
                if first_op is not None:
                    raise WsClosed(1002, "new message inside a fragmented one")
                first_op = op
            elif op != OP_CONT or first_op is None:
                raise WsClosed(1002, f"unexpected opcode {op}")
            parts.append(payload)
            if sum(map(len, parts)) > MAX_MESSAGE:
                raise WsClosed(1009, "message too big")
            if fin:
                data = b"".join(parts)
                if first_op == OP_TEXT:
                    try:
                        return data.decode()
                    except UnicodeDecodeError:
                        raise WsClosed(1007, "text frame is not UTF-8") from None
                return data

    # ------------------------------------------------------------ writing

    def _send(self, opcode: int, payload: bytes) -> None:
        frame = encode_frame(opcode, payload)
        with self._wlock:
            if self.closed and opcode != OP_CLOSE:
                raise WsClosed(1006, "already closed")
            try:
                self.sock.sendall(frame)
            except OSError:
                self.closed = True
                raise WsClosed(1006, "connection lost") from None

    def send_text(self, text: str) -> None:
        self._send(OP_TEXT, text.encode())

    def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the wire (fault injection: a frame that is not what it claims)."""
        with self._wlock:
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True
                raise WsClosed(1006, "connection lost") from None

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (once) and end the connection (the reader thread then sees EOF)."""
        with self._wlock:
            if self.closed:
                return
            self.closed = True
            try:
                self.sock.sendall(encode_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120]))
            except OSError:
                pass
        self.abort()

    def abort(self) -> None:
        """End the TCP connection without a close handshake (a dropped link)."""
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
