#!/usr/bin/env python3
"""The Socket.IO server of the ImMessage rules capture (python-socketio AsyncServer on aiohttp).

  .venv/eio4/bin/python Captures/peers/rules_server.py --log server.jsonl

Unlike server.py it does not forward `chat` messages back: a copy sent downstream would break other
rules than the original (a 5 friend-online sent up is wrong, sent down it is fine; a 1 ready-ack the
other way round), so every downstream ImMessage here is one the server means to send, logged with the
rules it breaks (rules_script.py). On namespace "/":
  chat(msg), chatroom(msg)  -> ack {"status":"ok","msgId":..} (msgId null when the argument has none)
  rules({"seed": N})        -> emits rules_script.downstream(N) one by one (`chat`/`chatroom`, 20 ms
                               apart), then acks {"status":"ok","sent":count}
The log is imlog's format; each `emit` of a scripted ImMessage also has label, schema, expect,
expectBySchema (and why) as rules_script.py says. Socket options and JSON encoding (raw UTF-8, as
Java servers write it) are server.py's.
"""

import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import imlog  # noqa: E402
import peerlib  # noqa: E402
import rules_script  # noqa: E402
import server as base  # noqa: E402
import socketio  # noqa: E402
from aiohttp import web  # noqa: E402

GAP = 0.02


def make_server(log, ping_interval, ping_timeout):
    base._patch_aiohttp_body_read()
    imlog.install_hooks(log, socketio.AsyncServer)
    sio = socketio.AsyncServer(async_mode="aiohttp", json=base._Utf8Json,
                               ping_interval=ping_interval, ping_timeout=ping_timeout)

    @sio.on("connect")
    async def connect(sid, environ, *auth):
        pass

    @sio.on("chat")
    async def chat(sid, *args):
        return {"status": "ok", "msgId": rules_script.msg_id(args[0] if args else None)}

    @sio.on("chatroom")
    async def chatroom(sid, *args):
        return {"status": "ok", "msgId": rules_script.msg_id(args[0] if args else None)}

    @sio.on("rules")
    async def rules(sid, req):
        script = rules_script.server_script(int(req["seed"]))
        cases = rules_script.downstream(script)
        for case in cases:
            log.expect(case)
            await sio.emit(case.event, case.arg, room=sid)
            await asyncio.sleep(GAP)
        return {"status": "ok", "sent": len(cases)}

    return sio


async def main_async(args):
    log = rules_script.make_log(args.log, "server")
    sio = make_server(log, args.ping_interval, args.ping_timeout)
    app = web.Application()
    sio.attach(app)
    await peerlib.serve(app, peerlib.listening_socket(args.host, args.port, args.mss, args.rcvbuf),
                        "rules_server: python-socketio %s, python-engineio %s (Engine.IO %d) on %s port %d"
                        % (imlog.SOCKETIO_VERSION, imlog.ENGINEIO_VERSION, imlog.EIO, args.host, args.port),
                        args.ready_file)
    log.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9092)
    p.add_argument("--mss", type=int, default=1460, help="TCP_MAXSEG for the listening socket (0: leave)")
    p.add_argument("--rcvbuf", type=int, default=0, help="SO_RCVBUF for the listening socket (0: leave)")
    p.add_argument("--ping-interval", type=float, default=1)
    p.add_argument("--ping-timeout", type=float, default=2)
    p.add_argument("--log", required=True, help="JSONL event log to write")
    p.add_argument("--ready-file", help="written (with the pid) once the server listens")
    args = p.parse_args()
    if imlog.EIO != 4:
        p.error("rules_server.py runs under python-socketio 5.x (.venv/eio4)")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
