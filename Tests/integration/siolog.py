"""Helpers for test_sio.py: imscope's Engine.IO/Socket.IO records against the peers' own logs.

Three sources meet here:
  - imscope: `imscope read FILE --layer sio --format jsonl` (eio, sio, ws, diagnostic records);
  - the peers' logs NAME.client.jsonl / NAME.server.jsonl (Captures/peers/imlog.py): every event
    and ack each side emitted or received, with its namespace, arguments and ack id;
  - the wire (wire_packets): the Engine.IO packets as tshark's HTTP and WebSocket dissectors see
    them, or for a connection without handshake a frame walk over tshark's Follow-TCP-Stream
    bytes. The logs say nothing about CONNECT, DISCONNECT, open, ping or pong, so those are
    checked against the wire, which is independent of imscope. tshark mangles non-ASCII text in
    these fields, so it is only asked about packet types, namespaces, ASCII data (sids, "probe"),
    counts and frames, never about event arguments (those come from the logs).

Every check returns a list of problems as text (empty: fine), one line per difference, naming
the capture, the session, the direction, the event and what each side says.

`python3 siolog.py CAPTURE [--wire]` runs checks 1-3 and 6 on one capture and prints the
problems (--wire: also the wire's Engine.IO packets); IMSCOPE picks the binary.
"""

import base64
import collections
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

SERVER_PORT = 9092
EVENT_TYPES = ("EVENT", "BINARY_EVENT")
ACK_TYPES = ("ACK", "BINARY_ACK")
CONTROL_TYPES = ("CONNECT", "DISCONNECT", "CONNECT_ERROR")
SIO_TYPE_NAMES = {"0": "CONNECT", "1": "DISCONNECT", "2": "EVENT", "3": "ACK", "4": "CONNECT_ERROR",
                  "5": "BINARY_EVENT", "6": "BINARY_ACK"}
EIO_TYPE_NAMES = {"0": "open", "1": "close", "2": "ping", "3": "pong", "4": "message", "5": "upgrade", "6": "noop"}

# client log action -> (direction, group); the server log is the mirror image
CLIENT_ACTIONS = {"emit": ("c2s", "event"), "recv": ("s2c", "event"), "ack_sent": ("c2s", "ack"),
                  "ack_recv": ("s2c", "ack")}
SERVER_ACTIONS = {"emit": ("s2c", "event"), "recv": ("c2s", "event"), "ack_sent": ("s2c", "ack"),
                  "ack_recv": ("c2s", "ack")}
SENT_ACTIONS = ("emit", "ack_sent")  # logged just before the packet is written (imlog.py: Packet.encode)

# Which log entries a capture can hold.
#
# A capture holds a message when it holds the message from its first byte on, i.e. when the
# sender started writing it at or after T0, the time of the capture's first packet (and before
# T1, its last). A peer logs a packet it sends when python-socketio encodes it, just before the
# write (the mid-stream capture's first packet left 3.3 ms after the client logged it); a packet
# it receives once it has read all of it, which for a large message may be long after the first
# byte crossed T0. So every message is placed by its *sender's* log time ts (for a received entry,
# the other log's matching sent entry: the peers log both sides in the same order, see
# test_captures.py):
#   ts >= T0 (and ts <= T1 - SLACK)   in: the capture must show it;
#   ts < T0 - SLACK (or ts > T1)      out: it was on the wire before the capture started (or after
#                                     it ended), perhaps partly: the capture cannot show it whole;
#   otherwise                         undecidable from the logs (the write may have started just
#                                     before or just after T0): imscope may show it or not.
# An ACK whose request is out is expected without its request's event name (imscope cannot know
# it) and without `ack`. SLACK bounds the time from a log line to the first byte of its packet: a
# few ms on loopback, 50 ms allowed. For the committed captures but the mid-stream ones the logs
# lie well inside [T0, T1] (8 ms and more after T0), so the rule changes nothing there.
SLACK = Decimal("0.05")
IN, OUT, MAYBE = "in", "out", "maybe"


# ---------------------------------------------------------------------------------------------
# running imscope

def run_imscope(binary, *captures, extra=()):
    """Records of `imscope read CAPTURE... --layer sio --format jsonl` (numbers with a fraction as
    Decimal, so ts and latencyMs keep all their digits)."""
    cmd = [str(binary), "read"] + [str(c) for c in captures] + ["--layer", "sio", "--format", "jsonl"] + list(extra)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if p.returncode != 0:
        raise AssertionError("%s exited %d; stderr:\n%s" % (" ".join(cmd), p.returncode,
                                                            p.stderr.decode(errors="replace")[-3000:]))
    records = []
    for n, line in enumerate(p.stdout.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line, parse_float=Decimal)
        except ValueError as e:
            raise AssertionError("%s: output line %d is not JSON (%s): %r" % (captures[0], n, e, line[:300]))
        if not isinstance(rec, dict) or "kind" not in rec:
            raise AssertionError("%s: output line %d has no kind: %r" % (captures[0], n, line[:300]))
        records.append(rec)
    return records


def capture_version(path, tshark="tshark"):
    """The capture's Engine.IO version: from its file name (eio3-..., eio4-...), else from the EIO=
    parameter of its Socket.IO requests as tshark reads them (all must agree)."""
    m = re.match(r"eio([34])-", Path(path).name)
    if m:
        return int(m.group(1))
    p = subprocess.run([tshark, "-r", str(path), "-n", "-d", "tcp.port==%d,http" % SERVER_PORT, "-Y", "http.request",
                        "-T", "fields", "-e", "http.request.uri"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    versions = set(re.findall(r"[?&]EIO=(\d+)", p.stdout.decode(errors="replace")))
    if len(versions) != 1:
        raise ValueError("%s: no Engine.IO version in the file name, and EIO= values %s in its requests"
                         % (path, sorted(versions)))
    return int(versions.pop())


def log_paths(capture):
    """NAME.client.jsonl and NAME.server.jsonl next to the capture (or .jsonl.gz)."""
    capture = Path(capture)
    stem = capture.name.rsplit(".", 1)[0]
    out = []
    for side in ("client", "server"):
        p = capture.parent / ("%s.%s.jsonl" % (stem, side))
        out.append(p if p.exists() or not Path(str(p) + ".gz").exists() else Path(str(p) + ".gz"))
    return tuple(out)


def load_log(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line, parse_float=Decimal) for line in f if line.strip()]


def is_socketio_log(path):
    """Whether a peer log is in the Socket.IO format of Captures/peers/imlog.py."""
    try:
        log = load_log(path)
    except (OSError, ValueError):
        return False
    return bool(log) and all(e.get("action") in CLIENT_ACTIONS and "namespace" in e for e in log)


# ---------------------------------------------------------------------------------------------
# JSON values

def canon(value):
    """A hashable, order-independent form of a JSON value in which equal JSON values are equal:
    objects compare by key set, numbers by value (1 == 1.0, true != 1), and a binary placeholder
    {"_binary": base64} by the bytes it stands for (so padding or line breaks cannot matter)."""
    if isinstance(value, dict):
        if set(value) == {"_binary"} and isinstance(value["_binary"], str):
            try:
                return ("bin", base64.b64decode(value["_binary"], validate=True))
            except ValueError:
                return ("bad-base64", value["_binary"])
        return ("obj", tuple(sorted((k, canon(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("arr", tuple(canon(v) for v in value))
    if value is None or isinstance(value, (bool, str)):
        return (type(value).__name__, value)
    if isinstance(value, (int, float, Decimal)):
        d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        return ("num", d.normalize() if d else Decimal(0))
    raise TypeError("not a JSON value: %r" % (value,))


def count_binaries(value):
    if isinstance(value, dict):
        if set(value) == {"_binary"}:
            return 1
        return sum(count_binaries(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_binaries(v) for v in value)
    return 0


def short(value, n=160):
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= n else text[:n] + "...(%d chars)" % len(text)


def first_difference(a, b, path="args"):
    """Where two JSON values first differ, as text, or None when they are equal as JSON values."""
    if canon(a) == canon(b):
        return None
    if isinstance(a, dict) and isinstance(b, dict) and not ({"_binary"} == set(a) or {"_binary"} == set(b)):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                return "%s.%s: only the log has it (%s)" % (path, k, short(b[k], 80))
            if k not in b:
                return "%s.%s: only imscope has it (%s)" % (path, k, short(a[k], 80))
            d = first_difference(a[k], b[k], "%s.%s" % (path, k))
            if d:
                return d
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return "%s: imscope has %d elements, the log %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, "%s[%d]" % (path, i))
            if d:
                return d
    if isinstance(a, str) and isinstance(b, str):
        at = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
        return "%s: strings of %d and %d characters differ at %d: imscope %r, log %r" % (
            path, len(a), len(b), at, a[max(0, at - 20):at + 20], b[max(0, at - 20):at + 20])
    return "%s: imscope %s, log %s" % (path, short(a, 100), short(b, 100))


# ---------------------------------------------------------------------------------------------
# the timeline

def session_of(rec):
    """The Engine.IO session a record belongs to: its sid, or for records without one (a
    connection whose handshake was not captured) the connection."""
    sid = rec.get("sid")
    return sid if sid else "conn %s, no sid" % rec.get("conn")


def session_label(sess):
    return "no imscope session" if sess is None else sess if sess.startswith("conn ") else "sid " + sess


class Timeline:
    def __init__(self, records):
        self.records = records
        self.sio = [r for r in records if r.get("kind") == "sio"]
        self.eio = [r for r in records if r.get("kind") == "eio"]
        self.ws = [r for r in records if r.get("kind") == "ws"]
        self.conns = [r for r in records if r.get("kind") == "conn"]
        self.diagnostics = [r for r in records if r.get("kind") == "diagnostic"]
        # sessions in order of their first eio/sio record
        order = {}
        for r in sorted(self.eio + self.sio, key=lambda r: (r.get("ts") or 0, r.get("frame") or 0)):
            order.setdefault(session_of(r), len(order))
        self.sessions = sorted(order, key=order.get)

    def of_session(self, session, kinds=("eio", "sio")):
        return [r for r in self.records if r.get("kind") in kinds and session_of(r) == session]

    def request_for(self, ack):
        """The request records an ACK record's `ack.frame` can stand for: EVENT/BINARY_EVENT of the
        opposite direction, same namespace, ack id and session, completed by that frame."""
        want = (ack.get("ack") or {}).get("frame")
        s = ack.get("sio") or {}
        return [q for q in self.sio
                if q.get("frame") == want and (q.get("sio") or {}).get("type") in EVENT_TYPES
                and q.get("dir") != ack.get("dir") and (q.get("sio") or {}).get("nsp") == s.get("nsp")
                and (q.get("sio") or {}).get("ackId") == s.get("ackId") and session_of(q) == session_of(ack)]


def timeline_key(tl, rec):
    """(dir, namespace, group, event, args, ackId) of an EVENT or ACK record; an ACK's event is
    the one of the request its ack.frame names (None when that does not resolve)."""
    s = rec["sio"]
    if s.get("type") in EVENT_TYPES:
        return (rec.get("dir"), s.get("nsp"), "event", s.get("event"), canon_or_none(s.get("args")), s.get("ackId"))
    reqs = tl.request_for(rec)
    event = reqs[0]["sio"].get("event") if len(reqs) == 1 else None
    return (rec.get("dir"), s.get("nsp"), "ack", event, canon_or_none(s.get("args")), s.get("ackId"))


def canon_or_none(v):
    return None if v is None else canon(v)


# ---------------------------------------------------------------------------------------------
# which log entries the capture can hold

def capture_window(tl):
    """(T0, T1): the times of the capture's first and last packet, from the conn records (their
    ts are checked against tshark by test_tcp.py): an open record carries its first packet's time,
    a close record the time of the packet that closed it or of the capture's last one."""
    times = [r["ts"] for r in tl.conns if r.get("ts") is not None]
    return min(times), max(times)


# the entry of the other log that stands for the same packet
COUNTERPART = {"emit": "recv", "recv": "emit", "ack_sent": "ack_recv", "ack_recv": "ack_sent"}


class Entry:
    """One log entry with what the capture is expected to show of it."""

    def __init__(self, who, raw, actions):
        self.who, self.raw = who, raw
        self.seq, self.action, self.session = raw["seq"], raw["action"], raw.get("session")
        self.dir, self.group = actions[self.action]
        self.status = None  # IN, OUT or MAYBE
        self.sender_time = None
        self.request = None  # for an ack: the Entry of the request it answers (same log)

    def keys(self):
        """The keys imscope's record may have: an ack's event is its request's, unless the
        capture cannot hold the request."""
        r = self.raw
        base = (self.dir, r.get("namespace") or "/", self.group)
        tail = (canon(r.get("args")), r.get("ackId"))
        if self.group == "ack":
            st = self.request.status if self.request else OUT
            events = {IN: [r.get("event")], OUT: [None], MAYBE: [r.get("event"), None]}[st]
            return [base + (e,) + tail for e in events]
        return [base + (r.get("event"),) + tail]

    def describe(self):
        k = self.keys()[0]
        return "%s log seq %d (%s) %s" % (self.who, self.seq, self.action, _describe_key(k))


class LogView:
    """Both peers' logs, every entry placed by the rule above (IN, OUT, MAYBE)."""

    def __init__(self, client_log, server_log, window, wire=None):
        self.problems = []
        self.client = [Entry("client", e, CLIENT_ACTIONS) for e in client_log]
        self.server = [Entry("server", e, SERVER_ACTIONS) for e in server_log]
        t0, t1 = window
        by_action = {}
        for side in (self.client, self.server):
            for e in side:
                by_action.setdefault((e.who, e.action), []).append(e)
        for side, other in ((self.client, "server"), (self.server, "client")):
            for e in side:
                if e.action in SENT_ACTIONS:
                    e.sender_time = Decimal(str(e.raw["time"]))
                    continue
                mine = by_action[(e.who, e.action)]
                theirs = by_action.get((other, COUNTERPART[e.action]), [])
                i = mine.index(e)
                if len(mine) != len(theirs):
                    self.problems.append("the %s log has %d %s entries, the %s log %d %s: the logs disagree"
                                         % (e.who, len(mine), e.action, other, len(theirs), COUNTERPART[e.action]))
                if i < len(theirs):
                    e.sender_time = Decimal(str(theirs[i].raw["time"]))
        for e in self.client + self.server:
            ts = e.sender_time
            if ts is None:
                e.status = MAYBE
            elif t0 <= ts <= t1 - SLACK:
                e.status = IN
            elif ts < t0 - SLACK or ts > t1:
                e.status = OUT
            else:
                e.status = MAYBE
        # acks and their requests, within each log (ack ids restart per session and namespace)
        for side, request_action, ack_action in ((self.client, "emit", "ack_recv"), (self.client, "recv", "ack_sent"),
                                                 (self.server, "emit", "ack_recv"), (self.server, "recv", "ack_sent")):
            last = {}
            for e in side:
                k = (e.session, e.raw.get("namespace"), e.raw.get("ackId"))
                if e.action == request_action and e.raw.get("ackId") is not None:
                    last[k] = e
                elif e.action == ack_action:
                    e.request = last.pop(k, None)
                    if e.request is None:
                        self.problems.append("%s: no request for this ack in the log" % e.describe())
        if wire is not None:
            self._settle_by_wire(wire)
        self.problems = sorted(set(self.problems))

    def _settle_by_wire(self, wire):
        """Entries the times cannot place are at the capture's start, on connections whose
        handshake it missed; there wire_packets has each message's exact text (read from the
        stream bytes): a message on the wire is in, one absent from a direction that has a
        reference is out. (Binary packets are not compared: they stay undecided.)"""
        seen, known = collections.Counter(), set()
        for c in wire["conns"].values():
            if c["handshake"]:
                continue
            for d in ("c2s", "s2c"):
                if d not in c["unknown"]:
                    known.add(d)
            for d, _, t, text in c["packets"]:
                k = wire_message_key(d, text) if t == "message" else None
                if k:
                    seen[k] += 1
        for d in ("c2s", "s2c"):
            if any(d in c["unknown"] for c in wire["conns"].values() if not c["handshake"]):
                known.discard(d)
        for e in self.client + self.server:
            if e.status != MAYBE or e.sender_time is None or count_binaries(e.raw.get("args")):
                continue
            r = e.raw
            k = (e.dir, r.get("namespace") or "/", e.group,
                 r.get("event") if e.group == "event" else None, canon(r.get("args")), r.get("ackId"))
            if seen[k]:
                e.status = IN
            elif e.dir in known:
                e.status = OUT

    def entries(self, who, session=None):
        return [e for e in (self.client if who == "client" else self.server)
                if session is None or e.session == session]

    def unanswered(self):
        """Requests the capture holds whose answer it does not: (entry, required)."""
        out = []
        for side in (self.client, self.server):
            answered = {id(e.request): e for e in side if e.request is not None}
            for e in side:
                if e.group != "event" or e.raw.get("ackId") is None or e.status == OUT:
                    continue
                # a request is the sender's: only the side that sent it counts it, once
                if e.action != "emit":
                    continue
                a = answered.get(id(e))
                a_status = a.status if a is not None else OUT
                if e.status == IN and a_status == OUT:
                    out.append((e, True))
                elif a_status != IN:
                    out.append((e, False))
        return out


def _describe_key(k):
    d, nsp, group, event, _, ack_id = k
    return "%s %s %s %r ackId=%s" % (d, nsp, group, event, ack_id)


# ---------------------------------------------------------------------------------------------
# check 1: events and acks against the logs

def compare_multisets(name, tl, recs, entries, session_label):
    """Exact multiset equality of imscope's EVENT/ACK records `recs` and the log entries the
    capture holds (IN); entries that may or may not be in it (MAYBE) match a record if there is
    one left and are not missed otherwise."""
    problems = []
    pool = collections.defaultdict(list)
    for r in recs:
        pool[timeline_key(tl, r)].append(r)
    missing = []
    for required in (True, False):
        for e in entries:
            if e.status == OUT or (e.status == IN) != required:
                continue
            for k in e.keys():
                if pool.get(k):
                    pool[k].pop(0)
                    break
            else:
                if required:
                    missing.append(e)
    extra = [(k, r) for k, rs in pool.items() for r in rs]
    extra.sort(key=lambda x: (x[1].get("ts") or 0, x[1].get("frame") or 0))
    # pair up a missing entry with the extra record most like it (same direction, namespace and
    # group; then same arguments, ack id, event, message), to say where they differ
    paired = set()
    for e in missing:
        mk = e.keys()[0]
        line = "%s %s: %s: " % (name, session_label, e.describe())
        best, partner = 0, None
        for i, (xk, r) in enumerate(extra):
            if i in paired or xk[:3] != mk[:3]:
                continue
            score = 1 + 8 * (xk[4] == mk[4]) + 4 * (xk[5] == mk[5]) + 2 * (xk[3] == mk[3]) + _same_message(
                r["sio"].get("args"), e.raw.get("args"))
            if score > best:
                best, partner = score, i
        if partner is not None:
            paired.add(partner)
            xk, r = extra[partner]
            what = []
            if xk[3] != mk[3]:
                what.append("event: imscope %r, log %r" % (xk[3], mk[3]))
            if xk[5] != mk[5]:
                what.append("ackId: imscope %r, log %r" % (xk[5], mk[5]))
            d = first_difference(r["sio"].get("args"), e.raw.get("args"))
            if d:
                what.append(d)
            problems.append(line + "imscope's %s record (frame %s, conn %s, sid %s) differs: %s"
                            % (r["sio"].get("type"), r.get("frame"), r.get("conn"), r.get("sid"), "; ".join(what)))
        else:
            problems.append(line + "not in imscope's timeline; the log's args: %s" % short(e.raw.get("args")))
    who = entries[0].who if entries else "peer"
    for i, (xk, r) in enumerate(extra):
        if i not in paired:
            problems.append("%s %s: imscope %s record frame %s conn %s sid %s (%s) is not in the %s log; args: %s"
                            % (name, session_label, r["sio"].get("type"), r.get("frame"), r.get("conn"),
                               r.get("sid"), _describe_key(xk), who, short(r["sio"].get("args"))))
    return problems


def _same_message(a, b):
    """Whether two argument lists are about the same message (the same msgId or fileName in the
    first argument): used only to pair differences for the report."""
    def ident(v):
        if isinstance(v, list) and v and isinstance(v[0], dict):
            return v[0].get("msgId") or v[0].get("fileName")
        return None
    return ident(a) is not None and ident(a) == ident(b)


def map_sessions(tl, view):
    """{client session number: imscope session (sid, or "conn N (no sid)") or None}: each of the
    client's sessions is the imscope session whose EVENT/ACK records share the most keys with its
    log entries (greedily, best first); the order of the sessions must agree with the client's."""
    numbers = sorted({e.session for e in view.client})
    keys = collections.defaultdict(collections.Counter)
    for r in tl.sio:
        if (r.get("sio") or {}).get("type") in EVENT_TYPES + ACK_TYPES:
            keys[session_of(r)][timeline_key(tl, r)] += 1
    scores = []
    for n in numbers:
        want = collections.Counter(k for e in view.entries("client", n) if e.status != OUT for k in e.keys())
        for sess, have in keys.items():
            score = sum((want & have).values())
            if score:
                scores.append((score, n, sess))
    mapping, used = {n: None for n in numbers}, set()
    for score, n, sess in sorted(scores, key=lambda x: (-x[0], x[1], tl.sessions.index(x[2]))):
        if mapping[n] is None and sess not in used:
            mapping[n], used = sess, used | {sess}
    return mapping


def check_messages(name, tl, client_log, server_log, wire=None):
    """Check 1: the EVENT/ACK records are exactly what the logs say, both ways.

    The client log is compared per session (its k-th session is imscope's k-th Engine.IO
    session, in order of first record); the server log, which names no session, as a whole."""
    view = LogView(client_log, server_log, capture_window(tl), wire)
    problems = ["%s: %s" % (name, p) for p in view.problems]
    msgs = [r for r in tl.sio if (r.get("sio") or {}).get("type") in EVENT_TYPES + ACK_TYPES]
    for r in msgs:
        if r.get("dir") not in ("c2s", "s2c"):
            problems.append("%s: sio record frame %s has dir %r" % (name, r.get("frame"), r.get("dir")))
    mapping = map_sessions(tl, view)
    order = [mapping[n] for n in sorted(mapping) if mapping[n] is not None]
    if order != sorted(order, key=tl.sessions.index):
        problems.append("%s: imscope's sessions %s are not in the order of the client's %s"
                        % (name, order, sorted(mapping)))
    for number, sess in sorted(mapping.items()):
        recs = [r for r in msgs if sess is not None and session_of(r) == sess]
        problems += compare_multisets(name, tl, recs, view.entries("client", number),
                                      "session %d (%s)" % (number, session_label(sess)))
    for sess in tl.sessions:
        recs = [r for r in msgs if session_of(r) == sess]
        if sess not in mapping.values() and recs:
            problems += compare_multisets(name, tl, recs, [], "imscope session %s (no client session)" % sess)
    problems += compare_multisets(name, tl, msgs, view.entries("server"), "all sessions")
    # binary packets are exactly those whose arguments hold bytes, with that many attachments
    for r in msgs:
        s = r["sio"]
        n = count_binaries(s.get("args"))
        binary = s.get("type", "").startswith("BINARY_")
        if binary != (n > 0) or (binary and s.get("attachments") != n) or (not binary and "attachments" in s
                                                                           and s.get("attachments") not in (0, None)):
            problems.append("%s: %s record frame %s conn %s (%s %s %r): %d binary arguments, attachments %r"
                            % (name, s.get("type"), r.get("frame"), r.get("conn"), r.get("dir"), s.get("nsp"),
                               s.get("event"), n, s.get("attachments")))
    return problems


# ---------------------------------------------------------------------------------------------
# check 2: acks

def check_acks(name, tl, client_log, server_log, reordered=False, wire=None):
    """Check 2. Every ACK record's `ack` names its request and the latency; an ACK without one
    only where the capture cannot hold the request; sio.ack_unmatched only for those; requests
    without an ACK record and sio.ack_missing exactly for the requests the logs show unanswered
    within the capture. `reordered`: the capture's packets are not in the order they were sent
    (the swap copies), so an ACK may legitimately be seen before its request (negative latency)."""
    problems = []
    view = LogView(client_log, server_log, capture_window(tl), wire)
    # ACKs whose request the capture cannot hold (by their key with event None)
    orphan = collections.Counter()
    for e in view.entries("client"):
        if e.group == "ack" and e.status != OUT and (e.request is None or e.request.status != IN):
            orphan[e.keys()[-1]] += 1
    orphan_frames = set()
    acked = collections.Counter()
    for r in tl.sio:
        s = r.get("sio") or {}
        if s.get("type") not in ACK_TYPES:
            if "ack" in r:
                problems.append("%s: %s record frame %s has an ack object" % (name, s.get("type"), r.get("frame")))
            continue
        tag = "%s session %s: %s %s %s ackId=%s (frame %s)" % (name, session_of(r), r.get("dir"), s.get("type"),
                                                              s.get("nsp"), s.get("ackId"), r.get("frame"))
        a = r.get("ack")
        if a is None:
            k = timeline_key(tl, r)
            if orphan[k] > 0:
                orphan[k] -= 1
                orphan_frames.add((r.get("conn"), r.get("frame")))
            else:
                problems.append("%s: no ack {frame, latencyMs}, but the logs show its request in the capture" % tag)
            continue
        if not isinstance(a, dict) or "frame" not in a or "latencyMs" not in a:
            problems.append("%s: ack is %r, expected {frame, latencyMs}" % (tag, a))
            continue
        reqs = tl.request_for(r)
        if len(reqs) != 1:
            problems.append("%s: ack.frame %s names %d requests (opposite direction, same namespace, ackId and "
                            "session), expected 1" % (tag, a.get("frame"), len(reqs)))
            continue
        q = reqs[0]
        acked[id(q)] += 1
        if q["ts"] > r["ts"] and not reordered:
            problems.append("%s: the request (frame %s) comes after its ACK" % (tag, q.get("frame")))
        want = (r["ts"] - q["ts"]) * 1000
        lat = a["latencyMs"]
        if not isinstance(lat, (int, Decimal)) or abs(Decimal(lat) - want) > Decimal("0.001"):
            problems.append("%s: latencyMs %s, but (ack ts %s - request ts %s) x 1000 = %s"
                            % (tag, lat, r["ts"], q["ts"], want))
    for q in tl.sio:
        if acked[id(q)] > 1:
            problems.append("%s session %s: request frame %s (%s %r ackId=%s) is answered by %d ACK records"
                            % (name, session_of(q), q.get("frame"), q["sio"].get("nsp"), q["sio"].get("event"),
                               q["sio"].get("ackId"), acked[id(q)]))
    for d in tl.diagnostics:
        if d.get("code") == "sio.ack_unmatched" and (d.get("conn"), d.get("frame")) not in orphan_frames:
            problems.append("%s: sio.ack_unmatched frame %s conn %s %s: %s"
                            % (name, d.get("frame"), d.get("conn"), d.get("dir"), d.get("message")))
    # requests without an answer in the capture: exactly these have no ACK record and get
    # sio.ack_missing (those that may or may not be answered in it: either way)
    required, optional = collections.Counter(), collections.Counter()
    for e, must in view.unanswered():
        (required if must else optional)[e.keys()[0]] += 1
    requests_by_frame = collections.defaultdict(list)
    unacked = []
    for q in tl.sio:
        s = q.get("sio") or {}
        if s.get("type") in EVENT_TYPES and s.get("ackId") is not None:
            requests_by_frame[(q.get("conn"), q.get("frame"))].append(q)
            if not acked[id(q)]:
                unacked.append(q)
    left = required + optional
    for q in unacked:
        k = timeline_key(tl, q)
        if left[k] > 0:
            left[k] -= 1
            if required[k] > 0:
                required[k] -= 1
        else:
            s = q["sio"]
            problems.append("%s session %s: request frame %s (%s %s %r ackId=%s) has no ACK record, but the logs show "
                            "it answered within the capture" % (name, session_of(q), q.get("frame"), q.get("dir"),
                                                                s.get("nsp"), s.get("event"), s.get("ackId")))
    for k, n in required.items():
        if n > 0:
            problems.append("%s: the logs show %d request(s) %s unanswered within the capture, but imscope shows an "
                            "ACK for it" % (name, n, _describe_key(k)))
    unacked_keys = collections.Counter(timeline_key(tl, q) for q in unacked)
    diag_keys = collections.Counter()
    for d in tl.diagnostics:
        if d.get("code") != "sio.ack_missing":
            continue
        qs = [q for q in requests_by_frame.get((d.get("conn"), d.get("frame")), []) if not acked[id(q)]]
        if not qs:
            qs = [q for q in unacked if ("frame %s)" % q.get("frame")) in (d.get("message") or "")]
        keys = [timeline_key(tl, q) for q in qs]
        hit = next((k for k in keys if unacked_keys[k] > diag_keys[k]), None)
        if hit is None:
            problems.append("%s: sio.ack_missing frame %s conn %s (%s) names no request that is unanswered in the "
                            "capture" % (name, d.get("frame"), d.get("conn"), d.get("message")))
        else:
            diag_keys[hit] += 1
    for k, n in unacked_keys.items():
        if diag_keys[k] < n:
            problems.append("%s: %d request(s) %s without an ACK in the capture but no sio.ack_missing"
                            % (name, n - diag_keys[k], _describe_key(k)))
    return problems


# ---------------------------------------------------------------------------------------------
# the wire as tshark sees it

class WireError(RuntimeError):
    pass


def _tshark_json(tshark, path, decode_as, fields):
    cmd = [tshark, "-r", str(path), "-n", "-d", decode_as, "-o", "tcp.reassemble_out_of_order:TRUE",
           "-o", "tcp.desegment_tcp_streams:TRUE", "-T", "json"]
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if p.returncode != 0:
        raise WireError("%s failed (%d): %s" % (" ".join(cmd[:6]), p.returncode,
                                                p.stderr.decode(errors="replace")[-2000:]))
    return [pkt["_source"]["layers"] for pkt in json.loads(p.stdout.decode("utf-8", errors="replace") or "[]")]


def _v3_binary_payload(data):
    """Engine.IO 3 binary polling payload: <0|1><length digits as bytes><0xff><packet>... ->
    [(is_binary, bytes)]. python-engineio counts the length in bytes; the protocol text says
    characters: a length that does not land on a packet boundary is retried as UTF-16 units."""
    out, i = [], 0
    while i < len(data):
        kind = data[i]
        if kind not in (0, 1):
            raise WireError("v3 binary payload: bad packet kind %d at %d" % (kind, i))
        j = data.index(0xFF, i + 1)
        n = 0
        for b in data[i + 1:j]:
            if b > 9:
                raise WireError("v3 binary payload: bad length digit at %d" % i)
            n = n * 10 + b
        start = j + 1
        end = start + n
        if kind == 0 and end != len(data) and (end > len(data) or data[end] not in (0, 1)):
            text = data[start:].decode("utf-8", errors="replace")
            units = 0
            for k, ch in enumerate(text):
                if units >= n:
                    break
                units += 2 if ord(ch) > 0xFFFF else 1
            else:
                k = len(text)
            end = start + len(text[:k].encode("utf-8"))
        out.append((kind == 1, data[start:end]))
        i = end
    return out


def _v3_text_payload(text):
    """Engine.IO 3 text payload: <length in UTF-16 units>:<packet>..."""
    out, i = [], 0
    while i < len(text):
        j = text.index(":", i)
        n = int(text[i:j])
        k, units = j + 1, 0
        while units < n and k < len(text):
            units += 2 if ord(text[k]) > 0xFFFF else 1
            k += 1
        out.append(text[j + 1:k])
        i = k
    return out


def _eio_packets_of_body(body, version):
    """Engine.IO text packets of a polling body (str or bytes); binary ones as None."""
    if isinstance(body, bytes):
        if version == 3 and body[:1] in (b"\x00", b"\x01"):
            return [None if binary else pkt.decode("utf-8", errors="replace")
                    for binary, pkt in _v3_binary_payload(body)]
        body = body.decode("utf-8", errors="replace")
    if version == 4:
        return [None if p.startswith("b") else p for p in body.split("\x1e")]
    if re.match(r"^\d+:", body):
        return [None if p.startswith("b") else p for p in _v3_text_payload(body)]
    raise WireError("unrecognised polling body %r" % body[:60])


def ws_texts(data, client, start=0):
    """The text messages of a WebSocket byte stream read from byte `start`, each as (text, offset
    just after its last frame), or None when the
    bytes do not parse as frames from there to the end (a stream caught in the middle of a frame,
    or compressed with an extension the capture did not show). A frame cut by the end of the
    capture ends the list."""
    i, out, frag = start, [], None
    while i < len(data):
        if len(data) - i < 2:
            break
        b0, b1 = data[i], data[i + 1]
        fin, rsv, op, masked, n = b0 >> 7, (b0 >> 4) & 7, b0 & 15, b1 >> 7, b1 & 127
        j = i + 2
        if n == 126:
            n, j = int.from_bytes(data[j:j + 2], "big"), j + 2
        elif n == 127:
            n, j = int.from_bytes(data[j:j + 8], "big"), j + 8
        if rsv or op not in (0, 1, 2, 8, 9, 10) or masked != client or (op >= 8 and (not fin or n > 125)):
            return None
        key = data[j:j + 4] if masked else None
        j += 4 if masked else 0
        if j + n > len(data):
            break
        payload = data[j:j + n]
        if masked:
            payload = bytes(b ^ key[k % 4] for k, b in enumerate(payload))
        if op in (1, 2):
            if frag is not None:
                return None
            frag = (op, payload)
        elif op == 0:
            if frag is None:
                return None
            frag = (frag[0], frag[1] + payload)
        if op < 8 and fin:
            if frag[0] == 1:
                try:
                    out.append((frag[1].decode("utf-8"), j + n))
                except UnicodeDecodeError:
                    return None
            frag = None
        i = j + n
    return out


# how far into a stream caught mid-frame the first whole frame may lie
MIDSTREAM_SCAN = 256 * 1024


def ws_texts_midstream(data, client):
    """(skipped, [(text, end)]) for a WebSocket stream without its handshake: the first offset from which
    the bytes parse as frames to the very end (ws_texts), or (None, None) when there is none in
    the first MIDSTREAM_SCAN bytes. Random bytes parse as a valid chain of frames (right masking
    flag, RSV 0, known opcodes, lengths landing exactly on the end) only by accident."""
    for i in range(min(len(data), MIDSTREAM_SCAN)):
        texts = ws_texts(data, client, i)
        if texts is not None:
            return i, texts
    return None, None


def _completion(layers, conn, d, port):
    """end offset -> the frame that completed the bytes of one direction up to it: the first frame
    after which every byte before it had been captured (tshark's sequence numbers relative to the
    direction's first segment, where tshark's Follow TCP Stream starts)."""
    prefix, held, marks, base = 0, [], [], None
    for l in layers:
        if "tcp.stream" not in l or int(l["tcp.stream"][0]) + 1 != conn:
            continue
        if ("s2c" if int(l["tcp.srcport"][0]) == port else "c2s") != d:
            continue
        if base is None:  # without a SYN tshark numbers the first segment 1
            base = int(l["tcp.seq"][0])
        if int(l["tcp.len"][0]) == 0:
            continue
        seq, n = int(l["tcp.seq"][0]) - base, int(l["tcp.len"][0])
        held.append((seq, seq + n))
        held.sort()
        while held and held[0][0] <= prefix:
            prefix = max(prefix, held.pop(0)[1])
        marks.append((prefix, int(l["frame.number"][0])))

    def done(end):
        return next((f for p, f in marks if p >= end), None)

    return done


def wire_packets(path, version=None, tshark="tshark", port=SERVER_PORT):
    """The Engine.IO packets on the wire, per connection, and the Engine.IO version (`version`, or
    capture_version): {"version": 3|4, "conns": {conn: {"handshake": bool,
    "unknown": {dirs without a reference}, "skipped": {dir: bytes before the first whole frame},
    "packets": [(dir, frame, eio_type, text)], "after_close": {dirs with a data frame after the
    direction's close frame}}}}, conn = tcp.stream + 1 (as imscope numbers them).

    Connections with a captured TCP handshake are dissected by tshark as HTTP (bodies of polling
    requests and responses; after a 101, WebSocket text messages). tshark cannot follow a
    connection without its handshake when the capture caught it in the middle of a frame, so for
    those each direction's bytes (tshark's Follow TCP Stream, tshark_oracle.py) are read as
    WebSocket frames from the first offset that parses to the end (ws_texts_midstream): a
    direction where none does has no reference ("unknown"); a message's frame there is the one
    that completed its bytes (_completion). Binary messages (attachments) are not listed. The "OK" body
    with which python-engineio answers every POST is not an Engine.IO payload and is skipped."""
    import tshark_oracle
    if version is None:
        version = capture_version(path, tshark)
    import ws_frames
    fields = ["frame.number", "tcp.stream", "tcp.srcport", "tcp.seq", "tcp.len", "websocket.payload.text",
              "http.request.method", "http.response.code", "http.file_data", "data.data", "websocket.opcode"]
    layers = _tshark_json(tshark, path, "tcp.port==%d,http" % port, fields)
    conns = {}
    opcodes = {}  # (conn, dir) -> the opcodes of its frames, in order
    for c in tshark_oracle.oracle(str(path), port=port, tshark=tshark, keep_data=True)["connections"]:
        conns[c["conn"]] = {"handshake": c["handshake"], "unknown": set(), "skipped": {}, "packets": [],
                            "after_close": set()}
        if not c["handshake"]:
            for d in ("c2s", "s2c"):
                skipped, texts = ws_texts_midstream(c[d]["data"], d == "c2s")
                if texts is None:
                    conns[c["conn"]]["unknown"].add(d)
                    continue
                conns[c["conn"]]["skipped"][d] = skipped
                msgs, _ = ws_frames.walk(c[d]["data"], d == "c2s", skipped, rsv1_ok=True)
                opcodes[(c["conn"], d)] = [m.get("opcode") for m in msgs if not m.get("incomplete")]
                done = _completion(layers, c["conn"], d, port)
                conns[c["conn"]]["packets"] += [(d, done(end), EIO_TYPE_NAMES.get(t[:1], "?" + t[:1]), t)
                                                for t, end in texts]

    def add(l, texts):
        conn = int(l["tcp.stream"][0]) + 1
        d = "s2c" if int(l["tcp.srcport"][0]) == port else "c2s"
        for t in texts:
            if t is not None:
                conns[conn]["packets"].append((d, int(l["frame.number"][0]), EIO_TYPE_NAMES.get(t[:1], "?" + t[:1]), t))

    names = {"0": "continuation", "1": "text", "2": "binary", "8": "close", "9": "ping", "10": "pong"}
    for l in layers:
        if "tcp.stream" not in l or not conns.get(int(l["tcp.stream"][0]) + 1, {}).get("handshake"):
            continue
        add(l, l.get("websocket.payload.text", []))
        key = (int(l["tcp.stream"][0]) + 1, "s2c" if int(l["tcp.srcport"][0]) == port else "c2s")
        opcodes.setdefault(key, []).extend(names.get(o, o) for o in l.get("websocket.opcode", []))
        d = "s2c" if int(l["tcp.srcport"][0]) == port else "c2s"
        codes = l.get("http.response.code", [])
        if any(c != "200" for c in codes):
            # an error answer (python-engineio's 400 "Bad Request" to a poll of a session that has
            # ended) carries no Engine.IO payload
            if len(codes) + len(l.get("http.request.method", [])) != 1:
                raise WireError("frame %s: an error response among several HTTP messages" % l["frame.number"][0])
            continue
        for body in l.get("http.file_data", []):
            if body == "" or (d == "s2c" and body == "OK"):
                continue
            add(l, _eio_packets_of_body(body, version))
        # data.data also carries binary WebSocket messages (attachments): only an HTTP message's
        # body is a polling payload
        is_http = "http.request.method" in l or "http.response.code" in l
        for hexdata in (l.get("data.data", []) if is_http else []):
            raw = bytes.fromhex(hexdata.replace(":", ""))
            add(l, _eio_packets_of_body(raw, version))
    # RFC 6455 section 5.5.1: no data frame after the direction's close
    for (conn, d), ops in opcodes.items():
        if "close" in ops and any(o in ("text", "binary", "continuation") for o in ops[ops.index("close") + 1:]):
            conns[conn]["after_close"].add(d)
    return {"conns": conns, "version": version}


def sio_control(text):
    """(type, nsp, data) of a Socket.IO CONNECT/DISCONNECT/CONNECT_ERROR packet text (without the
    Engine.IO type), else None."""
    t = SIO_TYPE_NAMES.get(text[:1])
    if t not in CONTROL_TYPES:
        return None
    rest = text[1:]
    nsp = "/"
    if rest.startswith("/"):
        nsp, _, rest = rest.partition(",")
    data = None
    if rest:
        try:
            data = json.loads(rest, parse_float=Decimal)
        except ValueError:
            data = rest
    return t, nsp, data


def sio_packet(text):
    """(type, nsp, ackId, data) of a Socket.IO packet text (without the Engine.IO type), or None."""
    t = SIO_TYPE_NAMES.get(text[:1])
    if t is None:
        return None
    rest = text[1:]
    if t.startswith("BINARY_"):
        m = re.match(r"\d+-", rest)
        if not m:
            return None
        rest = rest[m.end():]
    nsp = "/"
    if rest.startswith("/"):
        nsp, _, rest = rest.partition(",")
    m = re.match(r"\d+", rest)
    ack_id = int(m.group()) if m else None
    rest = rest[m.end():] if m else rest
    try:
        data = json.loads(rest, parse_float=Decimal) if rest else None
    except ValueError:
        return None
    return t, nsp, ack_id, data


def wire_message_key(d, text):
    """The (dir, nsp, group, event, args, ackId) of an EVENT or ACK text on the wire (an ACK's
    event as None: the packet does not name it), or None."""
    p = sio_packet(text[1:])
    if p is None:
        return None
    t, nsp, ack_id, data = p
    if t == "EVENT" and isinstance(data, list) and data and isinstance(data[0], str):
        return (d, nsp, "event", data[0], canon(data[1:]), ack_id)
    if t == "ACK" and isinstance(data, list):
        return (d, nsp, "ack", None, canon(data), ack_id)
    return None


# ---------------------------------------------------------------------------------------------
# checks against the wire: CONNECT/DISCONNECT, Engine.IO packets, message counts

def eio_record_key(r):
    e = r.get("eio") or {}
    t = e.get("type")
    data = None
    if t == "open":
        data = e.get("sid")
    elif t in ("ping", "pong") and e.get("data") not in (None, ""):
        data = e.get("data")
    return (r.get("conn"), r.get("dir"), t, data)


def wire_eio_key(conn, d, t, text):
    data = None
    if t == "open":
        try:
            data = json.loads(text[1:]).get("sid")
        except (ValueError, AttributeError):
            data = "(bad open %r)" % text[:60]
    elif t in ("ping", "pong") and text[1:]:
        data = text[1:]
    return (conn, d, t, data)


def _multiset_diff(name, what, got, want, describe):
    problems = []
    g, w = collections.Counter(got), collections.Counter(want)
    for k in sorted(set(g) | set(w), key=repr):
        if g[k] != w[k]:
            problems.append("%s: %s %s: imscope %d, the wire %d" % (name, what, describe(k), g[k], w[k]))
    return problems


def check_wire(name, tl, wire, frames=True):
    """The CONNECT/DISCONNECT/CONNECT_ERROR records, the eio records, the number of Socket.IO
    packets per connection and direction and the frame that completed each are what is on the
    wire (wire_packets), in every direction that has a reference. `frames`: whether the wire's
    frame numbers are those of the capture imscope read."""
    problems = []
    unknown = {(c, d) for c, v in wire["conns"].items() for d in v["unknown"]}
    got_ctl, want_ctl, got_eio, want_eio = [], [], [], []
    got_count, want_count = collections.Counter(), collections.Counter()
    for r in tl.sio:
        s = r.get("sio") or {}
        if (r.get("conn"), r.get("dir")) in unknown:
            continue
        got_count[(r.get("conn"), r.get("dir"))] += 1
        if s.get("type") in CONTROL_TYPES:
            got_ctl.append((r.get("conn"), r.get("dir"), s.get("type"), s.get("nsp"), canon_or_none(s.get("data"))))
    for r in tl.eio:
        if (r.get("conn"), r.get("dir")) not in unknown:
            got_eio.append(eio_record_key(r))
    for conn, c in wire["conns"].items():
        for d, frame, t, text in c["packets"]:
            if t == "message":
                want_count[(conn, d)] += 1
                ctl = sio_control(text[1:])
                if ctl:
                    want_ctl.append((conn, d, ctl[0], ctl[1], canon_or_none(ctl[2])))
            else:
                want_eio.append(wire_eio_key(conn, d, t, text))
    problems += _multiset_diff(name, "Socket.IO", got_ctl, want_ctl,
                               lambda k: "conn %s %s %s %s data=%s" % (k[0], k[1], k[2], k[3], _uncanon(k[4])))
    problems += _multiset_diff(name, "Engine.IO", got_eio, want_eio,
                               lambda k: "conn %s %s %s%s" % (k[0], k[1], k[2],
                                                              "" if k[3] is None else " " + repr(k[3])))
    problems += _multiset_diff(name, "number of Socket.IO packets", list(got_count.elements()),
                               list(want_count.elements()), lambda k: "conn %s %s" % k)
    # where: a record's frame is the packet that completed it (DESIGN), as tshark shows a
    # reassembled message in the frame that completed it (on a connection without handshake: the
    # frame that completed its bytes); a binary packet is completed by its last attachment, so it
    # is left out
    got_at, want_at = [], []
    for r in tl.eio + tl.sio:
        if (r.get("conn"), r.get("dir")) not in unknown and not (r.get("sio") or {}).get("type", "").startswith(
                "BINARY_"):
            got_at.append((r.get("conn"), r.get("dir"), r.get("frame"),
                           "message" if r["kind"] == "sio" else r["eio"].get("type")))
    for conn, c in wire["conns"].items():
        for d, frame, t, text in c["packets"]:
            if t != "message" or not (sio_packet(text[1:]) or ("",))[0].startswith("BINARY_"):
                want_at.append((conn, d, frame, t))
    if frames:
        problems += _multiset_diff(name, "packets completed by", got_at, want_at,
                                   lambda k: "conn %s %s frame %s (%s)" % k)
    return problems


def _uncanon(c):
    if c is None:
        return None
    kind, v = c
    if kind == "obj":
        return {k: _uncanon(x) for k, x in v}
    if kind == "arr":
        return [_uncanon(x) for x in v]
    if kind == "num":
        return str(v)
    if kind == "bin":
        return {"_binary": base64.b64encode(v).decode()}
    return v


def check_connects(name, tl, client_log, server_log, version, wire):
    """Each session the capture holds from its start has a client CONNECT per namespace it used
    (Socket.IO 5: every namespace; Socket.IO 4, i.e. Engine.IO 3: every namespace but "/", which
    is implicit), each client CONNECT once, and the server's CONNECT for each (and for "/" in
    Socket.IO 4), in Socket.IO 5 with {"sid": ...}; no CONNECT_ERROR; a session whose handshake the
    capture missed has no CONNECT at all. The client left every session (client.py ends each one
    with disconnect()): each session shows it by a DISCONNECT, an Engine.IO close or a WebSocket
    close from the client, and DISCONNECTs name namespaces the session joined. Whether
    python-socketio got its DISCONNECT packets out before closing is a race, so which DISCONNECTs
    exist is checked against the wire (check_wire), as are the CONNECTs themselves."""
    problems = []
    view = LogView(client_log, server_log, capture_window(tl), wire)
    for number, sess in sorted(map_sessions(tl, view).items()):
        if sess is None:
            continue
        tag = "%s session %d (%s)" % (name, number, session_label(sess))
        recs = tl.of_session(sess)
        conns = sorted({r.get("conn") for r in recs})
        used = {e.raw["namespace"] for e in view.entries("client", number)}
        started = all(wire["conns"].get(c, {}).get("handshake") for c in conns)
        ctl = [r for r in recs if r.get("kind") == "sio" and r["sio"].get("type") in CONTROL_TYPES]
        c2s = collections.Counter(r["sio"]["nsp"] for r in ctl if r["sio"]["type"] == "CONNECT" and r["dir"] == "c2s")
        s2c = [r for r in ctl if r["sio"]["type"] == "CONNECT" and r["dir"] == "s2c"]
        joined = set(c2s) | used | ({"/"} if version == 3 else set())
        if not started:
            if c2s or s2c:
                problems.append("%s: the session's handshake is not in the capture, yet imscope shows CONNECTs" % tag)
        else:
            need = used - ({"/"} if version == 3 else set())
            if not need <= set(c2s) or any(n != 1 for n in c2s.values()):
                problems.append("%s: client CONNECTs for %s, expected one for each namespace it used: %s"
                                % (tag, dict(c2s), sorted(need)))
            want_s2c = collections.Counter(set(c2s) | ({"/"} if version == 3 else set()))
            got_s2c = collections.Counter(r["sio"]["nsp"] for r in s2c)
            if got_s2c != want_s2c:
                problems.append("%s: server CONNECTs for %s, expected one for each of %s"
                                % (tag, dict(got_s2c), sorted(want_s2c)))
            for r in s2c:
                data = r["sio"].get("data")
                if version == 4:
                    if not (isinstance(data, dict) and set(data) == {"sid"} and isinstance(data["sid"], str)
                            and data["sid"]):
                        problems.append("%s: server CONNECT %s (frame %s) data %s, expected {\"sid\": ...}"
                                        % (tag, r["sio"]["nsp"], r.get("frame"), short(data)))
                elif data is not None:
                    problems.append("%s: Socket.IO 4 server CONNECT %s (frame %s) has data %s"
                                    % (tag, r["sio"]["nsp"], r.get("frame"), short(data)))
            firsts = {}
            for r in sorted(ctl, key=lambda r: r["ts"]):
                if r["sio"]["type"] == "CONNECT":
                    firsts.setdefault((r["dir"], r["sio"]["nsp"]), r["ts"])
            for nsp in c2s:
                if ("s2c", nsp) in firsts and firsts[("s2c", nsp)] < firsts[("c2s", nsp)]:
                    problems.append("%s: the server's CONNECT %s comes before the client's" % (tag, nsp))
        for r in ctl:
            if r["sio"]["type"] == "CONNECT_ERROR":
                problems.append("%s: CONNECT_ERROR %s frame %s: %s" % (tag, r["sio"].get("nsp"), r.get("frame"),
                                                                      short(r["sio"].get("data"))))
        left = [r for r in recs if r.get("dir") == "c2s" and (
            (r.get("kind") == "sio" and r["sio"].get("type") == "DISCONNECT")
            or (r.get("kind") == "eio" and r["eio"].get("type") == "close"))]
        ws_close = [w for w in tl.ws if w.get("conn") in conns and w.get("dir") == "c2s" and w.get("opcode") == "close"]
        if not left and not ws_close:
            problems.append("%s: the client disconnected, but the session shows no DISCONNECT, Engine.IO close or "
                            "WebSocket close from it" % tag)
        for r in left:
            # (a session caught in the middle may have joined namespaces before the capture)
            if started and r.get("kind") == "sio" and r["sio"].get("nsp") not in joined:
                problems.append("%s: DISCONNECT for namespace %s, which the session did not join"
                                % (tag, r["sio"].get("nsp")))
    return problems


# ---------------------------------------------------------------------------------------------
# check 3: sessions

def check_sessions(name, tl, client_log, server_log, version, wire):
    problems = []
    view = LogView(client_log, server_log, capture_window(tl), wire)
    mapping = map_sessions(tl, view)
    held = [n for n in sorted(mapping) if any(e.status == IN for e in view.entries("client", n))]
    if len(tl.sessions) != len(held) or any(mapping[n] is None for n in held):
        problems.append("%s: imscope shows %d Engine.IO sessions %s; the capture holds messages of the client's "
                        "sessions %s, found as %s" % (name, len(tl.sessions), tl.sessions, held,
                                                      [mapping[n] for n in held]))
    for r in tl.eio + tl.sio:
        v = (r.get("eio") or {}).get("version")
        if v != version:
            problems.append("%s: %s record frame %s conn %s has Engine.IO version %r, the capture is version %d"
                            % (name, r["kind"], r.get("frame"), r.get("conn"), v, version))
        if r.get("transport") not in ("websocket", "polling"):
            problems.append("%s: %s record frame %s has transport %r" % (name, r["kind"], r.get("frame"),
                                                                       r.get("transport")))
    # a connection belongs to one session and one transport
    per_conn = collections.defaultdict(set)
    per_conn_transport = collections.defaultdict(set)
    for r in tl.eio + tl.sio:
        per_conn[r.get("conn")].add(session_of(r))
        per_conn_transport[r.get("conn")].add(r.get("transport"))
    for c, ss in sorted(per_conn.items()):
        if len(ss) != 1:
            problems.append("%s: conn %s carries records of several sessions: %s" % (name, c, sorted(ss)))
        if len(per_conn_transport[c]) != 1:
            problems.append("%s: conn %s carries records of transports %s" % (name, c, sorted(per_conn_transport[c])))
    upgraded = {r.get("conn") for r in tl.conns if r.get("event") == "upgrade"}
    for c, ts in per_conn_transport.items():
        want = "websocket" if c in upgraded or not wire["conns"].get(c, {}).get("handshake", True) else "polling"
        if ts != {want}:
            problems.append("%s: conn %s records have transport %s, expected %s" % (name, c, sorted(ts), want))
    opens = [r for r in tl.eio if r["eio"].get("type") == "open"]
    for i, sess in enumerate(tl.sessions):
        recs = tl.of_session(sess)
        conns = sorted({r.get("conn") for r in recs})
        started = all(wire["conns"].get(c, {}).get("handshake") for c in conns)
        mine = [r for r in opens if session_of(r) == sess]
        tag = "%s session %d (%s, conns %s)" % (name, i + 1, session_label(sess), conns)
        if started:
            if len(mine) != 1:
                problems.append("%s: %d eio open records, expected 1" % (tag, len(mine)))
            for r in mine:
                e = r["eio"]
                if r.get("dir") != "s2c" or e.get("sid") != sess or (e.get("data") or {}).get("sid") != sess:
                    problems.append("%s: open record frame %s: dir %s, eio.sid %r, data.sid %r"
                                    % (tag, r.get("frame"), r.get("dir"), e.get("sid"),
                                       (e.get("data") or {}).get("sid")))
                for k in ("pingInterval", "pingTimeout", "upgrades"):
                    if k not in e:
                        problems.append("%s: open record frame %s has no eio.%s" % (tag, r.get("frame"), k))
            if not recs or recs[0].get("kind") != "eio" or recs[0]["eio"].get("type") != "open":
                problems.append("%s: the first record is not the open packet" % tag)
        elif mine:
            problems.append("%s: handshake not captured, yet %d open records" % (tag, len(mine)))
        transports = {r.get("transport") for r in recs}
        if "polling" in name:
            if len(conns) < 2:
                problems.append("%s: a polling session's records span only conns %s" % (tag, conns))
            if "websocket" in transports:
                ws_conns = sorted({r.get("conn") for r in recs if r.get("transport") == "websocket"})
                for c in ws_conns:
                    others = {session_of(r) for r in tl.eio + tl.sio if r.get("conn") == c}
                    if others != {sess}:
                        problems.append("%s: the websocket conn %s carries sessions %s" % (tag, c, sorted(others)))
                    if c not in upgraded:
                        problems.append("%s: websocket conn %s has no conn upgrade record" % (tag, c))
                first_ws = min(r["ts"] for r in recs if r.get("transport") == "websocket")
                if any(r["ts"] > first_ws and r.get("transport") == "polling" and r.get("kind") == "sio"
                       for r in recs):
                    problems.append("%s: Socket.IO packets over polling after the upgrade" % tag)
    # ping/pong direction: Engine.IO 3 the client pings, 4 the server; the upgrade probe is the
    # client's "ping probe" over the new websocket, answered by "pong probe"
    for r in tl.eio:
        e = r["eio"]
        if e.get("type") not in ("ping", "pong"):
            continue
        probe = e.get("data") == "probe"
        if probe:
            want = "c2s" if e["type"] == "ping" else "s2c"
            if r.get("transport") != "websocket":
                problems.append("%s: %s probe frame %s conn %s over %s" % (name, e["type"], r.get("frame"),
                                                                        r.get("conn"), r.get("transport")))
        else:
            pinger = "c2s" if version == 3 else "s2c"
            want = pinger if e["type"] == "ping" else ("s2c" if pinger == "c2s" else "c2s")
        if r.get("dir") != want:
            problems.append("%s: Engine.IO %d %s%s frame %s conn %s is %s, expected %s"
                            % (name, version, e["type"], " probe" if probe else "", r.get("frame"), r.get("conn"),
                               r.get("dir"), want))
    return problems


# ---------------------------------------------------------------------------------------------
# check 6: diagnostics

DECODER_LAYERS = ("eio.", "sio.", "ws.", "http.")


def check_diagnostics(name, tl, wire):
    """No diagnostic of the HTTP, WebSocket, Engine.IO or Socket.IO layers on a clean capture,
    except ws.frame_after_close (required) where the wire shows a data frame after the
    direction's close frame, and what a connection without captured handshake explains (tcp.midstream is
    test_tcp.py's business): ws.midstream (required) and eio.version_guessed (required once it
    carries Engine.IO packets) there, ws.resync in a direction caught in the middle of a frame
    (wire_packets found its first whole frame after its first byte, or none), and
    sio.ack_unmatched there, which
    check_acks allows only for an ACK whose request the capture cannot hold."""
    problems = []
    midstream = {c for c, v in wire["conns"].items() if not v["handshake"]}
    unknown = {(c, d) for c, v in wire["conns"].items() for d in v["unknown"]}
    unknown |= {(c, d) for c, v in wire["conns"].items() for d, n in v.get("skipped", {}).items() if n}
    after_close = {(c, d) for c, v in wire["conns"].items() for d in v["after_close"]}
    for c, d in sorted(after_close):
        n = sum(1 for x in tl.diagnostics if x.get("code") == "ws.frame_after_close" and (x.get("conn"), x.get("dir")) == (c, d))
        if n != 1:
            problems.append("%s: conn %s %s sends a data frame after its close frame, but %d ws.frame_after_close" % (
                name, c, d, n))
    for d in tl.diagnostics:
        code = d.get("code") or ""
        if not code.startswith(DECODER_LAYERS):
            continue
        if code == "ws.frame_after_close" and (d.get("conn"), d.get("dir")) in after_close:
            continue  # the python-socketio client sends its disconnect after its close frame
        if d.get("conn") in midstream and (code in ("ws.midstream", "eio.version_guessed", "sio.ack_unmatched") or (
                code == "ws.resync" and (d.get("conn"), d.get("dir")) in unknown)):
            continue
        problems.append("%s: diagnostic %s (%s) frame %s conn %s %s: %s" % (
            name, code, d.get("severity"), d.get("frame"), d.get("conn"), d.get("dir"), d.get("message")))
    for c in sorted(midstream):
        codes = ["ws.midstream"]
        if any(r.get("conn") == c for r in tl.eio + tl.sio):
            codes.append("eio.version_guessed")
        for code in codes:
            if not any(d.get("code") == code and d.get("conn") == c for d in tl.diagnostics):
                problems.append("%s: conn %s has no captured handshake, but no %s diagnostic" % (name, c, code))
    return problems


# ---------------------------------------------------------------------------------------------
# check 4: rough copies

def comparable(records):
    """Copies of the eio/sio records and of the decoder layers' diagnostics (what a rough copy
    must reproduce), with numbers as text."""
    out = []
    for r in records:
        if r.get("kind") in ("eio", "sio") or (
                r.get("kind") == "diagnostic" and (r.get("code") or "").startswith(DECODER_LAYERS)):
            out.append(json.loads(json.dumps(r, default=str)))
    return out


def check_all(name, records, client_log, server_log, version, wire, reordered=False, frames=True):
    """Checks 1-3 (`reordered`: see check_acks; `frames`: see check_wire)."""
    tl = Timeline(records)
    return (check_messages(name, tl, client_log, server_log, wire)
            + check_acks(name, tl, client_log, server_log, reordered, wire)
            + check_connects(name, tl, client_log, server_log, version, wire) + check_wire(name, tl, wire, frames)
            + check_sessions(name, tl, client_log, server_log, version, wire))


def main():
    import argparse
    p = argparse.ArgumentParser(description="run test_sio's checks on one capture and print the problems")
    p.add_argument("capture")
    p.add_argument("--imscope", default=os.environ.get("IMSCOPE") or str(Path(__file__).resolve().parents[2]
                                                                          / ".build/debug/imscope"))
    p.add_argument("--tshark", default=shutil.which("tshark") or "tshark")
    p.add_argument("--wire", action="store_true", help="print tshark's Engine.IO packets")
    a = p.parse_args()
    version = capture_version(a.capture, a.tshark)
    records = run_imscope(a.imscope, a.capture)
    client, server = (load_log(x) for x in log_paths(a.capture))
    wire = wire_packets(a.capture, version, a.tshark)
    if a.wire:
        for c, v in sorted(wire["conns"].items()):
            print("conn %d handshake=%s skipped=%s unknown=%s"
                  % (c, v["handshake"], v["skipped"], sorted(v["unknown"])))
            for d, frame, t, text in v["packets"]:
                print("  %s frame %s %s %s" % (d, frame, t, text[:100]))
    tl = Timeline(records)
    problems = check_all(Path(a.capture).name, records, client, server, version, wire) + check_diagnostics(
        Path(a.capture).name, tl, wire)
    print("\n".join(problems) or "no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
