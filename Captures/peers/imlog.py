"""Shared parts of the capture peers: the JSONL event log, the hooks that feed it, and the
deterministic ImMessage script.

Runs under both test virtualenvs:
  .venv/eio4  python-socketio 5.x   (Engine.IO 4, Socket.IO protocol 5)
  .venv/eio3  python-socketio 4.6.1 (Engine.IO 3, Socket.IO protocol 4)

Log format (one JSON object per line, written and flushed as it happens):
  seq      running number in this file
  time     wall time (time.time()) when the packet was handed to / received from python-socketio
  side     "client" or "server"
  action   "emit" (an EVENT/BINARY_EVENT we sent), "recv" (an event we received),
           "ack_sent" (an ACK/BINARY_ACK we sent), "ack_recv" (an ACK we received)
  namespace  "/" or "/admin"
  event    the event name; for acks the event the ack answers (looked up by namespace and id)
  args     the event arguments after the name (for acks: all ack arguments) as JSON values;
           a bytes value is written as {"_binary": "<base64>"} (the same shape imscope uses)
  ackId    the Socket.IO ack id, or null when the packet carries none
  session  (client only) 1-based session number of this client run
Sent packets are logged from a hook on socketio.packet.Packet.encode (every Socket.IO packet that
goes on the wire is encoded exactly once), received ones from the client's/server's
_handle_event/_handle_ack (called with the fully reassembled data, binary attachments included).
"""

import base64
import importlib.metadata
import json
import os
import random
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peerlib  # noqa: E402
import socketio  # noqa: E402
from socketio import packet as sio_packet  # noqa: E402

SOCKETIO_VERSION = importlib.metadata.version("python-socketio")
ENGINEIO_VERSION = importlib.metadata.version("python-engineio")
EIO = 4 if int(SOCKETIO_VERSION.split(".")[0]) >= 5 else 3

_EVENT_TYPES = (sio_packet.EVENT, sio_packet.BINARY_EVENT)
_ACK_TYPES = (sio_packet.ACK, sio_packet.BINARY_ACK)


def jsonable(value):
    """Deep copy of a Socket.IO argument with bytes turned into {"_binary": base64}."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"_binary": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class EventLog(peerlib.JsonlLog):
    """Thread-safe JSONL writer; also remembers which event each ack id belongs to."""

    def __init__(self, path, side):
        super().__init__(path, side)
        self._sent_ids = {}  # (namespace, id) -> event we emitted with that ack id
        self._recv_ids = {}  # (namespace, id) -> event we received with that ack id
        self.session = None

    def extra(self, action, args):
        """More fields for a record (after session), or None; for subclasses."""
        return None

    def write(self, action, namespace, event, args, ack_id):
        rec = {
            "action": action,
            "namespace": namespace or "/",
            "event": event,
            "args": jsonable(args),
            "ackId": ack_id,
        }
        if self.session is not None:
            rec["session"] = self.session
        more = self.extra(action, args)
        if more:
            rec.update(more)
        self._append(rec)

    def sent(self, pkt):
        ns = pkt.namespace or "/"
        data = pkt.data if isinstance(pkt.data, list) else ([] if pkt.data is None else [pkt.data])
        if pkt.packet_type in _EVENT_TYPES:
            if pkt.id is not None:
                self._sent_ids[(ns, pkt.id)] = data[0]
            self.write("emit", ns, data[0], data[1:], pkt.id)
        elif pkt.packet_type in _ACK_TYPES:
            self.write("ack_sent", ns, self._recv_ids.get((ns, pkt.id)), data, pkt.id)

    def received_event(self, namespace, ack_id, data):
        ns = namespace or "/"
        if ack_id is not None:
            self._recv_ids[(ns, ack_id)] = data[0]
        self.write("recv", ns, data[0], data[1:], ack_id)

    def received_ack(self, namespace, ack_id, data):
        ns = namespace or "/"
        self.write("ack_recv", ns, self._sent_ids.get((ns, ack_id)), list(data or []), ack_id)

def install_hooks(log, cls):
    """Route every sent and received Socket.IO event/ack of `cls` (socketio.Client or
    socketio.AsyncServer) into `log`. The last three positional arguments of _handle_event and
    _handle_ack are (namespace, id, data) in both python-socketio 4.6.1 and 5.x."""
    orig_encode = sio_packet.Packet.encode

    def encode(self, *a, **kw):
        log.sent(self)
        return orig_encode(self, *a, **kw)

    sio_packet.Packet.encode = encode

    orig_event, orig_ack = cls._handle_event, cls._handle_ack
    if hasattr(orig_event, "__code__") and orig_event.__code__.co_flags & 0x80:  # coroutine
        async def handle_event(self, *args):
            log.received_event(*args[-3:])
            return await orig_event(self, *args)

        async def handle_ack(self, *args):
            log.received_ack(*args[-3:])
            return await orig_ack(self, *args)
    else:
        def handle_event(self, *args):
            log.received_event(*args[-3:])
            return orig_event(self, *args)

        def handle_ack(self, *args):
            log.received_ack(*args[-3:])
            return orig_ack(self, *args)
    cls._handle_event, cls._handle_ack = handle_event, handle_ack


# ---------------------------------------------------------------------------------------------
# The deterministic message script. Everything the peers send is derived from a seeded RNG,
# so two runs with the same seed produce the same logs apart from times.

AVATAR = "http://img.example.com/avatar/{}.png"


class Script:
    """Message factory for one session; `seed` fixes every uuid, text and byte."""

    def __init__(self, seed, me, me_name, peer, peer_name):
        self.rng = random.Random(seed)
        self.me, self.me_name, self.peer, self.peer_name = me, me_name, peer, peer_name

    def uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def im(self, message_type, content, from_type=1, dest=None, sender=None, sender_name=None, **extra):
        msg = {
            "msgId": self.uuid(),
            "fromId": sender or self.me,
            "fromType": from_type,
            "destId": dest or self.peer,
            "fromName": sender_name or self.me_name,
            "imageIconUrl": AVATAR.format(sender or self.me),
            "content": content,
            "messageType": message_type,
        }
        msg.update(extra)
        return msg

    def big_text(self, size):
        """Words (some Chinese, an emoji) joined by spaces: at least `size` bytes of UTF-8."""
        words = ["hello", "world", "imscope", "socket", "reassembly", "segment", "你好", "世界",
                 "消息", "emoji", "\U0001F600", "ack", "chat", "room", "9092", "lorem", "ipsum"]
        out, n = [], -1
        while n < size:
            w = self.rng.choice(words)
            out.append(w)
            n += len(w.encode("utf-8")) + 1
        return " ".join(out)

    def blob(self, n):
        return bytes(self.rng.getrandbits(8) for _ in range(n))

    def upstream(self):
        """(message, wants_ack) pairs the client sends as `chat` on "/"."""
        file_content = json.dumps({
            "fileName": "report-%d.pdf" % self.rng.randrange(1000),
            "fileSize": "123456",
            "fileUrl": "http://files.example.com/f/%s.pdf" % self.uuid(),
            "fileType": "pdf",
            "filished": False,
        }, separators=(",", ":"))
        voice_content = json.dumps({"url": "http://files.example.com/v/%s.amr" % self.uuid(), "time": 7},
                                   separators=(",", ":"))
        return [
            (self.im(2, "hello"), True),
            (self.im(3, "http://img.example.com/p/%s.jpg" % self.uuid()), False),
            (self.im(4, file_content), True),
            (self.im(16, voice_content), False),
            (self.im(2, self.big_text(20000), devType=3), True),
            (self.im(2, "bye for now \u2014 \u518d\u89c1", devType=3), False),
        ]


def ack_for(msg):
    """What the server answers to an acked ImMessage."""
    return {"status": "ok", "msgId": msg.get("msgId")}
