#!/usr/bin/env python3
"""The client of the ImMessage rules capture (python-socketio 5.x threaded Client, websocket only).

  .venv/eio4/bin/python Captures/peers/rules_client.py --url http://127.0.0.1:9092 --log client.jsonl

Against rules_server.py. Two sessions, one after the other, each one websocket connection on "/":
  1. u1 "Alice" -> u2: rules_script.upstream(): well-formed ImMessages of many types and ones that break
     each rule of the ImMessage layer (some several times, some several at once), as `chat` and a few
     `chatroom` events, each with an ack asked for and waited on, 20 ms apart; then `rules` {seed}, on
     which the server sends its own series (rules_script.downstream(): well-formed downstream types, a
     ready-ack 1 sent the wrong way, ...), waited on; then a pause so that a ping or two fall in the
     middle; then disconnect.
  2. u5 "Erin" -> u6: rules_script.session2(): a few more, on a second connection.
Every emit of a scripted ImMessage is logged with the rules it is meant to break (rules_script.py:
label, schema, expect, expectBySchema, why); the rest of the log is imlog's format.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import client as base  # noqa: E402
import imlog  # noqa: E402
import rules_script  # noqa: E402
import socketio  # noqa: E402

GAP = 0.02


def run_session(log, args, number, me, me_name, peer, peer_name, make_cases, server_series=False):
    script, inbox, sio = base.new_session(log, args.seed, number, (me, me_name, peer, peer_name))
    base.to_inbox(sio, inbox, ("connect", "/"), ("chat", "/"), ("chatroom", "/"))

    def acked(name):
        return lambda *a: inbox.put("ack", "/", name, a)

    sio.connect(args.url, transports=["websocket"], namespaces=["/"], wait_timeout=base.TIMEOUT)
    inbox.wait_for(lambda it: it[:2] == ("connect", "/"), "connect")

    for case in make_cases(script):
        log.expect(case)
        sio.emit(case.event, case.arg, callback=acked(case.label))
        inbox.wait_for(lambda it, c=case: it[:3] == ("ack", "/", c.label), "ack of " + case.label)
        time.sleep(GAP)

    if server_series:
        series = rules_script.downstream(rules_script.server_script(args.seed))
        sio.emit("rules", {"seed": args.seed}, callback=acked("rules"))
        for case in series:
            inbox.wait_for(lambda it, c=case: it[:2] == (c.event, "/") and it[2] == c.arg, "server's " + case.label)
        inbox.wait_for(lambda it: it[:3] == ("ack", "/", "rules"), "rules ack")
        time.sleep(args.pause)

    sio.disconnect()
    time.sleep(0.3)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:9092")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--rcvbuf", type=int, default=0, help="SO_RCVBUF for the client's TCP sockets (0: leave)")
    p.add_argument("--pause", type=float, default=1.2,
                   help="seconds to stay connected after the server's series (pings fall in it)")
    p.add_argument("--log", required=True, help="JSONL event log to write")
    args = p.parse_args()
    if imlog.EIO != 4:
        p.error("rules_client.py runs under python-socketio 5.x (.venv/eio4)")
    if args.rcvbuf:
        base.limit_receive_buffer(args.rcvbuf)
    log = rules_script.make_log(args.log, "client")
    imlog.install_hooks(log, socketio.Client)
    print("rules_client: python-socketio %s, python-engineio %s (Engine.IO %d) -> %s"
          % (imlog.SOCKETIO_VERSION, imlog.ENGINEIO_VERSION, imlog.EIO, args.url), file=sys.stderr, flush=True)
    run_session(log, args, 1, "u1", "Alice", "u2", "Bob", rules_script.upstream, server_series=True)
    run_session(log, args, 2, "u5", "Erin", "u6", "Frank", rules_script.session2)
    log.close()


if __name__ == "__main__":
    main()
