#!/usr/bin/env python3
"""A plain aiohttp WebSocket client with permessage-deflate (compress=15), for making captures.

  .venv/eio4/bin/python Captures/peers/deflate_client.py --url ws://127.0.0.1:9092/ws --log client.jsonl
  ... --no-context-takeover    offer server_no_context_takeover and client_no_context_takeover too

aiohttp's ws_connect(compress=15) offers "permessage-deflate; client_max_window_bits" and has no
option for the no-context-takeover parameters; with --no-context-takeover this client adds both
to its offer (a small wrapper around aiohttp's offer), deflate_server.py accepts both, and each
side then resets its DEFLATE window after every message (Z_FULL_FLUSH).

The conversation (deflate_server.py says how it answers; everything both sides send and receive
is logged, see wsdeflate.py), one step after the other, each waiting for its answers:
   1. text {"op":"hello"}                          -> small text
   2. text of 54 KB JSON, wants "100000" + small  -> 2 texts (91 KB, small)
   3. small text chat                              -> small text
   4. ping "client-ping-1"                         -> pong, then the server's ping (answered with a pong)
   5. text of 164 KB JSON, wants "150000" + small -> 2 texts (136 KB, small)
   6. binary 6000 bytes                            -> binary 3001 bytes
   7. binary 40 bytes                              -> binary 21 bytes
   8. non-ASCII plain text                         -> "echo(N): " + it reversed
   9. empty text                                   -> "echo(0): "
  10. small text chat                              -> small text
  11. text of 109 KB JSON, wants "200000" + binary 5000 + small -> 3 messages (182 KB text, ...)
  12. five small texts, each wanting a small text
  13. text {"op":"bye"}                            -> small text
  14. close 4000 "client: done, 再见 ✓"           -> close 1000 "server: goodbye ✓"
(Sizes asked for are targets of wsdeflate.Content.bulk, which comes out about 10 % smaller.) The
JSON texts share phrases, users and field names, so with context takeover the later ones
compress better than the first.
"""

import argparse
import asyncio
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peerlib  # noqa: E402
import wsdeflate  # noqa: E402
import aiohttp  # noqa: E402
from aiohttp import WSMsgType  # noqa: E402

CLOSE = (4000, "client: done, 再见 ✓")
NON_ASCII = "你好，世界！这是一条带表情的消息 \U0001F600 — naïve café, Zoë ✓"
TIMEOUT = 20


def offer_no_context_takeover():
    """Make aiohttp's client offer both no-context-takeover parameters."""
    import aiohttp.client as client_module

    orig = client_module.ws_ext_gen

    def ws_ext_gen(*args, **kwargs):
        return orig(*args, **kwargs) + "; server_no_context_takeover; client_no_context_takeover"

    client_module.ws_ext_gen = ws_ext_gen


def steps(content):
    """[(kind, payload, replies)]; replies: how many data messages the server sends back."""
    s = [("text", content.small("hello", client="deflate_client.py"), 1),
         ("text", content.bulk("upload", 60000, want=[["text", 100000], ["text", 0]]), 2),
         ("text", content.small("chat", want=[["text", 0]]), 1),
         ("ping", b"client-ping-1", 0),
         ("text", content.bulk("upload", 180000, want=[["text", 150000], ["text", 0]]), 2),
         ("binary", content.blob(6000), 1),
         ("binary", content.blob(40), 1),
         ("text", NON_ASCII, 1),
         ("text", "", 1),
         ("text", content.small("chat", want=[["text", 0]]), 1),
         ("text", content.bulk("upload", 120000, want=[["text", 200000], ["binary", 5000],
                                                      ["text", 0]]), 3)]
    for _ in range(5):
        s.append(("text", content.small("chat", want=[["text", 0]]), 1))
    s.append(("text", content.small("bye"), 1))
    return s


async def run(args):
    log = wsdeflate.Log(args.log, "client")
    content = wsdeflate.Content(args.seed)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(args.url, compress=15, autoping=False, autoclose=False,
                                      max_msg_size=16 * 1024 * 1024)
        response = getattr(ws, "_response", None)
        answer = response.headers.get("Sec-WebSocket-Extensions", "") if response is not None else ""
        offered = response.request_info.headers.get("Sec-WebSocket-Extensions", "") if response is not None else ""
        log.handshake(offered=offered, extensions=answer,
                      contextTakeover={"client": not ws.client_notakeover,
                                       "server": "server_no_context_takeover" not in answer})
        if not ws.compress:
            raise SystemExit("deflate_client: the server did not accept permessage-deflate (%r)" % answer)

        async def receive_data(n):
            """Receive until n data messages (text/binary) arrived, answering pings on the way."""
            while n > 0:
                msg = await ws.receive(timeout=TIMEOUT)
                if msg.type == WSMsgType.TEXT:
                    log.message("recv", "text", msg.data)
                    n -= 1
                elif msg.type == WSMsgType.BINARY:
                    log.message("recv", "binary", msg.data)
                    n -= 1
                elif msg.type == WSMsgType.PING:
                    log.message("recv", "ping", msg.data)
                    log.message("send", "pong", msg.data)
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    log.message("recv", "pong", msg.data)
                else:
                    raise SystemExit("deflate_client: unexpected %s (%r)" % (msg.type, msg.data))

        for kind, payload, replies in steps(content):
            if kind == "text":
                log.message("send", "text", payload)
                await ws.send_str(payload)
            elif kind == "binary":
                log.message("send", "binary", payload)
                await ws.send_bytes(payload)
            else:  # ping: a pong, then the server's own ping, which we answer
                log.message("send", "ping", payload)
                await ws.ping(payload)
                got = []
                while len(got) < 2:
                    msg = await ws.receive(timeout=TIMEOUT)
                    if msg.type not in (WSMsgType.PING, WSMsgType.PONG):
                        raise SystemExit("deflate_client: expected ping/pong, got %s" % msg.type)
                    log.message("recv", "pong" if msg.type == WSMsgType.PONG else "ping", msg.data)
                    got.append(msg.type)
                    if msg.type == WSMsgType.PING:
                        log.message("send", "pong", msg.data)
                        await ws.pong(msg.data)
            await receive_data(replies)

        # close with code and reason; the server answers with its own close and ends the TCP
        # connection. (ws.close() would read and drop the answer's reason, hence send_frame.)
        log.message("send", "close", code=CLOSE[0], reason=CLOSE[1])
        await ws.send_frame(struct.pack("!H", CLOSE[0]) + CLOSE[1].encode("utf-8"), WSMsgType.CLOSE)
        msg = await ws.receive(timeout=TIMEOUT)
        if msg.type != WSMsgType.CLOSE:
            raise SystemExit("deflate_client: expected the server's close, got %s" % msg.type)
        log.message("recv", "close", code=msg.data, reason=msg.extra)
    log.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="ws://127.0.0.1:9092/ws")
    p.add_argument("--seed", type=int, default=1, help="seed of everything the client sends")
    p.add_argument("--rcvbuf", type=int, default=4096, help="SO_RCVBUF for the client's socket (0: leave)")
    p.add_argument("--no-context-takeover", action="store_true",
                   help="offer server_no_context_takeover and client_no_context_takeover")
    p.add_argument("--log", required=True, help="JSONL message log to write")
    args = p.parse_args()
    if args.rcvbuf:
        peerlib.limit_receive_buffer(args.rcvbuf)
    if args.no_context_takeover:
        offer_no_context_takeover()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
