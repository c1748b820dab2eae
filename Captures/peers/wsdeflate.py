"""Shared parts of the permessage-deflate peers (deflate_server.py, deflate_client.py): the
message log and the deterministic conversation (the log writer and the socket options that keep
segments small are peerlib.py's).

Plain aiohttp WebSocket (no Socket.IO) with `compress=15`: both sides negotiate permessage-deflate
(RFC 7692) with a 32 KiB window and, unless asked otherwise, context takeover, so a message's
DEFLATE data may refer to text of earlier messages in the same direction. aiohttp 3.x compresses
every data message on such a connection (RSV1 set) and flushes each with Z_SYNC_FLUSH, stripping
the trailing 00 00 ff ff; with no context takeover it flushes with Z_FULL_FLUSH (the window is
reset after every message).

Log (one JSON object per line, flushed as it happens; `deflate_*.py --log FILE`):
  seq       running number in this file
  time      wall time (time.time()) when the message was handed to / returned by aiohttp
  side      "client" or "server"
  action    "send", "recv", or "handshake" (once, first: what was negotiated)
  type      "text", "binary", "ping", "pong", "close"
  length    payload length in bytes (text: UTF-8 bytes; close: code and reason bytes excluded)
  text      text messages: the text
  base64    binary, ping and pong: the payload
  closeCode, closeReason   close: status code and reason text
  handshake records: extensions (the Sec-WebSocket-Extensions the server answered),
            offered (what the client offered), contextTakeover {"client": bool, "server": bool}
"""

import base64
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peerlib  # noqa: E402

PHRASES = [
    "the quick brown fox jumps over the lazy dog", "imscope reassembles every segment", "permessage-deflate",
    "context takeover keeps the sliding window", "Sec-WebSocket-Extensions", "Socket.IO on port 9092",
    "message delivered", "message read", "typing…", "room-42 is busy tonight", "你好，世界", "消息已送达",
    "请稍候", "ça marche très bien", "naïve café", "\U0001F600 \U0001F44D", "ACK", "NACK",
    "lorem ipsum dolor sit amet", "consectetur adipiscing elit", "sed do eiusmod tempor",
    "incididunt ut labore et dolore magna aliqua", "retransmission", "out of order", "window full",
    "zero window probe", "keep-alive", "heartbeat", "reconnect in 5 s", "quoted \"text\" and \\backslash",
    "tab\there", "line\nbreak",
]
USERS = ["u%d" % i for i in range(1, 40)]
NICKS = ["Alice", "Bob", "Carol", "Dave", "Eve", "Mallory", "Trent", "Peggy", "Victor", "Walter", "小明", "Zoë"]


class Log(peerlib.JsonlLog):
    """Thread-safe JSONL writer of the messages one peer sent and received."""

    def handshake(self, **info):
        self._append(dict(action="handshake", **info))

    def message(self, action, kind, payload=b"", code=None, reason=None):
        rec = {"action": action, "type": kind}
        if kind == "text":
            data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
            rec["length"] = len(data)
            rec["text"] = data.decode("utf-8")
        elif kind == "close":
            rec["length"] = len((reason or "").encode("utf-8"))
            rec["closeCode"], rec["closeReason"] = code, reason or ""
        else:
            data = bytes(payload or b"")
            rec["length"] = len(data)
            rec["base64"] = base64.b64encode(data).decode("ascii")
        self._append(rec)


class Content:
    """Deterministic JSON-like text and bytes from a seed: the same phrases and users recur in
    every message, so with context takeover later messages refer back to earlier ones."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.counter = 0

    def record(self):
        r = self.rng
        self.counter += 1
        return {
            "id": self.counter,
            "ts": 1763700000000 + self.counter * 37 + r.randrange(1000),
            "from": r.choice(USERS), "to": r.choice(USERS), "nick": r.choice(NICKS),
            "text": " / ".join(r.choice(PHRASES) for _ in range(r.randrange(1, 5))),
            "score": round(r.random() * 100, 3),
            "tags": r.sample(["urgent", "read", "unread", "pinned", "muted", "archived"], r.randrange(0, 3)),
            "geo": {"lat": round(r.uniform(-90, 90), 5), "lon": round(r.uniform(-180, 180), 5)},
        }

    def bulk(self, op, size, **fields):
        """A JSON object text of about `size` UTF-8 bytes: {"op":..,<fields>,"records":[...]}. The
        estimate counts records with spaced separators, so the compact text is about 10 % smaller."""
        head = {"op": op}
        head.update(fields)
        records, n = [], len(json.dumps(head, ensure_ascii=False)) + 14
        while n < size:
            rec = self.record()
            records.append(rec)
            n += len(json.dumps(rec, ensure_ascii=False).encode("utf-8")) + 1
        head["records"] = records
        return json.dumps(head, ensure_ascii=False, separators=(",", ":"))

    def small(self, op, **fields):
        obj = {"op": op}
        obj.update(fields)
        obj["record"] = self.record()
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

    def blob(self, n):
        """Structured bytes (a header and repeated little-endian records), compressible but not trivially."""
        out = bytearray(b"IMSB\x01\x00")
        while len(out) < n:
            v = self.rng.randrange(1 << 16)
            out += bytes([0x10, v & 0xFF, v >> 8, self.rng.choice((0, 1, 2, 3))]) + b"\x00\x00\xff\xee"
        return bytes(out[:n])
