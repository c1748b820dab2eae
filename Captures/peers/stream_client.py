#!/usr/bin/env python3
"""A Socket.IO IM client that keeps large messages flowing, for a capture that starts in the
middle of a WebSocket frame (python-socketio 5.x threaded Client, websocket transport only).

  .venv/eio4/bin/python Captures/peers/stream_client.py --url http://127.0.0.1:9092 --log client.jsonl \\
      --ready-file /tmp/ready --go-file /tmp/go

Talks to peers/server.py, which sends every `chat` back to its sender and acks it when asked.
Session 1: connect to "/" and "/admin", write --ready-file, then send `chat` ImMessages with a
large text (--size bytes of text; about 100 KB of JSON with the Python client's \\uXXXX escapes)
one after the other, each waiting for the server's copy, so the client is always in the middle
of sending a large frame: its socket writes are paced to --throttle bytes per second (4 KiB
writes; a slow uplink), so each message takes a few tenths of a second to go out while the
server's copy comes back at loopback speed. Meanwhile the capture is started; once --go-file
exists, --after more large messages follow, then three small ones (the second with an ack),
and the client disconnects. Session 2 (a new connection, handshake captured, not paced): one
small and one large `chat` with acks, then disconnect.

Everything is logged like peers/client.py does (imlog.py: action emit/recv/ack_sent/ack_recv,
args, ackId, session), so the Engine.IO/Socket.IO text of each message can be rebuilt from the log.
Message contents are derived from --seed; how many large messages go out before the capture
starts depends on timing (at most --max-before).
"""

import argparse
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import imlog  # noqa: E402
import socketio  # noqa: E402

from client import limit_receive_buffer, new_session, to_inbox  # noqa: E402

TIMEOUT = 20.0
PACE = {"rate": 0}  # bytes per second for socket writes; 0: not paced


def pace_socket_writes(chunk=4096):
    """socket.send writes at most `chunk` bytes and then sleeps for as long as they take at
    PACE["rate"] (websocket-client loops on send until the whole frame is out)."""
    orig_send = socket.socket.send

    def send(self, data, *flags):
        if not PACE["rate"] or self.type != socket.SOCK_STREAM:
            return orig_send(self, data, *flags)
        n = orig_send(self, data[:chunk], *flags)
        time.sleep(n / PACE["rate"])
        return n

    socket.socket.send = send


def session(log, args, number, midstream):
    script, inbox, sio = new_session(log, args.seed, number)
    to_inbox(sio, inbox, ("connect", "/"), ("connect", "/admin"), ("chat", "/"))

    sio.connect(args.url, transports=["websocket"], namespaces=["/", "/admin"], wait_timeout=TIMEOUT)
    for ns in ("/", "/admin"):
        inbox.wait_for(lambda it, ns=ns: it[:2] == ("connect", ns), "connect " + ns)

    def send(msg, ack=False):
        acked = threading.Event()
        sio.emit("chat", msg, callback=(lambda *a: acked.set()) if ack else None)
        inbox.wait_for(lambda it: it[:2] == ("chat", "/") and it[2].get("msgId") == msg["msgId"], "chat echo")
        if ack and not acked.wait(TIMEOUT):
            raise TimeoutError("stream_client: no ack")

    if midstream:
        PACE["rate"] = args.throttle
        with open(args.ready_file, "w") as f:
            f.write("streaming\n")
        sent = 0
        while not os.path.exists(args.go_file):
            if sent >= args.max_before:
                raise TimeoutError("stream_client: no go file after %d messages" % sent)
            send(script.im(2, script.big_text(args.size)))
            sent += 1
        for _ in range(args.after):
            send(script.im(2, script.big_text(args.size)))
        send(script.im(2, "small one \u2014 \u5c0f"))
        send(script.im(2, "small two", devType=3), ack=True)
        send(script.im(16, '{"url":"http://files.example.com/v/1.amr","time":3}'))
        PACE["rate"] = 0
    else:
        send(script.im(2, "hello again"), ack=True)
        send(script.im(2, script.big_text(args.small_size)), ack=True)
    time.sleep(0.2)
    sio.disconnect()
    time.sleep(0.3)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:9092")
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--size", type=int, default=80000, help="bytes of text in a large message")
    p.add_argument("--small-size", type=int, default=15000, help="bytes of text of session 2's large message")
    p.add_argument("--throttle", type=int, default=400000, help="session 1: socket writes in bytes per second")
    p.add_argument("--after", type=int, default=1, help="large messages after the go file appeared")
    p.add_argument("--max-before", type=int, default=2000, help="give up after this many large messages")
    p.add_argument("--rcvbuf", type=int, default=4096, help="SO_RCVBUF for the client's TCP sockets (0: leave)")
    p.add_argument("--log", required=True)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--go-file", required=True)
    args = p.parse_args()
    if args.rcvbuf:
        limit_receive_buffer(args.rcvbuf)
    pace_socket_writes()
    log = imlog.EventLog(args.log, "client")
    imlog.install_hooks(log, socketio.Client)
    session(log, args, 1, True)
    session(log, args, 2, False)
    log.close()


if __name__ == "__main__":
    main()
