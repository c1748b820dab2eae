#!/usr/bin/env python3
"""A real IM server for replay tests (python-socketio AsyncServer on aiohttp), with switchable regressions.

Runs with python-socketio 5.x (Engine.IO 4) and 4.6.1 (Engine.IO 3):
  .venv/eio4/bin/python Captures/peers/im_server.py                        # 127.0.0.1:9092
  .venv/eio3/bin/python Captures/peers/im_server.py --port 9100 --log im.jsonl
  .venv/eio4/bin/python Captures/peers/im_server.py --cert c.pem --key k.pem --namespace /im
  .venv/eio4/bin/python Captures/peers/im_server.py --regress nack-type:3 --regress drop-type:16

Unlike server.py (which echoes to the sender, for captures), this one routes between users, following
the IM protocol of /work/shared/spec (v2 table; see that README). Behaviour, on one namespace (--namespace,
default "/"):
  connect      the user is `userId` from the query string (`?userId=u1`), else from the auth dict
               (Engine.IO 4 clients: auth={"userId": ..}); a connection without one is refused (EIO4: a
               Socket.IO CONNECT error; EIO3: python-socketio 4 refuses the handshake itself, HTTP 401).
               A user may have several sids (devices); all get what is routed to the user.
  presence     when a user's first sid connects, every other online user gets a downstream `chat` with
               messageType 5 (friend online: fromId = the user who came online, destId = the receiver);
               when its last sid goes, messageType 6 (friend offline) the same way. These notices have
               fromType 1, fromName = the user's id, content "" and a fresh msgId.
  chat(msg)    messageType 1 (the client's "ready", upstream): acked; the sender then gets a messageType 5
               notice for each user already online (the spec: a client sends 1 once it has its friend list).
               fromType 2 (group message): sent as `chat` to every other member of room destId (members are
               the users who entered it with `chatroom` 100).
               otherwise: sent unchanged as a downstream `chat` to every sid of user destId (nothing when the
               user is offline; nothing is stored).
  chatroom(msg) messageType 100 (enter): joins room destId; 101 (leave): leaves it; the message (100, 101,
               102 or any other) is sent unchanged as a downstream `chatroom` to the other members.
  acks         every `chat`/`chatroom` the client asks an ack for is acked {"status": "ok", "msgId": <msgId>}
               (imlog.ack_for, as server.py does); a message that is not a JSON object, or whose destId is
               missing, is acked {"status": "error", "msgId": .., "error": ..} and not routed.
  Messages are forwarded unchanged (the spec names no field a server adds), and so are any arguments
  after the message: `chat(msg, b"...")` reaches the recipients as `chat` with the same msg and the same
  bytes as a binary attachment (a Socket.IO BINARY_EVENT), in the same order; likewise for every routed
  chat/chatroom (to a user, a group's or a room's members). The ready (1) is only acked. The spec itself
  has no binary attachments (images, files and voice are URLs in content); the extra arguments are for
  tests and captures that need them (Captures/replay/). There is no separate `attachment` event.
Every event and ack sent or received is logged as JSONL with --log (imlog.py's format).

Regressions (--regress, repeatable), for tests that must see a server misbehave:
  nack-type:N             a `chat`/`chatroom` of messageType N is acked {"status": "error", "msgId": ..,
                          "error": "messageType N refused"} and not routed
  drop-type:M             a `chat`/`chatroom` of messageType M is acked ok but not routed
  silent-after-handshake  the Engine.IO handshake is answered (the OPEN packet, over polling or websocket;
                          upgrades are not offered), then the server never sends anything: no Socket.IO
                          CONNECT, no ack, no ping, no pong, no close. Only HTTP still answers: a pending
                          polling GET gets "400 Bad Request" (no Engine.IO packet) when python-engineio's
                          poll times out (EIO4: after ping interval + ping timeout; EIO3: ping interval), and
                          the session is gone then; the server itself never times a client out.
  accept-no-answer        TCP connections are accepted and read, HTTP is never answered (no Socket.IO at all)
  random-field:NAME       not a regression but noise: every message the server sends on (routed chats and
                          chatroom messages, presence notices) gets a field NAME with a fresh random value (a
                          trace id), which differs on every run (replay --learn-noise learns it)
  slow-ack:MS             every `chat`/`chatroom` is acked MS milliseconds late (the server awaits that long
                          before answering; routing is not delayed): a slower release, for --max-latency

Stops cleanly on SIGINT/SIGTERM; --ready-file is written (the pid) once it listens. The Engine.IO 3 fixes
for Python 3.11 (asyncio.wait with bare coroutines) and the short polling POST body read are server.py's
(_patch_asyncio_wait, _patch_aiohttp_body_read), imported from there.
"""

import argparse
import asyncio
import os
import ssl
import sys
import uuid
from urllib.parse import parse_qs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import imlog  # noqa: E402
import peerlib  # noqa: E402
import server as capture_server  # noqa: E402  (the Engine.IO patches and the JSON encoder)
import socketio  # noqa: E402
from aiohttp import web  # noqa: E402

AVATAR = imlog.AVATAR
FRIEND_ONLINE, FRIEND_OFFLINE, CLIENT_READY = 5, 6, 1
ROOM_ENTER, ROOM_LEAVE = 100, 101
GROUP = 2  # fromType of a group message


class Regressions:
    """The parsed --regress switches."""

    def __init__(self, specs):
        self.nack, self.drop = set(), set()
        self.silent = self.no_answer = False
        self.random_field = None
        self.slow_ack = 0.0
        for spec in specs or []:
            name, _, value = spec.partition(":")
            if name in ("nack-type", "drop-type"):
                try:
                    n = int(value)
                except ValueError:
                    raise SystemExit("im_server: --regress %s needs a messageType number (%s:N)" % (spec, name))
                (self.nack if name == "nack-type" else self.drop).add(n)
            elif name == "silent-after-handshake" and not value:
                self.silent = True
            elif name == "accept-no-answer" and not value:
                self.no_answer = True
            elif name == "random-field" and value:
                self.random_field = value
            elif name == "slow-ack":
                try:
                    self.slow_ack = int(value) / 1000.0
                except ValueError:
                    raise SystemExit("im_server: --regress %s needs milliseconds (slow-ack:MS)" % spec)
            else:
                raise SystemExit("im_server: unknown --regress %r (nack-type:N, drop-type:M, "
                                 "silent-after-handshake, accept-no-answer, random-field:NAME, slow-ack:MS)" % spec)


def _patch_silent_after_handshake():
    """Every Engine.IO socket queues its OPEN packet and then drops whatever else is sent (Socket.IO
    CONNECT, events, acks, pings, pongs, CLOSE) and never times the client out."""
    try:
        from engineio.async_socket import AsyncSocket  # python-engineio 4.x
    except ImportError:
        from engineio.asyncio_socket import AsyncSocket  # python-engineio 3.x
    from engineio import packet as eio_packet

    orig_send = AsyncSocket.send

    async def send(self, pkt):
        if getattr(self, "_imserver_opened", False):
            return
        if pkt.packet_type == eio_packet.OPEN:
            self._imserver_opened = True
        return await orig_send(self, pkt)

    async def check_ping_timeout(self):
        if self.closed:
            from engineio import exceptions
            raise exceptions.SocketIsClosedError()
        return True

    AsyncSocket.send = send
    AsyncSocket.check_ping_timeout = check_ping_timeout


async def _maybe(result):
    """enter_room/leave_room are coroutines in python-socketio 5.x's AsyncServer, plain calls in 4.6.1."""
    if asyncio.iscoroutine(result):
        await result


def _user_of(environ, auth):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    if q.get("userId"):
        return q["userId"][0]
    if isinstance(auth, dict) and auth.get("userId") is not None:
        return str(auth["userId"])
    return None


def make_server(log, ping_interval, ping_timeout, namespace="/", regress=None):
    regress = regress or Regressions([])
    if imlog.EIO == 3:
        capture_server._patch_asyncio_wait()
    capture_server._patch_aiohttp_body_read()
    if regress.silent:
        _patch_silent_after_handshake()
    if log is not None:
        imlog.install_hooks(log, socketio.AsyncServer)
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*", json=capture_server._Utf8Json,
                               ping_interval=ping_interval, ping_timeout=ping_timeout,
                               allow_upgrades=not regress.silent)
    ns = namespace
    users = {}  # userId -> [sid, ...] in connection order
    user_of = {}  # sid -> userId

    def notice(message_type, about, dest):
        return {"msgId": str(uuid.uuid4()), "fromId": about, "fromType": 1, "destId": dest, "fromName": about,
                "imageIconUrl": AVATAR.format(about), "content": "", "messageType": message_type}

    def payload(msg, rest):
        """emit's data: the message alone, or (msg, *extra arguments) when the client sent more; with
        --regress random-field:NAME, a copy of the message with NAME set to a fresh random value."""
        if regress.random_field and isinstance(msg, dict):
            msg = dict(msg, **{regress.random_field: uuid.uuid4().hex})
        return (msg,) + tuple(rest) if rest else msg

    async def to_user(event, msg, user, rest=()):
        for sid in list(users.get(user, [])):
            await sio.emit(event, payload(msg, rest), room=sid, namespace=ns)

    async def tell_others(message_type, about):
        for other in list(users):
            if other != about:
                await to_user("chat", notice(message_type, about, other), other)

    @sio.on("connect", namespace=ns)
    async def connect(sid, environ, *auth):
        user = _user_of(environ, auth[0] if auth else None)
        if user is None:
            return False
        first = user not in users
        users.setdefault(user, []).append(sid)
        user_of[sid] = user
        if first:
            await tell_others(FRIEND_ONLINE, user)

    @sio.on("disconnect", namespace=ns)
    async def disconnect(sid, *reason):
        user = user_of.pop(sid, None)
        if user is None:
            return
        sids = users.get(user, [])
        if sid in sids:
            sids.remove(sid)
        if not sids:
            users.pop(user, None)
            await tell_others(FRIEND_OFFLINE, user)

    def check(msg):
        """(ack, route?) for an upstream message, after the regressions."""
        if not isinstance(msg, dict):
            return {"status": "error", "msgId": None, "error": "not an ImMessage object"}, False
        ack = imlog.ack_for(msg)
        mt = msg.get("messageType")
        try:
            mt = int(mt)
        except (TypeError, ValueError):
            pass
        if mt in regress.nack:
            return {"status": "error", "msgId": msg.get("msgId"), "error": "messageType %s refused" % mt}, False
        if mt in regress.drop:
            return ack, False
        if msg.get("destId") is None:
            return {"status": "error", "msgId": msg.get("msgId"), "error": "no destId"}, False
        return ack, True

    def message_type(msg):
        try:
            return int(msg.get("messageType"))
        except (TypeError, ValueError):
            return None

    async def slowly(ack):
        if regress.slow_ack:
            await asyncio.sleep(regress.slow_ack)
        return ack

    @sio.on("chat", namespace=ns)
    async def chat(sid, msg=None, *rest):
        return await slowly(await _chat(sid, msg, *rest))

    @sio.on("chatroom", namespace=ns)
    async def chatroom(sid, msg=None, *rest):
        return await slowly(await _chatroom(sid, msg, *rest))

    async def _chat(sid, msg=None, *rest):
        ack, route = check(msg)
        if not route:
            return ack
        sender = user_of.get(sid)
        if message_type(msg) == CLIENT_READY:
            for other in list(users):
                if other != sender:
                    await sio.emit("chat", payload(notice(FRIEND_ONLINE, other, sender), ()), room=sid, namespace=ns)
        elif msg.get("fromType") == GROUP or str(msg.get("fromType")) == str(GROUP):
            await sio.emit("chat", payload(msg, rest), room="room:%s" % msg["destId"], skip_sid=sid, namespace=ns)
        else:
            await to_user("chat", msg, str(msg["destId"]), rest)
        return ack

    async def _chatroom(sid, msg=None, *rest):
        ack, route = check(msg)
        if not route:
            return ack
        room = "room:%s" % msg["destId"]
        mt = message_type(msg)
        if mt == ROOM_ENTER:
            await _maybe(sio.enter_room(sid, room, namespace=ns))
        await sio.emit("chatroom", payload(msg, rest), room=room, skip_sid=sid, namespace=ns)
        if mt == ROOM_LEAVE:
            await _maybe(sio.leave_room(sid, room, namespace=ns))
        return ack

    return sio


def ssl_context(cert, key):
    if not cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def serve_no_answer(sock, banner, ready_file):
    """accept-no-answer: accept every connection, read and discard what comes, never write."""
    conns = set()

    async def handle(reader, writer):
        conns.add(writer)
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, OSError):
            pass
        finally:
            conns.discard(writer)
            writer.close()

    srv = await asyncio.start_server(handle, sock=sock)
    await peerlib.wait_for_stop(banner, ready_file)
    srv.close()
    for w in list(conns):
        w.close()


async def main_async(args):
    regress = Regressions(args.regress)
    sock = peerlib.listening_socket(args.host, args.port, args.mss, args.rcvbuf)
    banner = ("im_server: python-socketio %s, python-engineio %s (Engine.IO %d) on %s port %d%s%s"
              % (imlog.SOCKETIO_VERSION, imlog.ENGINEIO_VERSION, imlog.EIO, args.host, args.port,
                 " (TLS)" if args.cert else "", "".join(" --regress " + r for r in args.regress or [])))
    if regress.no_answer:
        await serve_no_answer(sock, banner, args.ready_file)
        return
    log = imlog.EventLog(args.log, "server") if args.log else None
    sio = make_server(log, args.ping_interval, args.ping_timeout, args.namespace, regress)
    app = web.Application()
    sio.attach(app)
    # a silent server's pending polling GETs would hold aiohttp's cleanup for 60 s
    await peerlib.serve(app, sock, banner, args.ready_file, ssl_context=ssl_context(args.cert, args.key),
                        shutdown_timeout=0.5)
    if log is not None:
        log.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1 or ::1)")
    p.add_argument("--port", type=int, default=9092)
    p.add_argument("--namespace", default="/", help="the Socket.IO namespace of the IM events (default /)")
    p.add_argument("--cert", help="TLS certificate (PEM): serve https/wss")
    p.add_argument("--key", help="TLS private key (PEM), with --cert")
    p.add_argument("--regress", action="append", metavar="NAME",
                   help="nack-type:N, drop-type:M, silent-after-handshake, accept-no-answer, random-field:NAME, "
                        "slow-ack:MS (repeatable)")
    p.add_argument("--ping-interval", type=float, default=25, help="Engine.IO ping interval in seconds")
    p.add_argument("--ping-timeout", type=float, default=20, help="Engine.IO ping timeout in seconds")
    p.add_argument("--mss", type=int, default=0, help="TCP_MAXSEG for the listening socket (0: leave)")
    p.add_argument("--rcvbuf", type=int, default=0, help="SO_RCVBUF for the listening socket (0: leave)")
    p.add_argument("--log", help="JSONL event log to write (imlog.py's format)")
    p.add_argument("--ready-file", help="written (with the pid) once the server listens")
    p.add_argument("--uvloop", action="store_true",
                   help="run on uvloop (libuv) instead of asyncio's own loop: the load runs of replay --copies")
    args = p.parse_args()
    if bool(args.cert) != bool(args.key):
        p.error("--cert and --key go together")
    if not args.namespace.startswith("/"):
        p.error("--namespace must start with /")
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
