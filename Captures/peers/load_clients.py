#!/usr/bin/env python3
"""Load driver: N copies of every client of an imscope replay script, as real python-socketio clients.

The python-socketio counterpart of `imscope replay SCRIPT --server URL --copies N`, for comparing the load
imscope drives with the same load driven by python-socketio 5.x (Engine.IO 4) clients. One process, one asyncio
loop, one socketio.AsyncClient per copy of each recorded client, websocket transport only:

  .venv/eio4/bin/python Captures/peers/load_clients.py SCRIPT --server http://127.0.0.1:PORT --copies N
                        [--ramp S] [--speed X] [--timeout S]

SCRIPT is what `imscope export CAPTURE -o SCRIPT` writes (Docs/replay-script.md). What each copy does:
  users     copy k (1..N) renames every recorded user id u (the clients' `user` fields) to `u-k`, and every
            msgId the clients send (the `msgId` of the objects in an EVENT's data) to a per-copy id: a UUID
            keeps its first 20 hex digits and gets ((its last 48 bits + k) mod 2^48) as its last 12; any other
            id becomes `{msgId}-{k}`. Every JSON string (event data, CONNECT auth) exactly equal to a user id or
            a client msgId is replaced, and so is every query value exactly equal to a user id: imscope's rules.
  timing    a copy-client connects at run start + (client `start` + (k-1)*ramp/N) / speed, and takes each step
            at its start + `at` / speed, but not before its cause (`after`, the index # into the client's
            `expected`) has come: approximated as "this client has received at least after+1 server messages
            of its own copy" (connect, events and acks; a message naming another copy's user does not count,
            see below) or --timeout seconds have passed (then it sends anyway and notes an error). A message
            that can be told apart (the connect, the ack to ackId N, an event carrying a client msgId) moves
            the count up to its recorded position + 1 at least, so that one message the server did not send
            this time (a presence notice lost because the peer came online first) does not stall the rest.
            An EVENT is emitted with an ack callback when the step has an ackId; DISCONNECT / `disconnect` end
            the session.
            A client whose script does not end its session disconnects once it has received as many of its
            own copy's messages as the script expects (or after --timeout).
  crossCopy a server event whose data holds a string equal to another copy's user id (`u-j`, j != k) is
            counted as cross-copy (the bundled IM server's presence notices go to every online user, so with
            overlapping copies most of what a client receives is cross-copy).

What it measures, printed as ONE JSON object on stdout at the end (ms as floats; percentiles by nearest rank
over the sorted samples):
  sent       events emitted;  received  server events + acks (connects not included; `connects` has them)
  crossCopy  received events naming another copy's user;  connected  most copy-clients connected at once
  seconds    wall time from the run start to the last client's end (sentPerSecond, receivedPerSecond)
  latency.reply     emit of an event with an ack -> its ack, per event
  latency.delivery  a client emits msgId X -> another client of the same copy receives an event whose first
                    argument has msgId X, per delivery
  sendLag    actual emit time - scheduled time (start + at), per event (includes waiting for causes)
  sendError  actual emit time - due time (the later of the scheduled time and the moment the causes had come)
  packets    what imscope's load summary counts: sent = every Socket.IO/Engine.IO packet of the steps (namespace
             CONNECTs, events, DISCONNECTs, the Engine.IO close), received = events + acks + CONNECT answers
  causeTimeouts  steps sent after --timeout without their cause;  gaveUp  copy-clients abandoned (their whole
             run outlived the recorded span + --timeout per step + 2 more)
  cpuSeconds this process's user+sys CPU seconds;  errors  the first error of each kind (errorCount: all of
             them; errorKinds: how many of each kind, digits as N)
SIGUSR1 prints every pending asyncio task's stack on stderr.

Limits seen against the bundled IM server (which tells every online user about every user who comes online,
goes offline or sends its ready: traffic grows with the square of the users online at once): at 500 copies with
a 10 s ramp the server (one python process) saturates, namespace CONNECTs go unanswered for over a minute
("connect: ConnectionError: Unexpected connection error" is python-socketio's word for that), and python-engineio's
client ends its write loop after max(ping interval, ping timeout) + 5 s with nothing to send ("packet queue is
empty, aborting", 30 s with the server's defaults), after which that client can no longer send.
Exit status 0 (also with errors: they are in the JSON), 2 when the script cannot be read.
"""

import argparse
import asyncio
import base64
import json
import logging
import math
import re
import resource
import signal
import sys
import time
from urllib.parse import urlencode

import socketio

UUID = re.compile(r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-)([0-9a-fA-F]{12})$")
MAX_ERRORS = 10


def renamed_msg_id(msg_id, k):
    m = UUID.match(msg_id)
    if m:
        return m.group(1) + "%012x" % ((int(m.group(2), 16) + k) % (1 << 48))
    return "%s-%d" % (msg_id, k)


def rename(value, table):
    """`value` (JSON) with every string found in `table` replaced by its entry."""
    if isinstance(value, str):
        return table.get(value, value)
    if isinstance(value, list):
        return [rename(v, table) for v in value]
    if isinstance(value, dict):
        return {key: rename(v, table) for key, v in value.items()}
    return value


def strings(value):
    """Every string value inside a JSON value (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)


def first_msg_id(args):
    if args and isinstance(args[0], dict):
        m = args[0].get("msgId")
        if isinstance(m, str):
            return m
    return None


def percentiles(samples, qs):
    """{"count", name: value...} by nearest rank over the sorted samples (ms, 3 decimals); None when empty."""
    s = sorted(samples)
    out = {"count": len(s)}
    for name, q in qs:
        out[name] = round(s[max(0, math.ceil(q * len(s)) - 1)], 3) if s else None
    out["max"] = round(s[-1], 3) if s else None
    return out


LATENCY_QS = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p99.9", 0.999))
LAG_QS = (("p50", 0.50), ("p99", 0.99))


def with_attachments(data, attachments):
    """A BINARY_EVENT's data with its {"_placeholder": true, "num": i} objects replaced by the bytes."""
    if isinstance(data, dict) and data.get("_placeholder") is True and isinstance(data.get("num"), int):
        return attachments[data["num"]]
    if isinstance(data, list):
        return [with_attachments(v, attachments) for v in data]
    if isinstance(data, dict):
        return {key: with_attachments(v, attachments) for key, v in data.items()}
    return data


class Run:
    """Counters and samples shared by every copy-client of the run."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.sent = self.received = self.connects = self.cross = 0
        self.packets_sent = 0  # Socket.IO/Engine.IO packets: CONNECTs, events, DISCONNECTs, the Engine.IO close
        self.connected = self.max_connected = 0
        self.reply, self.delivery, self.lag, self.error_ms = [], [], [], []
        self.errors, self.error_count, self.error_kinds = [], 0, {}
        self.cause_timeouts = self.gave_up = 0
        self.sent_at = {}  # renamed msgId -> (copy, client name, monotonic time of the emit)
        self.copy_of_user = {}  # renamed user id -> copy

    def error(self, text):
        """Count an error; keep the first of each kind (the text without client names and numbers)."""
        self.error_count += 1
        kind = re.sub(r"\d+(\.\d+)?", "N", text)
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
        if self.error_kinds[kind] == 1 and len(self.errors) < MAX_ERRORS:
            self.errors.append(text)


class CopyClient:
    """Copy k of one recorded client: its renamed steps, its socketio.AsyncClient, its causal counter."""

    def __init__(self, run, client, k, table, users, start_at, speed):
        self.run, self.k, self.table, self.speed = run, k, table, speed
        self.name = "%s-%d" % (client.get("name") or client.get("user") or "client", k)
        self.start_at = start_at  # monotonic
        self.path = (client.get("path") or "/socket.io/").strip("/") or "socket.io"
        self.query = [(n, "%s-%d" % (v, k) if v in users else v) for n, v in client.get("query") or []]
        self.headers = {n: v for n, v in client.get("headers") or [] if n.lower() not in ("host", "connection")}
        self.steps = client.get("steps") or []
        self.expected = len(client.get("expected") or [])
        self.namespaces, self.auth = [], None
        for step in self.steps:
            send = step.get("send") or {}
            if send.get("type") == "CONNECT":
                ns = send.get("namespace") or "/"
                if ns not in self.namespaces:
                    self.namespaces.append(ns)
                if self.auth is None and send.get("data") not in (None, {}):
                    self.auth = rename(send.get("data"), table)
        if not self.namespaces:
            self.namespaces = ["/"]
        self.count = 0  # own-copy server messages received (connects, events, acks), see _got
        # recorded positions (#) of the messages that can be told apart: the ack to ackId N, the event carrying
        # a client msgId (by its copy-k value), the connect
        self.ack_pos, self.msg_pos, self.connect_pos = {}, {}, None
        for e in client.get("expected") or []:
            pos, kind = e.get("#"), e.get("kind")
            if not isinstance(pos, int):
                continue
            if kind == "ack" and e.get("ackId") is not None:
                self.ack_pos.setdefault(e["ackId"], pos)
            elif kind == "connect" and self.connect_pos is None:
                self.connect_pos = pos
            elif kind == "event":
                m = first_msg_id(e.get("args") or [])
                if m in table:
                    self.msg_pos.setdefault(table[m], pos)
        self.waiters = []  # (threshold, future)
        self.is_connected = False
        # request_timeout: the Engine.IO handshake (aiohttp's) waits as long as the namespace CONNECT does
        self.sio = socketio.AsyncClient(reconnection=False, request_timeout=run.timeout)
        for ns in self.namespaces:
            self.sio.on("connect", self._on_connect, namespace=ns)
            self.sio.on("disconnect", self._on_disconnect, namespace=ns)
            self.sio.on("*", self._on_event, namespace=ns)

    # -- what comes from the server

    def _got(self, own=True, pos=None):
        """One more own-copy message; one the recording has at position `pos` (#) moves the count up to pos+1 at
        least, so that a message the server did not send this time (e.g. a presence notice lost to reordering:
        the peer was online first) does not hold every later step for --timeout."""
        if not own:
            return
        self.count = max(self.count + 1, pos + 1 if pos is not None else 0)
        if self.waiters:
            keep = []
            for threshold, fut in self.waiters:
                if self.count >= threshold:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    keep.append((threshold, fut))
            self.waiters = keep

    async def _on_connect(self, *args):
        run = self.run
        run.connects += 1
        run.packets_sent += 1  # the namespace CONNECT this answers
        if not self.is_connected:
            self.is_connected = True
            run.connected += 1
            run.max_connected = max(run.max_connected, run.connected)
        self._got(pos=self.connect_pos)

    async def _on_disconnect(self, *args):
        if self.is_connected:
            self.is_connected = False
            self.run.connected -= 1

    async def _on_event(self, event, *args):
        now = time.monotonic()
        run = self.run
        run.received += 1
        cross = False
        for s in strings(list(args)):
            j = run.copy_of_user.get(s)
            if j is not None and j != self.k:
                cross = True
                break
        msg_id = None
        if cross:
            run.cross += 1
        else:
            msg_id = first_msg_id(args)
            sent = run.sent_at.get(msg_id) if msg_id else None
            if sent and sent[0] == self.k and sent[1] != self.name:
                run.delivery.append((now - sent[2]) * 1000)
        self._got(not cross, self.msg_pos.get(msg_id) if msg_id else None)

    def _on_ack(self, emitted, ack_id):
        def ack(*args):
            self.run.received += 1
            self.run.reply.append((time.monotonic() - emitted) * 1000)
            self._got(pos=self.ack_pos.get(ack_id))
        return ack

    # -- what the client does

    async def _cause(self, after):
        if after is None or self.count >= after + 1:
            return
        fut = asyncio.get_running_loop().create_future()
        self.waiters.append((after + 1, fut))
        try:
            await asyncio.wait_for(fut, self.run.timeout)
        except asyncio.TimeoutError:
            self.run.cause_timeouts += 1
            self.run.error("%s: cause #%d not received within %gs (had %d messages)"
                           % (self.name, after, self.run.timeout, self.count))

    async def _sleep_until(self, t):
        delay = t - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _disconnect(self):
        if self.sio.connected:
            self.run.packets_sent += len(self.sio.namespaces) + 1  # a DISCONNECT each, then the close
        await self.sio.disconnect()

    async def guarded(self, url):
        """main(), given up (an error; the connection aborted) when it outlives its budget: the recorded span,
        plus --timeout per step and two more (the connect, the end)."""
        last = max([s.get("at") or 0 for s in self.steps] or [0]) / self.speed
        budget = self.start_at - time.monotonic() + last + self.run.timeout * (len(self.steps) + 2)
        try:
            await asyncio.wait_for(self.main(url), budget)
        except asyncio.TimeoutError:
            self.run.gave_up += 1
            self.run.error("%s: gave up after %.1fs (count %d)" % (self.name, time.monotonic() - self.start_at,
                                                                  self.count))
            try:
                await asyncio.wait_for(self.sio.eio.disconnect(abort=True), 5)
            except Exception:  # noqa: BLE001
                pass
            if self.is_connected:
                self.is_connected = False
                self.run.connected -= 1

    async def main(self, url):
        run = self.run
        await self._sleep_until(self.start_at)
        target = url + ("?" + urlencode(self.query) if self.query else "")
        try:
            await self.sio.connect(target, headers=self.headers, auth=self.auth, transports=["websocket"],
                                   namespaces=self.namespaces, socketio_path=self.path,
                                   wait_timeout=run.timeout)
        except Exception as e:  # noqa: BLE001 - any failure is a measured error
            # python-socketio says "Unexpected connection error" when the namespace CONNECT is not answered
            # within wait_timeout
            run.error("%s: connect: %s: %s (after %.1fs)" % (self.name, type(e).__name__, e,
                                                            time.monotonic() - self.start_at))
            return
        ended = False
        for step in self.steps:
            send = step.get("send") or {}
            kind = send.get("type")
            if kind == "CONNECT":
                continue  # done by connect()
            if ended:
                break  # after the DISCONNECT: only the Engine.IO close, which disconnect() sent
            scheduled = self.start_at + (step.get("at") or 0) / self.speed
            # causes first, then the recorded time: the step is due at the later of the two, and how late it goes
            # out after that is the driver's own error (as imscope measures its sendError)
            await self._cause(step.get("after"))
            due = max(scheduled, time.monotonic())
            await self._sleep_until(scheduled)
            if step.get("disconnect") or kind == "DISCONNECT":
                if not ended:
                    ended = True
                    await self._disconnect()
                continue
            if kind not in ("EVENT", "BINARY_EVENT"):
                continue  # ACKs to the server's requests: python-socketio answers them itself
            data = send.get("data")
            if not isinstance(data, list) or not data or not isinstance(data[0], str):
                run.error("%s: step at %s: event data is not [name, ...]" % (self.name, step.get("at")))
                continue
            data = rename(data, self.table)
            if kind == "BINARY_EVENT":
                data = with_attachments(data, [base64.b64decode(a) for a in send.get("attachments") or []])
            event, args = data[0], data[1:]
            now = time.monotonic()
            run.lag.append((now - scheduled) * 1000)
            run.error_ms.append((now - due) * 1000)
            msg_id = first_msg_id(args)
            if msg_id:
                run.sent_at[msg_id] = (self.k, self.name, now)
            try:
                ack = self._on_ack(now, send["ackId"]) if send.get("ackId") is not None else None
                await self.sio.emit(event, tuple(args), namespace=send.get("namespace") or "/", callback=ack)
                run.sent += 1
                run.packets_sent += 1
            except Exception as e:  # noqa: BLE001
                run.error("%s: emit %s: %s: %s" % (self.name, event, type(e).__name__, e))
        if not ended:
            await self._cause(self.expected - 1 if self.expected else None)
            await self._disconnect()
        # (no sio.wait(): disconnect() has awaited the read loop already, and wait() sleeps 1 s more)


class ErrorLog(logging.Handler):
    """python-engineio/python-socketio's own error logs (e.g. "packet queue is empty, aborting": a client's write
    loop gave up after ping interval + ping timeout + 5 s with nothing to send) become errors of the run."""

    def __init__(self, run):
        super().__init__(logging.WARNING)
        self.run = run

    def emit(self, record):
        if record.getMessage().startswith("Server sent close packet"):
            return  # the server's close racing the client's own disconnect: not an error
        self.run.error("%s: %s" % (record.name, record.getMessage()))


def load_script(path):
    try:
        with open(path) as f:
            script = json.load(f)
    except (OSError, ValueError) as e:
        sys.stderr.write("load_clients: %s: %s\n" % (path, e))
        sys.exit(2)
    if not isinstance(script, dict) or not isinstance(script.get("clients"), list):
        sys.stderr.write("load_clients: %s: not an imscope replay script (no clients)\n" % path)
        sys.exit(2)
    return script


def tables(script, k):
    """Copy k's rename table: recorded user ids and client msgIds -> their copy-k values."""
    users = [c["user"] for c in script["clients"] if isinstance(c.get("user"), str)]
    msg_ids = []
    for c in script["clients"]:
        for step in c.get("steps") or []:
            send = step.get("send") or {}
            if send.get("type") in ("EVENT", "BINARY_EVENT") and isinstance(send.get("data"), list):
                for arg in send["data"][1:]:
                    if isinstance(arg, dict) and isinstance(arg.get("msgId"), str):
                        msg_ids.append(arg["msgId"])
    table = {m: renamed_msg_id(m, k) for m in msg_ids}
    table.update({u: "%s-%d" % (u, k) for u in users})
    return table, users


def socketio_version():
    try:
        from importlib.metadata import version
        return version("python-socketio")
    except Exception:  # noqa: BLE001
        return "5.x"


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


def dump_tasks(*_):
    """SIGUSR1: every pending task's stack on stderr (what a run that does not end waits for)."""
    for task in asyncio.all_tasks():
        task.print_stack(limit=6, file=sys.stderr)


async def main_async(args, script):
    run = Run(args.timeout)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)
    for name in ("engineio.client", "socketio.client"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)  # before the first client: it would add a stderr handler otherwise
        logger.addHandler(ErrorLog(run))
        logger.propagate = False
    clients = script["clients"]
    first = min((c.get("start") or 0) for c in clients) if clients else 0
    origin = time.monotonic() + 0.2  # time to build the clients
    copies = []
    for k in range(1, args.copies + 1):
        table, users = tables(script, k)
        for u in users:
            run.copy_of_user[table[u]] = k
        offset = (k - 1) * args.ramp / args.copies
        for c in clients:
            start = origin + offset + ((c.get("start") or 0) - first) / args.speed
            copies.append(CopyClient(run, c, k, table, frozenset(users), start, args.speed))
    await asyncio.sleep(max(0.0, origin - time.monotonic()))
    began = time.monotonic()
    results = await asyncio.gather(*(c.guarded(args.server) for c in copies), return_exceptions=True)
    seconds = time.monotonic() - began
    for r in results:
        if isinstance(r, BaseException):
            run.error("client: %s: %s" % (type(r).__name__, r))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "tool": "python-socketio %s" % socketio_version(),
        "copies": args.copies, "clients": len(copies), "connected": run.max_connected,
        "sent": run.sent, "received": run.received, "crossCopy": run.cross, "connects": run.connects,
        "packets": {"sent": run.packets_sent, "received": run.received + run.connects},
        "seconds": round(seconds, 3),
        "sentPerSecond": round(run.sent / seconds, 1) if seconds else None,
        "receivedPerSecond": round(run.received / seconds, 1) if seconds else None,
        "latency": {"reply": percentiles(run.reply, LATENCY_QS), "delivery": percentiles(run.delivery, LATENCY_QS)},
        "sendLag": percentiles(run.lag, LAG_QS),
        "sendError": percentiles(run.error_ms, LAG_QS),
        "causeTimeouts": run.cause_timeouts, "gaveUp": run.gave_up,
        "cpuSeconds": round(ru.ru_utime + ru.ru_stime, 3),
        "errorCount": run.error_count, "errors": run.errors,
        "errorKinds": dict(sorted(run.error_kinds.items(), key=lambda kv: -kv[1])),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("script", help="an imscope replay script (imscope export CAPTURE -o SCRIPT)")
    p.add_argument("--server", required=True, help="the server, http://host:port")
    p.add_argument("--copies", type=int, default=1, help="copies of every recorded client (default 1)")
    p.add_argument("--ramp", type=float, default=0.0, help="copy k starts (k-1)*RAMP/N seconds later (default 0)")
    p.add_argument("--speed", type=float, default=1.0, help="play the recorded offsets this many times faster")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a connect or a step's cause")
    args = p.parse_args()
    if args.copies < 1 or args.speed <= 0 or args.ramp < 0 or args.timeout <= 0:
        p.error("--copies >= 1, --speed > 0, --ramp >= 0, --timeout > 0")
    script = load_script(args.script)
    raise_fd_limit()
    result = asyncio.run(main_async(args, script))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
