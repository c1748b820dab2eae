#!/usr/bin/env python3
"""A scripted Socket.IO IM client for making captures (python-socketio threaded Client).

Runs with python-socketio 5.x (Engine.IO 4) and 4.6.1 (Engine.IO 3):
  .venv/eio4/bin/python Captures/peers/client.py --url http://127.0.0.1:9092 \\
      --session websocket --session websocket --log client.jsonl

Each --session is one Socket.IO connection, run one after the other:
  websocket  websocket only (one TCP connection)
  polling    HTTP long-polling only (requests keeps two TCP connections: the pending GET and POSTs)
  upgrade    polling first, then upgrade to websocket (python-engineio upgrades right after the
             Engine.IO handshake, so the polling part carries the handshake)
Session k connects to "/" and "/admin", then, waiting for each answer before the next step:
  1. `chat` on "/" six ImMessages (messageType 2 text, 3 image URL, 4 file (content a JSON string),
     16 voice (JSON string), a ~20 KB text, a short non-ASCII text); acks for #1, #3, #5; the server
     forwards each one back as a downstream `chat`;
  2. `chatroom` messageType 100 (enter room) with ack; the server answers with a `chatroom` 102;
  3. `attachment` ({"fileName":..}, 2000 bytes) with ack; the server sends its own `attachment` with
     3000 bytes and an ack callback, which this client answers with (object, bytes) (BINARY_ACK);
  4. `chat` on "/admin" (messageType 68, fromType 3) with ack; the server sends a notice on /admin;
  5. disconnect.
Odd sessions are user u1 "Alice" writing to u2, even ones u2 "Bob" writing to u1. Everything is
derived from --seed, so the logs differ between runs only in times.

--ready-file/--go-file (for mid-stream captures): after session 1 is connected, write the ready
file and wait until the go file exists before sending anything.
"""

import argparse
import hashlib
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import imlog  # noqa: E402
import peerlib  # noqa: E402
import socketio  # noqa: E402

TRANSPORTS = {"websocket": ["websocket"], "polling": ["polling"], "upgrade": ["polling", "websocket"]}
TIMEOUT = 10.0


class Inbox:
    """What the handlers received, for the script to wait on."""

    def __init__(self):
        self.cond = threading.Condition()
        self.items = []

    def put(self, *item):
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait_for(self, pred, what):
        deadline = time.monotonic() + TIMEOUT
        with self.cond:
            while True:
                for item in self.items:
                    if pred(item):
                        self.items.remove(item)
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("client: timed out waiting for " + what)
                self.cond.wait(left)


limit_receive_buffer = peerlib.limit_receive_buffer  # (size): SO_RCVBUF of every TCP socket connected


def new_session(log, seed, number, persona=None):
    """Session `number`'s message script (seed * 100 + number), an empty Inbox and a fresh
    socketio.Client. persona (me, me_name, peer, peer_name) defaults to u1 "Alice" writing to
    u2 "Bob" in odd sessions and the other way round in even ones."""
    if persona is None:
        persona = ("u1", "Alice", "u2", "Bob") if number % 2 else ("u2", "Bob", "u1", "Alice")
    script = imlog.Script(seed * 100 + number, *persona)
    log.session = number
    return script, Inbox(), socketio.Client(reconnection=False)


def to_inbox(sio, inbox, *events):
    """Handlers for each (event, namespace) that put (event, namespace, *arguments) into `inbox`."""
    for event, ns in events:
        def handler(*args, event=event, ns=ns):
            inbox.put(event, ns, *args)

        sio.on(event, namespace=ns)(handler)


def run_session(log, args, number, transport):
    script, inbox, sio = new_session(log, args.seed, number)
    to_inbox(sio, inbox, ("connect", "/"), ("connect", "/admin"), ("chat", "/"), ("chatroom", "/"),
             ("chat", "/admin"))

    @sio.on("disconnect")
    def disconnect(*reason):
        inbox.put("disconnect", "/")

    @sio.on("attachment")
    def attachment(meta, data):
        inbox.put("attachment", "/", meta, data)
        return {"status": "ok", "size": len(data)}, hashlib.sha256(data).digest()

    def acked(name, ns):
        return lambda *a: inbox.put("ack", ns, name, a)

    kwargs = {"transports": TRANSPORTS[transport], "namespaces": ["/", "/admin"]}
    if imlog.EIO == 4:
        kwargs["wait_timeout"] = TIMEOUT
    sio.connect(args.url, **kwargs)
    for ns in ("/", "/admin"):
        inbox.wait_for(lambda it, ns=ns: it[:2] == ("connect", ns), "connect " + ns)

    if number == 1 and args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("connected\n")
        deadline = time.monotonic() + 60
        while not os.path.exists(args.go_file):
            if time.monotonic() > deadline:
                raise TimeoutError("client: no go file")
            time.sleep(0.02)

    # 1. chat messages on "/"
    for msg, wants_ack in script.upstream():
        sio.emit("chat", msg, callback=acked("chat", "/") if wants_ack else None)
        inbox.wait_for(lambda it: it[:2] == ("chat", "/") and it[2].get("msgId") == msg["msgId"], "chat echo")
        if wants_ack:
            inbox.wait_for(lambda it: it[:3] == ("ack", "/", "chat"), "chat ack")

    # 2. chatroom
    enter = script.im(100, "enter", from_type=2, dest="room-42")
    sio.emit("chatroom", enter, callback=acked("chatroom", "/"))
    inbox.wait_for(lambda it: it[:2] == ("chatroom", "/"), "chatroom message")
    inbox.wait_for(lambda it: it[:3] == ("ack", "/", "chatroom"), "chatroom ack")

    # 3. binary attachments both ways
    blob = script.blob(2000)
    sio.emit("attachment", ({"fileName": "photo-%d.jpg" % number, "size": len(blob)}, blob),
             callback=acked("attachment", "/"))
    inbox.wait_for(lambda it: it[:2] == ("attachment", "/"), "server attachment")
    inbox.wait_for(lambda it: it[:3] == ("ack", "/", "attachment"), "attachment ack")

    # 4. /admin
    notice = script.im(68, "please restart", from_type=3, dest="system")
    sio.emit("chat", notice, namespace="/admin", callback=acked("chat", "/admin"))
    inbox.wait_for(lambda it: it[:2] == ("chat", "/admin"), "admin notice")
    inbox.wait_for(lambda it: it[:3] == ("ack", "/admin", "chat"), "admin ack")

    # 5. let the server's ack callback for its attachment run, then leave
    time.sleep(0.2)
    sio.disconnect()
    time.sleep(0.3)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:9092")
    p.add_argument("--session", action="append", choices=sorted(TRANSPORTS), help="repeatable; default: websocket")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rcvbuf", type=int, default=0, help="SO_RCVBUF for the client's TCP sockets (0: leave)")
    p.add_argument("--log", required=True, help="JSONL event log to write")
    p.add_argument("--ready-file")
    p.add_argument("--go-file")
    args = p.parse_args()
    if bool(args.ready_file) != bool(args.go_file):
        p.error("--ready-file and --go-file go together")
    if args.rcvbuf:
        limit_receive_buffer(args.rcvbuf)
    log = imlog.EventLog(args.log, "client")
    imlog.install_hooks(log, socketio.Client)
    print("client: python-socketio %s, python-engineio %s (Engine.IO %d) -> %s"
          % (imlog.SOCKETIO_VERSION, imlog.ENGINEIO_VERSION, imlog.EIO, args.url), file=sys.stderr, flush=True)
    for i, transport in enumerate(args.session or ["websocket"], 1):
        run_session(log, args, i, transport)
    log.close()


if __name__ == "__main__":
    main()
