#!/usr/bin/env python3
"""A small Socket.IO IM server for making captures (python-socketio AsyncServer on aiohttp).

Runs with python-socketio 5.x (Engine.IO 4) and 4.6.1 (Engine.IO 3):
  .venv/eio4/bin/python Captures/peers/server.py --log server.jsonl
  .venv/eio3/bin/python Captures/peers/server.py --host ::1 --log server.jsonl

Behaviour (namespaces "/" and "/admin"):
  "/" chat(msg)          -> forwards msg back to the sender as a downstream `chat`, then acks
                            {"status":"ok","msgId":..} when the client asked for an ack
  "/" chatroom(msg)      -> emits a downstream `chatroom` (messageType 102 from another member), acks
  "/" attachment(meta, bytes) -> emits its own `attachment` (meta, bytes) to the client with an ack
                            callback, then acks {"status":"ok","size":..,"sha256":..}
  "/admin" chat(msg)     -> emits a system notice `chat` (fromType 3, messageType 68) on /admin, acks
Every event and ack sent or received is logged as JSONL (see imlog.py).

JSON is encoded without ASCII escaping (ensure_ascii=False) on the server, as Java servers
(netty-socketio/Jackson) do, so server-to-client text carries raw UTF-8 while the Python client
sends \\uXXXX escapes: both forms end up in the captures.

Segment sizes: the loopback interface has MTU 65536 and does GSO, so by default a 20 KB message
is a single TCP segment on lo. The listening socket therefore gets TCP_MAXSEG (--mss, default
1460 as on Ethernet; the client learns it from the SYN-ACK) and, with --rcvbuf, a small SO_RCVBUF
(inherited by accepted connections). A small receive window is what really keeps segments small
on lo (GSO packs up to the window); the client does the same on its side (client.py --rcvbuf),
so large messages span many segments in both directions, as they would on a real network
(peerlib.py: listening_socket, limit_receive_buffer).

Python 3.11 and python-engineio 3.14.2 / python-socketio 4.6.1: their asyncio code passes bare
coroutines to asyncio.wait(), which Python 3.11 rejects (TypeError). Under Engine.IO 3 this
server wraps asyncio.wait so coroutines are turned into tasks first (see _patch_asyncio_wait).
(engineio 3.14.2's threading mode has no websocket support at all, so it is not an option.)
Both versions also read polling POST bodies with a single StreamReader.read(n), which returns a
short body when it spans several TCP segments; _ExactBody fixes that (see there).
"""

import argparse
import asyncio
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import imlog  # noqa: E402
import peerlib  # noqa: E402
import socketio  # noqa: E402
from aiohttp import web  # noqa: E402


def _patch_asyncio_wait():
    orig_wait = asyncio.wait

    async def wait(fs, *args, **kwargs):
        fs = [asyncio.ensure_future(f) if asyncio.iscoroutine(f) else f for f in fs]
        if not fs:
            return set(), set()
        return await orig_wait(fs, *args, **kwargs)

    asyncio.wait = wait


class _ExactBody:
    """wsgi.input for python-engineio's aiohttp driver whose read(n) returns n bytes.

    python-engineio (3.14.2 and 4.x alike) reads a polling POST body with
    `await environ['wsgi.input'].read(CONTENT_LENGTH)` on aiohttp's StreamReader, whose read(n)
    returns *at most* n bytes: whatever has arrived. When the body spans several TCP segments
    (as it does with the small receive buffer used for captures) the server decodes a truncated
    payload and drops the message. This adapter waits for the whole body."""

    def __init__(self, stream):
        self.stream = stream

    async def read(self, n=-1):
        if n is None or n < 0:
            return await self.stream.read()
        try:
            return await self.stream.readexactly(n)
        except asyncio.IncompleteReadError as e:
            return e.partial


def _patch_aiohttp_body_read():
    from engineio.async_drivers import aiohttp as driver

    orig = driver._async["translate_request"]

    def translate_request(*args, **kwargs):
        environ = orig(*args, **kwargs)
        environ["wsgi.input"] = _ExactBody(environ["wsgi.input"])
        return environ

    driver._async["translate_request"] = translate_request


class _Utf8Json:
    """json module stand-in for python-socketio: no ASCII escaping (like Jackson)."""

    @staticmethod
    def dumps(*args, **kwargs):
        kwargs.setdefault("ensure_ascii", False)
        return json.dumps(*args, **kwargs)

    loads = staticmethod(json.loads)
    JSONDecodeError = json.JSONDecodeError


def make_server(log, ping_interval, ping_timeout):
    if imlog.EIO == 3:
        _patch_asyncio_wait()
    _patch_aiohttp_body_read()
    imlog.install_hooks(log, socketio.AsyncServer)
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*", json=_Utf8Json,
                               ping_interval=ping_interval, ping_timeout=ping_timeout)
    script = imlog.Script(9092, "u9", "Carol", None, None)

    @sio.on("connect")
    async def connect(sid, environ, *auth):
        pass

    @sio.on("connect", namespace="/admin")
    async def admin_connect(sid, environ, *auth):
        pass

    @sio.on("chat")
    async def chat(sid, msg):
        await sio.emit("chat", msg, room=sid)
        return imlog.ack_for(msg)

    @sio.on("chatroom")
    async def chatroom(sid, msg):
        room = msg.get("destId")
        down = script.im(102, "welcome to %s" % room, from_type=2, dest=room)
        await sio.emit("chatroom", down, room=sid)
        return {"status": "ok", "room": room, "members": 3}

    @sio.on("attachment")
    async def attachment(sid, meta, data):
        blob = script.blob(3000)

        def on_ack(*args):  # the ack itself is logged by the hook
            pass

        await sio.emit("attachment", ({"fileName": "server-%s.bin" % meta.get("fileName"), "size": len(blob)}, blob),
                       room=sid, callback=on_ack)
        return {"status": "ok", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    @sio.on("chat", namespace="/admin")
    async def admin_chat(sid, msg):
        notice = script.im(68, "system maintenance at 03:00", from_type=3, dest=msg.get("fromId"),
                           sender="system", sender_name="System")
        await sio.emit("chat", notice, room=sid, namespace="/admin")
        return imlog.ack_for(msg)

    return sio


listening_socket = peerlib.listening_socket  # (host, port, mss, rcvbuf)


async def main_async(args):
    log = imlog.EventLog(args.log, "server")
    sio = make_server(log, args.ping_interval, args.ping_timeout)
    app = web.Application()
    sio.attach(app)
    await peerlib.serve(app, listening_socket(args.host, args.port, args.mss, args.rcvbuf),
                        "server: python-socketio %s, python-engineio %s (Engine.IO %d) on %s port %d"
                        % (imlog.SOCKETIO_VERSION, imlog.ENGINEIO_VERSION, imlog.EIO, args.host, args.port),
                        args.ready_file)
    log.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1 or ::1)")
    p.add_argument("--port", type=int, default=9092)
    p.add_argument("--mss", type=int, default=1460, help="TCP_MAXSEG for the listening socket (0: leave)")
    p.add_argument("--ping-interval", type=float, default=25,
                   help="Engine.IO ping interval in seconds; short ones put pings into short captures and "
                        "let a polling client's pending GET return soon after it disconnects")
    p.add_argument("--ping-timeout", type=float, default=20,
                   help="Engine.IO ping timeout in seconds; a polling GET pending when the client leaves "
                        "is answered after ping interval + ping timeout")
    p.add_argument("--rcvbuf", type=int, default=0,
                   help="SO_RCVBUF for the listening socket, inherited by connections (0: leave)")
    p.add_argument("--log", required=True, help="JSONL event log to write")
    p.add_argument("--ready-file", help="written (with the pid) once the server listens")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
