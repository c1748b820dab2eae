#!/usr/bin/env python3
"""A plain aiohttp WebSocket server with permessage-deflate, for making captures.

  .venv/eio4/bin/python Captures/peers/deflate_server.py --log server.jsonl [--port 9092]

One endpoint, GET /ws, upgraded by aiohttp's WebSocketResponse(compress=True): when the client
offers permessage-deflate (deflate_client.py: compress=15) the server accepts it, with context
takeover unless the offer asks for server_no_context_takeover. aiohttp's server never answers
client_no_context_takeover itself; this one adds it to its answer when the client offered it
(RFC 7692 section 7.1.1.2 lets a server do that), so a client that asked for both gets both.

What the server does with each message (everything it sends is logged, see wsdeflate.py):
  text, a JSON object with "want": [[kind, size], ...]
                     sends one message per item: kind "text" (size 0: a small JSON object, else
                     a JSON text of at least `size` bytes) or "binary" (`size` bytes)
  text, {"op": "hello"} / {"op": "bye"} without "want"
                     one small JSON answer ("welcome" / "bye-ack")
  other text         "echo(N): " + the text reversed (N: its length in characters)
  binary             a binary message of half the length + 1
  ping               pong with the same payload; after a ping whose payload starts with
                     "client-ping" also a ping of its own ("server-ping-N")
  pong               nothing
  close              close 1000 "server: goodbye ✓" (after logging the client's code and reason)
autoping/autoclose are off so that every control frame is the script's, and logged.
"""

import argparse
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peerlib  # noqa: E402
import wsdeflate  # noqa: E402
from aiohttp import WSMsgType, hdrs, web  # noqa: E402

CLOSE_REPLY = (1000, "server: goodbye ✓")


class DeflateResponse(web.WebSocketResponse):
    """Answers client_no_context_takeover when offered (aiohttp leaves it out of its answer)."""

    def _handshake(self, request):
        headers, protocol, compress, notakeover = super()._handshake(request)
        offer = request.headers.get(hdrs.SEC_WEBSOCKET_EXTENSIONS, "")
        answer = headers.get(hdrs.SEC_WEBSOCKET_EXTENSIONS)
        if compress and answer and "client_no_context_takeover" in offer:
            headers[hdrs.SEC_WEBSOCKET_EXTENSIONS] = answer + "; client_no_context_takeover"
        return headers, protocol, compress, notakeover


def make_app(log, seed):
    content = wsdeflate.Content(seed)
    state = {"pings": 0}

    async def send_text(ws, text):
        log.message("send", "text", text)
        await ws.send_str(text)

    async def send_binary(ws, data):
        log.message("send", "binary", data)
        await ws.send_bytes(data)

    async def on_text(ws, text):
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and "want" in obj:
            for kind, size in obj["want"]:
                if kind == "binary":
                    await send_binary(ws, content.blob(size))
                elif size:
                    await send_text(ws, content.bulk("report", size, answering=obj.get("op")))
                else:
                    await send_text(ws, content.small("reply", answering=obj.get("op")))
        elif isinstance(obj, dict) and obj.get("op") in ("hello", "bye"):
            await send_text(ws, content.small({"hello": "welcome", "bye": "bye-ack"}[obj["op"]]))
        else:
            await send_text(ws, "echo(%d): %s" % (len(text), text[::-1]))

    async def handler(request):
        ws = DeflateResponse(compress=True, autoping=False, autoclose=False, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        answer = ws.headers.get(hdrs.SEC_WEBSOCKET_EXTENSIONS, "")
        log.handshake(offered=request.headers.get(hdrs.SEC_WEBSOCKET_EXTENSIONS, ""), extensions=answer,
                      contextTakeover={"client": "client_no_context_takeover" not in answer,
                                       "server": "server_no_context_takeover" not in answer})
        while True:
            msg = await ws.receive()
            if msg.type == WSMsgType.TEXT:
                log.message("recv", "text", msg.data)
                await on_text(ws, msg.data)
            elif msg.type == WSMsgType.BINARY:
                log.message("recv", "binary", msg.data)
                await send_binary(ws, content.blob(len(msg.data) // 2 + 1))
            elif msg.type == WSMsgType.PING:
                log.message("recv", "ping", msg.data)
                log.message("send", "pong", msg.data)
                await ws.pong(msg.data)
                if msg.data.startswith(b"client-ping"):
                    state["pings"] += 1
                    payload = b"server-ping-%d" % state["pings"]
                    log.message("send", "ping", payload)
                    await ws.ping(payload)
            elif msg.type == WSMsgType.PONG:
                log.message("recv", "pong", msg.data)
            elif msg.type == WSMsgType.CLOSE:
                log.message("recv", "close", code=msg.data, reason=msg.extra)
                log.message("send", "close", code=CLOSE_REPLY[0], reason=CLOSE_REPLY[1])
                await ws.close(code=CLOSE_REPLY[0], message=CLOSE_REPLY[1].encode("utf-8"))
                break
            else:  # CLOSED, CLOSING, ERROR: the connection went away without a close frame
                print("deflate_server: connection ended with %s (%r)" % (msg.type, msg.data), file=sys.stderr)
                break
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    return app


async def main_async(args):
    log = wsdeflate.Log(args.log, "server")
    app = make_app(log, args.seed)
    await peerlib.serve(app, peerlib.listening_socket(args.host, args.port, args.mss, args.rcvbuf,
                                                      backlog=16, v6only=False),
                        "deflate_server: listening on %s port %d" % (args.host, args.port), args.ready_file)
    log.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9092)
    p.add_argument("--seed", type=int, default=9092, help="seed of everything the server sends")
    p.add_argument("--mss", type=int, default=1460, help="TCP_MAXSEG for the listening socket (0: leave)")
    p.add_argument("--rcvbuf", type=int, default=4096, help="SO_RCVBUF for the listening socket (0: leave)")
    p.add_argument("--log", required=True, help="JSONL message log to write")
    p.add_argument("--ready-file", help="written (with the pid) once the server listens")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
