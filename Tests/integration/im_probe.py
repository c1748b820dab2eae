#!/usr/bin/env python3
"""Real python-socketio clients (socketio.Client, 5.x or 4.6.1: run it with either venv's python) driven by
a list of steps read as JSON from stdin; prints what they saw as JSON on stdout.

  echo '[{"as": "u1", "do": "connect"}, ...]' | .venv/eio3/bin/python im_probe.py --url http://127.0.0.1:9092

Steps (each a JSON object; "as" names the user, who connects with ?userId=<as>):
  {"as": "u1", "do": "connect"}                         optional "transports": ["polling", "websocket"];
                                                        "auth": true sends auth={"userId": "u1"} (5.x only)
  {"as": "u1", "do": "emit", "event": "chat", "msg": {..}, "ack": true}   ack: wait (5 s) for the ack;
                                                        optional "extra": [arg, ...] more arguments after msg,
                                                        {"_binary": "<base64>"} standing for bytes (binary
                                                        attachments, a Socket.IO BINARY_EVENT)
  {"as": "u1", "do": "wait", "count": N, "timeout": 5}  until u1 has received N events in all
  {"do": "sleep", "s": 0.3}
  {"as": "u1", "do": "disconnect"}                      optional "background": true: disconnect() in a thread and
                                                        go on at once (python-engineio 4's polling client waits
                                                        in disconnect() for its pending GET, which the server
                                                        leaves open after CLOSE: 30 s until the client's request
                                                        timeout); such a GET is cut when the probe exits
Output (bytes received, in events or acks, written as {"_binary": "<base64>"}): {"received": {"u1": [[event, arg, ...], ...]}, "acks": {"<step index>": [ack args] or "timeout"},
         "transports": {"u1": "websocket" | "polling"}, "waits": {"<step index>": true | false}}
--insecure: TLS without certificate checks (a self-signed test server). Every client still connected at the end is disconnected.
"""

import argparse
import base64
import json
import sys
import threading
import time

import socketio

EVENTS = ("chat", "chatroom")


def from_json(value):
    """A step's argument: {"_binary": base64} -> bytes, recursively."""
    if isinstance(value, dict):
        if set(value) == {"_binary"}:
            return base64.b64decode(value["_binary"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def to_json(value):
    """What a client received, for the output: bytes -> {"_binary": base64}, recursively."""
    if isinstance(value, (bytes, bytearray)):
        return {"_binary": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--namespace", default="/")
    p.add_argument("--transports", default="websocket", help="comma-separated, e.g. polling,websocket")
    p.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    args = p.parse_args()
    steps = json.load(sys.stdin)
    ns = args.namespace
    clients, received, out = {}, {}, {"acks": {}, "transports": {}, "waits": {}}
    connected = {}  # user -> threading.Event set by the namespace's connect handler

    def client_for(user):
        if user not in clients:
            sio = socketio.Client(reconnection=False, ssl_verify=not args.insecure)
            got = received.setdefault(user, [])
            for event in EVENTS:
                sio.on(event, (lambda e: lambda *a: got.append([e] + list(a)))(event), namespace=ns)
            connected[user] = threading.Event()
            sio.on("connect", connected[user].set, namespace=ns)
            clients[user] = sio
        return clients[user]

    try:
        for i, step in enumerate(steps):
            do, user = step["do"], step.get("as")
            if do == "connect":
                sio = client_for(user)
                transports = step.get("transports") or args.transports.split(",")
                if step.get("auth"):  # the user in the auth dict (Engine.IO 4 clients), not in the query
                    sio.connect(args.url, transports=transports, namespaces=[ns], auth={"userId": user})
                else:
                    sep = "&" if "?" in args.url else "?"
                    sio.connect(args.url + sep + "userId=" + user, transports=transports, namespaces=[ns])
                # 4.6.1's connect() returns before the namespace's CONNECT: wait for it (the server
                # registers the user, and sends presence notices, before it answers CONNECT)
                if not connected[user].wait(5):
                    raise SystemExit("im_probe: %s: no CONNECT for namespace %s within 5 s" % (user, ns))
                if "polling" in transports and len(transports) > 1:  # let the upgrade happen
                    deadline = time.monotonic() + 3
                    while sio.transport() != "websocket" and time.monotonic() < deadline:
                        time.sleep(0.02)
                out["transports"][user] = sio.transport()
            elif do == "emit":
                sio = client_for(user)
                extra = [from_json(a) for a in step.get("extra", [])]
                data = tuple([step["msg"]] + extra) if extra else step["msg"]
                if step.get("ack"):
                    try:
                        res = sio.call(step.get("event", "chat"), data, namespace=ns, timeout=step.get("timeout", 5))
                        out["acks"][str(i)] = to_json(list(res) if isinstance(res, tuple) else [res])
                    except socketio.exceptions.TimeoutError:
                        out["acks"][str(i)] = "timeout"
                else:
                    sio.emit(step.get("event", "chat"), data, namespace=ns)
            elif do == "wait":
                got = received.setdefault(user, [])
                deadline = time.monotonic() + step.get("timeout", 5)
                while len(got) < step["count"] and time.monotonic() < deadline:
                    time.sleep(0.01)
                out["waits"][str(i)] = len(got) >= step["count"]
            elif do == "sleep":
                time.sleep(step["s"])
            elif do == "disconnect":
                sio = clients.pop(user)
                if step.get("background"):
                    threading.Thread(target=sio.disconnect, daemon=True).start()
                else:
                    sio.disconnect()
            else:
                raise SystemExit("im_probe: unknown step %r" % step)
    finally:
        for sio in clients.values():
            try:
                sio.disconnect()
            except Exception:
                pass
    out["received"] = to_json(received)
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
