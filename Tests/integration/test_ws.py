"""imscope's WebSocket layer (`imscope read FILE --layer ws --format jsonl`) against tshark, the
peers' own logs, an independent frame walker and crafted captures.

Run: .venv/eio4/bin/pytest -q Tests/integration/test_ws.py   (IMSCOPE=path/to/imscope; -s prints
the figures: oracle counts, the bomb's time and memory for imscope and tshark, the damage a drop does)

What is compared (a text message is a `ws` record with opcode "text"):
  - every committed capture (Captures/*.pcap*, Captures/ws/*.pcap) and the split/dup/swap/vlan
    copies of the Ethernet IPv4 ones: per connection and direction the multiset of texts equals
    tshark's (tshark_ws.py); for a connection whose handshake is not captured (tshark does not
    decode it) the reference is ws_frames.py walking tshark's Follow-TCP-Stream bytes from the
    first frame boundary; a rough copy is held to the clean capture's reference;
  - the same texts against the peers' logs: every message of the aiohttp deflate peers, in order
    and with binary, ping/pong and close frames; for the Socket.IO captures the EVENT/ACK packets
    rebuilt from the client's log (sessions that ran over websocket);
  - Captures/ws/eio4-ws-midstream-lo.pcap: the client's stream starts inside a frame: ws.midstream,
    and exactly the complete messages after the first frame boundary (the walker finds it), which
    include every message the peers logged after the capture started;
  - a crafted capture of fragmented messages (ws_craft.py fragments) against what it was made of;
  - the decompression bomb (ws_craft.py bomb, made in a tmp dir): peak RSS < 256 MB,
    ws.message_too_large, length 1 GiB and truncated, and the next message decoded exactly;
    tshark's time and memory on it are printed, not checked;
  - a data segment dropped inside a large compressed message of ws-deflate-lo (made here), and
    roughen.py's own drop copy: a gap and the loss of the compression context are reported, the
    other direction is intact, and no later message of the damaged direction has wrong text.
"""

import base64
import collections
import gzip
import json
import os
import re
import resource
import signal
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CAPTURES, COMMITTED, imscope_path, per_path

import roughen  # noqa: E402
import tshark_ws  # noqa: E402
import ws_craft  # noqa: E402
import ws_frames  # noqa: E402

WS_DIR = CAPTURES / "ws"
DEFLATE = ["ws/ws-deflate-lo.pcap", "ws/ws-deflate-nocontext-lo.pcap"]
MIDSTREAM = "ws/eio4-ws-midstream-lo.pcap"
ALL = COMMITTED + DEFLATE + [MIDSTREAM]
# Socket.IO captures: engine.io version and the client-log sessions that ran over websocket
# (Captures/README.md; the polling-upgrade captures: session 1 polling only, session 2 upgraded)
SIO = {
    "eio4-websocket-lo.pcap": [1, 2],
    "eio4-polling-upgrade-any.pcapng": [2],
    "eio3-polling-upgrade-sll.pcap": [2],
    "eio3-websocket-ipv6.pcapng": [1, 2],
    "eio3-websocket-ipv6-nano.pcap": [1, 2],
    "eio4-midstream-lo.pcap": [1, 2],
    MIDSTREAM: [2],  # session 1 started before the capture: test_midstream_inside_a_frame
}
ROUGH_SOURCES = ["eio4-websocket-lo.pcap", "eio4-midstream-lo.pcap"] + DEFLATE + [MIDSTREAM]
ROUGH_MODES = ["split", "dup", "swap", "vlan"]

GIB = 1 << 30
DIRS = ("c2s", "s2c")


# ---------------------------------------------------------------------------------------------
# running imscope, loading logs

@pytest.fixture(scope="session")
def ws_read():
    """ws_read(path) -> the records of `imscope read PATH --layer ws --format jsonl` (cached)."""
    binary = imscope_path()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail("imscope binary not found at %s: build it (swift build) or point IMSCOPE at it" % binary)
    def run(key):
        cmd = [str(binary), "read", key, "--layer", "ws", "--format", "jsonl"]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        assert p.returncode == 0, "%s exited %d; stderr:\n%s" % (" ".join(cmd), p.returncode,
                                                                 p.stderr.decode(errors="replace")[-3000:])
        records = []
        for n, line in enumerate(p.stdout.decode("utf-8").splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as e:
                    raise AssertionError("%s: output line %d is not JSON (%s): %r" % (key, n, e, line[:300]))
        return records

    return per_path(run)


@pytest.fixture(scope="session")
def tshark_msgs(tshark):
    return per_path(lambda key: tshark_ws.messages(key, tshark=tshark))


@pytest.fixture(scope="session")
def follow(oracle):
    """tshark's Follow TCP Stream of a capture: conftest's `oracle`."""
    return oracle


@pytest.fixture(scope="session")
def rough_ws(tmp_path_factory):
    out = tmp_path_factory.mktemp("rough-ws")
    cache = {}

    def make(source, mode):
        if (source, mode) not in cache:
            dst = out / ("%s.%s.pcap" % (Path(source).stem, mode))
            cache[(source, mode)] = (dst, roughen.roughen(mode, str(CAPTURES / source), str(dst)))
        return cache[(source, mode)]

    return make


def load_jsonl(path):
    path = Path(path)
    if not path.exists() and Path(str(path) + ".gz").exists():
        path = Path(str(path) + ".gz")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def peer_log(capture, side):
    stem = capture.rsplit(".", 1)[0]
    return load_jsonl(CAPTURES / ("%s.%s.jsonl" % (stem, side)))


def ws_records(records, conn=None, direction=None, data_only=False):
    out = []
    for r in records:
        if r.get("kind") != "ws" or (conn is not None and r.get("conn") != conn):
            continue
        if direction is not None and r.get("dir") != direction:
            continue
        if data_only and r.get("opcode") not in ("text", "binary"):
            continue
        out.append(r)
    return out


def damaged(r):
    """Why a ws record does not stand for a whole, decoded message (or None)."""
    flags = [k for k in ("inflateFailed", "missing", "truncated") if r.get(k)]
    return ",".join(flags) or None


def text_key(r):
    """What a text record says: its text, or a marker that never equals a text."""
    why = damaged(r)
    if why or "text" not in r:
        return ("<not decoded: %s, length %s>" % (why or "no text key", r.get("length")),)
    return r["text"]


def short(t, n=100):
    if isinstance(t, tuple):
        return t[0]
    return "%r (%d chars)" % (t[:n] + ("..." if len(t) > n else ""), len(t))


def diagnostics(records, code=None, conn=None, direction=None):
    return [r for r in records if r.get("kind") == "diagnostic" and (code is None or r.get("code") == code)
            and (conn is None or r.get("conn") == conn) and (direction is None or r.get("dir") == direction)]


# ---------------------------------------------------------------------------------------------
# Socket.IO packets rebuilt from the peers' logs (python-socketio's encoding, see Captures/peers)

def _placeholders(value, n):
    if isinstance(value, dict):
        if set(value) == {"_binary"}:
            n[0] += 1
            return {"_placeholder": True, "num": n[0] - 1}
        return {k: _placeholders(v, n) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v, n) for v in value]
    return value


def sio_text(packet_type, namespace, ack_id, data, ascii_only):
    """The Engine.IO message text of a Socket.IO EVENT (2) / ACK (3) packet; binary ones become
    BINARY_EVENT/BINARY_ACK with placeholders, as python-socketio 4.6 and 5.x encode them. The
    client encodes JSON with \\u escapes, the server (peers/server.py) raw UTF-8."""
    n = [0]
    data = _placeholders(data, n)
    text = str(packet_type + (3 if n[0] else 0)) + ("%d-" % n[0] if n[0] else "")
    if namespace != "/":
        text += namespace + ","
    if ack_id is not None:
        text += str(ack_id)
    return "4" + text + json.dumps(data, separators=(",", ":"), ensure_ascii=ascii_only)


def sio_from_log(rec, side):
    """(dir, text) of one log record, from the point of view of the log's side."""
    action = rec["action"]
    event_data = [rec["event"]] + rec["args"]
    if side == "client":
        return {"emit": ("c2s", 2, event_data, True), "ack_sent": ("c2s", 3, rec["args"], True),
                "recv": ("s2c", 2, event_data, False), "ack_recv": ("s2c", 3, rec["args"], False)}[action]
    return {"emit": ("s2c", 2, event_data, False), "ack_sent": ("s2c", 3, rec["args"], False),
            "recv": ("c2s", 2, event_data, True), "ack_recv": ("c2s", 3, rec["args"], True)}[action]


def sio_logged(capture, sessions):
    """Counter((dir, text)) of the EVENT/ACK packets the client's log shows in `sessions`."""
    out = collections.Counter()
    for rec in peer_log(capture, "client"):
        if rec.get("session") in sessions:
            d, ptype, data, ascii_only = sio_from_log(rec, "client")
            out[(d, sio_text(ptype, rec["namespace"], rec["ackId"], data, ascii_only))] += 1
    return out


SIO_EVENT_RE = re.compile(r"^4[2356]")  # Engine.IO message carrying EVENT/ACK/BINARY_EVENT/BINARY_ACK
EIO_CONTROL_RE = re.compile(r"^([0-36]|4[01])")  # the other Engine.IO / Socket.IO packets


# ---------------------------------------------------------------------------------------------
# the reference: tshark, and the frame walker for connections tshark does not decode

def plausible_sio(msgs):
    """A chain found by ws_frames.first_chain is Socket.IO traffic: every text is an Engine.IO packet."""
    texts = [m for m in msgs if m.get("opcode") == "text"]
    return len(msgs) >= 2 and all(re.match(r"^[0-6]", m["text"]) for m in texts)


def reference(path, tshark_msgs, follow):
    """{(conn, dir): {"texts": Counter, "source": "tshark"|"walker@OFFSET", "frames": {text: frame}}}"""
    ref = {}
    msgs = tshark_msgs(path)
    for m in msgs:
        slot = ref.setdefault((m["conn"], m["dir"]), {"texts": collections.Counter(), "source": "tshark",
                                                       "frames": {}})
        if m["opcode"] == "text":
            if m.get("text") is None:
                key = ("<tshark could not decode: frame %d, %s>" % (
                    m["frame"], "decompression failed" if m.get("decompressionFailed") else "not UTF-8"),)
            else:
                key = m["text"]
            slot["texts"][key] += 1
            slot["frames"].setdefault(key, m["frame"])
    decoded = {m["conn"] for m in msgs}
    for c in follow(path)["connections"]:
        if c["conn"] in decoded or c["handshake"]:
            continue
        for d in DIRS:
            data = c[d]["data"]
            if not data:
                continue
            off, chain = ws_frames.first_chain(data, d == "c2s", plausible_sio, limit=1 << 20)
            if off is None:
                continue  # not WebSocket as far as the walker can tell
            slot = ref.setdefault((c["conn"], d), {"texts": collections.Counter(), "source": "walker@%d" % off,
                                                   "frames": {}})
            for m in chain:
                if m.get("opcode") == "text" and not m.get("incomplete"):
                    slot["texts"][m["text"]] += 1
    return ref


def compare_texts(name, records, ref):
    problems = []
    got = {}
    frames = {}
    for r in ws_records(records):
        if r.get("opcode") == "text":
            key = text_key(r)
            got.setdefault((r["conn"], r["dir"]), collections.Counter())[key] += 1
            frames.setdefault((r["conn"], r["dir"], key), r.get("frame"))
    for lane in sorted(set(got) | set(ref)):
        want = ref.get(lane, {}).get("texts", collections.Counter())
        have = got.get(lane, collections.Counter())
        if want == have:
            continue
        source = ref.get(lane, {}).get("source", "no reference (tshark and the walker see no WebSocket)")
        head = "%s conn %d %s (reference: %s): imscope %d texts, reference %d" % (
            name, lane[0], lane[1], source, sum(have.values()), sum(want.values()))
        lines = [head]
        for t, n in sorted((want - have).items(), key=lambda kv: str(kv[0]))[:8]:
            lines.append("    only in the reference (x%d, frame %s): %s" % (n, ref[lane]["frames"].get(t), short(t)))
        for t, n in sorted((have - want).items(), key=lambda kv: str(kv[0]))[:8]:
            lines.append("    only in imscope (x%d, frame %s): %s" % (n, frames.get((lane[0], lane[1], t)), short(t)))
        problems.append("\n".join(lines))
    return problems


def report(problems):
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# 0. the files

@pytest.mark.parametrize("name", DEFLATE + [MIDSTREAM])
def test_ws_capture_files(name):
    """Captures/ws/*.pcap: little-endian pcap, microseconds, Ethernet, well under 1 MB, with both
    (gzipped) logs, as Captures/README.md says."""
    path = CAPTURES / name
    raw = path.read_bytes()
    assert len(raw) < 700 * 1024, "%s is %d bytes" % (name, len(raw))
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", raw[:24])
    assert (magic, linktype) == (0xA1B2C3D4, 1)
    for side in ("client", "server"):
        assert (CAPTURES / ("%s.%s.jsonl.gz" % (name.rsplit(".", 1)[0], side))).is_file()
    assert sorted(p.name for p in WS_DIR.glob("*.pcap*")) == sorted(Path(n).name for n in DEFLATE + [MIDSTREAM])


# ---------------------------------------------------------------------------------------------
# 1. texts against tshark

@pytest.mark.parametrize("name", ALL)
def test_texts_match_tshark(name, ws_read, tshark_msgs, follow):
    path = CAPTURES / name
    ref = reference(path, tshark_msgs, follow)
    assert ref, "%s: neither tshark nor the walker finds a WebSocket message" % name
    counts = {"%d %s" % k: (sum(v["texts"].values()), v["source"]) for k, v in sorted(ref.items())}
    print("\n%s: reference texts per conn/dir: %s" % (name, counts))
    report(compare_texts(name, ws_read(path), ref))


@pytest.mark.parametrize("source,mode", [(s, m) for s in ROUGH_SOURCES for m in ROUGH_MODES])
def test_texts_rough_copy(source, mode, rough_ws, ws_read, tshark_msgs, follow):
    path, _ = rough_ws(source, mode)
    ref = reference(CAPTURES / source, tshark_msgs, follow)
    report(compare_texts(path.name, ws_read(path), ref))


@pytest.mark.parametrize("source,mode", [(s, m) for s in ROUGH_SOURCES for m in ROUGH_MODES])
def test_tshark_ws_stable_on_rough_copy(source, mode, rough_ws, tshark_msgs):
    """The oracle itself: tshark decodes the same texts from the rough copy as from the clean capture."""
    path, _ = rough_ws(source, mode)
    assert tshark_ws.text_multiset(tshark_msgs(path)) == tshark_ws.text_multiset(tshark_msgs(CAPTURES / source))


# ---------------------------------------------------------------------------------------------
# 2. against the peers' logs

@pytest.mark.parametrize("name", sorted(SIO))
def test_sio_texts_match_peer_log(name, ws_read):
    """The Socket.IO EVENT/ACK texts imscope decodes from websocket connections are exactly the
    packets the client's log shows for its websocket sessions (rebuilt with python-socketio's encoding)."""
    want = sio_logged(name, SIO[name])
    records = ws_read(CAPTURES / name)
    if name == MIDSTREAM:  # conn 1 is session 1 (test_midstream_inside_a_frame)
        records = [r for r in records if r.get("conn") != 1]
    have = collections.Counter((r["dir"], text_key(r)) for r in ws_records(records)
                               if r.get("opcode") == "text" and SIO_EVENT_RE.match(r.get("text") or "4"))
    problems = []
    for (d, t), n in sorted((want - have).items()):
        problems.append("%s %s: logged but not decoded by imscope (x%d): %s" % (name, d, n, short(t)))
    for (d, t), n in sorted((have - want).items(), key=str):
        problems.append("%s %s: decoded by imscope but not in the log (x%d): %s" % (name, d, n, short(t)))
    report(problems)


def deflate_log_items(log, side):
    """[(dir, item)] in log order: item is ("text", text) / ("binary"|"ping"|"pong", base64) /
    ("close", code, reason)."""
    out = []
    for r in log:
        if r["action"] not in ("send", "recv"):
            continue
        d = ("c2s" if r["action"] == "send" else "s2c") if side == "client" else \
            ("s2c" if r["action"] == "send" else "c2s")
        if r["type"] == "text":
            out.append((d, ("text", r["text"])))
        elif r["type"] == "close":
            out.append((d, ("close", r["closeCode"], r["closeReason"])))
        else:
            out.append((d, (r["type"], r["base64"])))
    return out


def imscope_item(r):
    op = r.get("opcode")
    if op == "text":
        return ("text", text_key(r))
    if op == "close":
        return ("close", r.get("closeCode"), r.get("closeReason", ""))
    why = damaged(r)
    return (op, r.get("base64") if not why else "<not decoded: %s>" % why)


def item_text(item):
    return " ".join(short(x) if isinstance(x, (str, tuple)) and len(str(x)) > 60 else repr(x) for x in item)


@pytest.mark.parametrize("name", DEFLATE)
def test_deflate_peers_logs_agree(name):
    """The two logs tell the same story (what one side sent, the other received, in order), and the
    handshake negotiated what the capture name says."""
    client, server = peer_log(name, "client"), peer_log(name, "server")
    assert deflate_log_items(client, "client") == deflate_log_items(server, "server")
    hs_c = [r for r in client if r["action"] == "handshake"][0]
    hs_s = [r for r in server if r["action"] == "handshake"][0]
    nocontext = "nocontext" in name
    assert hs_c["extensions"] == hs_s["extensions"]
    assert hs_c["contextTakeover"] == hs_s["contextTakeover"] == {"client": not nocontext, "server": not nocontext}
    texts = [r for r in client if r.get("type") == "text"]
    assert max(r["length"] for r in texts) > 150000 and min(r["length"] for r in texts) == 0


@pytest.mark.parametrize("name", DEFLATE)
def test_deflate_texts_match_peer_log(name, ws_read):
    want = collections.Counter((d, it[1]) for d, it in deflate_log_items(peer_log(name, "client"), "client")
                               if it[0] == "text")
    have = collections.Counter((r["dir"], text_key(r)) for r in ws_records(ws_read(CAPTURES / name))
                               if r.get("opcode") == "text")
    problems = ["%s %s: logged, not decoded (x%d): %s" % (name, d, n, short(t)) for (d, t), n in (want - have).items()]
    problems += ["%s %s: decoded, not logged (x%d): %s" % (name, d, n, short(t)) for (d, t), n in (have - want).items()]
    report(problems)


@pytest.mark.parametrize("name", DEFLATE)
def test_deflate_all_messages_in_order(name, ws_read):
    """Every message, control frames included, in the order each side sent them; data messages
    compressed (RSV1, with wireLength), control frames not."""
    records = ws_read(CAPTURES / name)
    problems = []
    for d in DIRS:
        want = [it for dd, it in deflate_log_items(peer_log(name, "client"), "client") if dd == d]
        got = ws_records(records, conn=1, direction=d)
        have = [imscope_item(r) for r in got]
        if have != want:
            at = next((i for i in range(min(len(have), len(want))) if have[i] != want[i]), min(len(have), len(want)))
            problems.append("%s %s: %d messages, the log has %d; first difference at #%d: imscope %s, log %s" % (
                name, d, len(have), len(want), at + 1, item_text(have[at]) if at < len(have) else "-",
                item_text(want[at]) if at < len(want) else "-"))
        for r in got:
            data = r.get("opcode") in ("text", "binary")
            if bool(r.get("compressed")) != data or (data and not isinstance(r.get("wireLength"), int)):
                problems.append("%s %s frame %s: %s message with compressed=%r wireLength=%r" % (
                    name, d, r.get("frame"), r.get("opcode"), r.get("compressed"), r.get("wireLength")))
    bad = [r for r in diagnostics(records) if r.get("code", "").startswith(("ws.", "http.", "tcp."))]
    problems += ["%s: diagnostic %s frame %s: %s" % (name, r["code"], r.get("frame"), r.get("message")) for r in bad]
    report(problems)


# ---------------------------------------------------------------------------------------------
# 3. the capture that starts inside a frame

def test_midstream_inside_a_frame(ws_read, follow):
    path = CAPTURES / MIDSTREAM
    o = follow(path)
    (conn,) = [c for c in o["connections"] if not c["handshake"]]
    n = conn["conn"]
    client_log, server_log = peer_log(MIDSTREAM, "client"), peer_log(MIDSTREAM, "server")
    logged = set()
    for rec in client_log:
        if rec.get("session") == 1:
            d, ptype, data, ascii_only = sio_from_log(rec, "client")
            logged.add((d, sio_text(ptype, rec["namespace"], rec["ackId"], data, ascii_only)))

    def only_logged(d):
        def accept(msgs):
            for m in msgs:
                if m.get("incomplete") or m["opcode"] in ("close", "ping", "pong"):
                    continue
                if m["opcode"] != "text":
                    return False
                if SIO_EVENT_RE.match(m["text"]) and (d, m["text"]) not in logged:
                    return False
                if not SIO_EVENT_RE.match(m["text"]) and not EIO_CONTROL_RE.match(m["text"]):
                    return False
            return len(msgs) >= 2
        return accept

    chains = {}
    for d in DIRS:
        off, chain = ws_frames.first_chain(conn[d]["data"], d == "c2s", only_logged(d), limit=1 << 20)
        assert off is not None, "%s conn %d %s: the walker finds no frame chain in the stream" % (MIDSTREAM, n, d)
        chains[d] = (off, [m for m in chain if not m.get("incomplete")])
    print("\n%s conn %d: first frame boundary c2s at byte %d (%d complete messages), s2c at byte %d (%d)" % (
        MIDSTREAM, n, chains["c2s"][0], len(chains["c2s"][1]), chains["s2c"][0], len(chains["s2c"][1])))
    assert chains["c2s"][0] > 0, "precondition: the capture should start inside a client frame (make-ws-captures.sh)"

    records = ws_read(path)
    problems = []
    mids = diagnostics(records, "ws.midstream", conn=n)
    if not mids:
        problems.append("%s conn %d: no ws.midstream diagnostic" % (MIDSTREAM, n))
    for r in mids:  # "... after skipping N bytes": N is where the first frame starts
        m = re.search(r"skipping (\d+) bytes?", r.get("message", ""))
        want = chains.get(r.get("dir"), (None,))[0]
        if m and want is not None and int(m.group(1)) != want:
            problems.append("%s conn %d %s: ws.midstream says %r, the first frame starts at byte %d" % (
                MIDSTREAM, n, r.get("dir"), r.get("message"), want))
    others = [r for r in diagnostics(records, "ws.midstream") if r.get("conn") != n]
    if others:
        problems.append("%s: ws.midstream for conns with a handshake: %s" % (MIDSTREAM, [r.get("conn") for r in others]))
    for d in DIRS:
        off, chain = chains[d]
        want = []
        for m in chain:
            if m["opcode"] == "text":
                want.append(("text", m["text"]))
            elif m["opcode"] == "close":
                want.append(("close", m.get("closeCode"), m.get("closeReason", "")))
            else:
                want.append((m["opcode"], base64.b64encode(m["payload"]).decode()))
        have = [imscope_item(r) for r in ws_records(records, conn=n, direction=d)]
        if have != want:
            at = next((i for i in range(min(len(have), len(want))) if have[i] != want[i]), min(len(have), len(want)))
            problems.append(
                "%s conn %d %s: imscope has %d messages, the walker %d complete ones after the boundary at byte %d; "
                "first difference at #%d: imscope %s, walker %s; imscope's first records: %s" % (
                    MIDSTREAM, n, d, len(have), len(want), off, at + 1,
                    item_text(have[at]) if at < len(have) else "-", item_text(want[at]) if at < len(want) else "-",
                    [(r.get("frame"), r.get("opcode"), r.get("length")) for r in ws_records(records, conn=n, direction=d)[:6]]))
        mine = [r for r in diagnostics(records, conn=n, direction=d) if r.get("severity") != "info"]
        # No warning; one ws.frame_after_close (info) where the walker shows a data frame after the direction's
        # close (the python-socketio client sends its disconnect packets after its close frame).
        opcodes = [m["opcode"] for m in chain]
        after_close = "close" in opcodes and any(
            o in ("text", "binary") for o in opcodes[opcodes.index("close") + 1:])
        codes = collections.Counter(r["code"] for r in mine)
        codes.update(r["code"] for r in diagnostics(records, "ws.frame_after_close", conn=n, direction=d))
        if codes != collections.Counter({"ws.frame_after_close": 1} if after_close else {}):
            problems.append("%s conn %d %s: %d warnings/errors: %s (data after the close: %s); first: %s" % (
                MIDSTREAM, n, d, len(mine), dict(codes), after_close,
                [(r.get("frame"), r["code"], r.get("message")) for r in mine[:3]]))
    # every Socket.IO packet a peer logged after the capture began is decoded (in conn 1 or 2)
    t0 = float(o["frameTimes"][1])
    decoded = collections.Counter((r["dir"], text_key(r)) for r in ws_records(records) if r.get("opcode") == "text")
    late = []
    for log, side in ((client_log, "client"), (server_log, "server")):
        for rec in log:
            if rec["time"] >= t0 and rec["action"] in ("emit", "ack_sent"):
                d, ptype, data, ascii_only = sio_from_log(rec, side)
                late.append((d, sio_text(ptype, rec["namespace"], rec["ackId"], data, ascii_only)))
    missing = collections.Counter(late) - decoded
    problems += ["%s %s: logged after the capture started (x%d) but not decoded: %s" % (MIDSTREAM, d, c, short(t))
                 for (d, t), c in missing.items()]
    print("%s: %d Socket.IO packets logged after the capture started" % (MIDSTREAM, len(late)))
    report(problems)


# ---------------------------------------------------------------------------------------------
# 4. fragments (crafted)

@pytest.fixture(scope="session")
def fragments(tmp_path_factory):
    path = tmp_path_factory.mktemp("crafted") / "ws-fragments.pcap"
    return path, ws_craft.make_fragments(str(path))


def test_fragments_crafted(fragments, ws_read):
    path, info = fragments
    records = ws_read(path)
    problems = []
    for d in DIRS:
        want = []
        for m in info["messages"]:
            if m["dir"] != d:
                continue
            if m["opcode"] == "text":
                want.append(("text", m["text"]))
            elif m["opcode"] == "close":
                want.append(("close", m["closeCode"], m["closeReason"]))
            else:
                want.append((m["opcode"], m["base64"]))
        # control frames between fragments are reported at once, so they come before the message
        have = [imscope_item(r) for r in ws_records(records, conn=1, direction=d)]
        if sorted(map(str, have)) != sorted(map(str, want)):
            problems.append("%s %s: imscope %s\n    made of %s" % (
                path.name, d, [item_text(x) for x in have], [item_text(x) for x in want]))
        for r in ws_records(records, conn=1, direction=d, data_only=True):
            content = "text" if r["opcode"] == "text" else "base64"
            m = [x for x in info["messages"] if x["dir"] == d and x["opcode"] == r["opcode"] and
                 x.get(content) == r.get(content)]
            if m and (r.get("fragments") != m[0]["fragments"] or bool(r.get("compressed")) != m[0]["compressed"]):
                problems.append("%s %s frame %s: fragments %r compressed %r, made with %d and %r" % (
                    path.name, d, r.get("frame"), r.get("fragments"), r.get("compressed"), m[0]["fragments"],
                    m[0]["compressed"]))
    problems += ["%s: diagnostic %s frame %s: %s" % (path.name, r["code"], r.get("frame"), r.get("message"))
                 for r in diagnostics(records)]
    report(problems)


def test_fragments_tshark_for_the_record(fragments, tshark_msgs):
    """The oracle's handling of fragments: tshark's reassembled text for the uncompressed fragmented
    messages is what the capture was made of. What tshark 4.0 does with compressed fragmented
    messages (it does not inflate them, and loses the inflater of that direction) is printed."""
    path, info = fragments
    msgs = tshark_msgs(path)
    texts = {(m["dir"], m["text"]) for m in msgs if m["opcode"] == "text" and m.get("text") is not None}
    for m in info["messages"]:
        if m["opcode"] == "text" and not m["compressed"] and m["fragments"] > 1:
            assert (m["dir"], m["text"]) in texts, "tshark does not give the reassembled text of %s" % short(m["text"])
    print("\ntshark on %s:" % path.name)
    for m in msgs:
        if m["opcode"] == "text":
            print("  frame %d %s text, %d fragment(s): %s" % (
                m["frame"], m["dir"], m["fragments"], "decompression failed" if m.get("decompressionFailed") else
                short(m["text"]) if m.get("text") is not None else "not UTF-8 (%d bytes, not inflated)" % len(m["raw"])))


# ---------------------------------------------------------------------------------------------
# 5. the decompression bomb

def run_measured(cmd, out_path, timeout, address_space=None):
    """Run cmd with stdout to out_path; (exit code or None on timeout, seconds, peak RSS in MiB, stderr).

    The peak RSS is GNU time's (%M) of the command it forks: the rusage of a child forked from this pytest process
    starts from pytest's own resident size (Linux keeps the pre-exec high-water mark), which a long session makes
    hundreds of MiB."""
    def limits():
        if address_space:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    err_path = str(out_path) + ".stderr"
    rss_path = str(out_path) + ".rss"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_path] + cmd, stdout=out, stderr=err,
                             preexec_fn=limits, start_new_session=True)
        try:
            p.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            timed_out = True
        seconds = time.monotonic() - start
    with open(err_path, "rb") as f:
        stderr = f.read().decode(errors="replace")
    try:
        with open(rss_path) as f:
            rss = int(f.read().split()[-1]) / 1024.0
    except (OSError, ValueError, IndexError):
        rss = float("nan")
    return (None if timed_out else p.returncode), seconds, rss, stderr


@pytest.fixture(scope="session")
def bomb(tmp_path_factory):
    path = tmp_path_factory.mktemp("bomb") / "ws-bomb.pcap"
    return path, ws_craft.make_bomb(str(path))


def test_bomb(bomb):
    path, info = bomb
    binary = imscope_path()
    out = path.with_suffix(".imscope.jsonl")
    rc, seconds, rss, stderr = run_measured([str(binary), "read", str(path), "--layer", "ws", "--format", "jsonl"],
                                            out, timeout=600)
    print("\nimscope on %s (%d bytes, 1 GiB inflated): exit %s, %.2f s, peak RSS %.1f MiB" % (
        path.name, path.stat().st_size, rc, seconds, rss))
    assert rc == 0, "imscope exited %s: %s" % (rc, stderr[-2000:])
    with open(out, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    problems = []
    if rss >= 256:
        problems.append("peak RSS %.1f MiB, the limit is 256 MiB" % rss)
    big, ping, after = info["messages"]
    too_large = diagnostics(records, "ws.message_too_large", conn=1, direction="s2c")
    if not too_large:
        problems.append("no ws.message_too_large diagnostic for conn 1 s2c (diagnostics: %s)" % [
            (r.get("code"), r.get("message")) for r in diagnostics(records)])
    s2c = ws_records(records, conn=1, direction="s2c", data_only=True)
    c2s = ws_records(records, conn=1, direction="c2s", data_only=True)
    if len(s2c) != 2:
        problems.append("%d s2c messages, expected the bomb and %r: %s" % (
            len(s2c), after["text"], [(r.get("frame"), r.get("length"), damaged(r)) for r in s2c]))
    if s2c:
        b = s2c[0]
        if b.get("length") != GIB or b.get("truncated") is not True:
            problems.append("bomb record: length %r truncated %r, expected %d and true" % (
                b.get("length"), b.get("truncated"), GIB))
        if b.get("frame") != big["frame"] or b.get("wireLength") != big["wireLength"] or b.get("inflateFailed"):
            problems.append("bomb record: frame %r wireLength %r inflateFailed %r, expected frame %d wireLength %d" % (
                b.get("frame"), b.get("wireLength"), b.get("inflateFailed"), big["frame"], big["wireLength"]))
        kept = b.get("text") or ""
        if not kept or set(kept) != {"a"} or len(kept) > 64 << 20:
            problems.append("bomb record keeps %d characters (%r...), expected a prefix of the 'a's" % (
                len(kept), kept[:20]))
    for name, recs, want in (("s2c after the bomb", s2c[1:], after), ("c2s", c2s, ping)):
        if len(recs) != 1 or recs[0].get("text") != want["text"] or damaged(recs[0]) or recs[0].get("frame") != want["frame"]:
            problems.append("%s: %s, expected %r in frame %d" % (name, [
                (r.get("frame"), r.get("text"), damaged(r)) for r in recs], want["text"], want["frame"]))
    report(problems)


def test_bomb_tshark_for_the_record(bomb, tshark):
    """Not a check: what tshark 4.0 does with the bomb (time, memory, whether it decodes the message
    after it), printed for the record. tshark runs with an 8 GiB address-space limit."""
    path, info = bomb
    big, ping, after = info["messages"]
    out = path.with_suffix(".tshark.txt")
    cmd = [tshark, "-n", "-r", str(path)] + tshark_ws.PREFS + [
        "-d", "tcp.port==9092,http", "-Y", "websocket && frame.number != %d" % big["frame"], "-T", "fields",
        "-e", "frame.number", "-e", "websocket.opcode", "-e", "websocket.pmc", "-e", "websocket.payload.text",
        "-e", "websocket.decompression.failed.expert"]
    rc, seconds, rss, stderr = run_measured(cmd, out, timeout=900, address_space=8 << 30)
    lines = out.read_text(errors="replace").splitlines()
    print("\ntshark on %s: exit %s%s, %.1f s, peak RSS %.1f MiB; messages after the bomb: %s; stderr: %s" % (
        path.name, rc, " (timed out)" if rc is None else "", seconds, rss,
        [line.split("\t") for line in lines], stderr.strip().splitlines()[-3:]))


# ---------------------------------------------------------------------------------------------
# 6. a segment lost inside a large compressed message

def stream_segments(pcap, segs, conns, conn, direction):
    """[(record index, stream offset, length)] of the data segments of one direction, and the bytes."""
    base = None
    items = []
    for i, s in enumerate(segs):
        if s is None or conns.of(s) != (conn, direction):
            continue
        if base is None:
            base = s.seq + 1 if s.flags & roughen.SYN else s.seq
        if s.payload_len:
            off = (s.seq + (1 if s.flags & roughen.SYN else 0) - base) & 0xFFFFFFFF
            items.append((i, off, s.payload_len))
    data = bytearray(max(o + n for _, o, n in items))
    for i, off, n in items:
        s = segs[i]
        data[off:off + n] = pcap.records[i].data[s.payload:s.payload + n]
    return items, bytes(data)


def drop_inside_message(src, dst, direction="s2c"):
    """Copy of src without one data segment from the middle of the payload of the direction's
    largest compressed message; returns a sidecar dict."""
    pcap = roughen.read_pcap(str(src))
    segs = [roughen.parse(r.data, pcap.linktype) for r in pcap.records]
    conns = roughen.Conns(segs, 9092)
    items, data = stream_segments(pcap, segs, conns, 0, direction)
    start = data.index(b"\r\n\r\n") + 4  # after the request or the 101 response
    msgs, _ = ws_frames.walk(data, direction == "c2s", start, rsv1_ok=True)
    data_msgs = [m for m in msgs if m.get("opcode") in ("text", "binary")]
    big = max(data_msgs, key=lambda m: m["end"] - m["offset"])
    inside = [(i, o, n) for i, o, n in items if o > big["offset"] + 16 and o + n < big["end"]]
    i, off, n = inside[len(inside) // 2]
    roughen.write_pcap(str(dst), pcap, [r for k, r in enumerate(pcap.records) if k != i])
    return {"frame": i + 1, "streamOffset": off, "droppedBytes": n, "message": data_msgs.index(big),
            "messageOffset": big["offset"], "messageEnd": big["end"], "dir": direction}


def check_damaged_direction(name, records, log_items, d, summary):
    """No decoded message of direction d that is not in the log, in log order; undecoded ones are
    flagged and have their diagnostic. Returns problems; fills summary."""
    problems = []
    want = [it for dd, it in log_items if dd == d and it[0] in ("text", "binary")]
    got = ws_records(records, conn=1, direction=d, data_only=True)
    # a message that failed to inflate (not the one the gap hit: ws.gap says that) has its
    # ws.inflate_failed; the diagnostic may come from an earlier frame than the record (the frame
    # where inflating failed, the record's is the one that completed the message)
    failed = [r for r in got if r.get("inflateFailed") and not r.get("missing")]
    failed_diags = diagnostics(records, "ws.inflate_failed", conn=1, direction=d)
    if len(failed) != len(failed_diags):
        problems.append("%s %s: %d messages flagged inflateFailed (besides the one with missing bytes), %d "
                        "ws.inflate_failed diagnostics" % (name, d, len(failed), len(failed_diags)))
    j = 0
    for r in got:
        why = damaged(r)
        if why:
            summary.append((r.get("frame"), r.get("opcode"), why, r.get("length")))
            partial = r.get("text") or ""
            if partial and not any(w[0] == "text" and w[1].startswith(partial) for w in want):
                problems.append("%s %s frame %s (%s): text %s is no logged message's beginning" % (
                    name, d, r.get("frame"), why, short(partial)))
            continue
        item = imscope_item(r)
        k = next((k for k in range(j, len(want)) if want[k] == item), None)
        if k is None:
            problems.append("%s %s frame %s: decoded %s, which is not a logged message (after #%d)%s" % (
                name, d, r.get("frame"), item_text(item), j,
                " -- it is one, out of order" if item in want else ""))
        else:
            summary.append((r.get("frame"), r.get("opcode"), "ok", r.get("length")))
            j = k + 1
    return problems


def check_drop(name, records, log_items, d, expect_boundaries):
    problems = []
    other = "c2s" if d == "s2c" else "s2c"
    want = [it for dd, it in log_items if dd == other]
    have = [imscope_item(r) for r in ws_records(records, conn=1, direction=other)]
    if have != want:
        problems.append("%s %s (undamaged direction): %d messages, the log %d" % (name, other, len(have), len(want)))
    loss = [r for r in diagnostics(records, conn=1, direction=other) if r["code"].startswith("ws.")]
    problems += ["%s %s (undamaged): diagnostic %s" % (name, other, r["code"]) for r in loss]
    gaps = diagnostics(records, "ws.gap", 1, d) + diagnostics(records, "ws.lost_sync", 1, d)
    if not gaps:
        problems.append("%s %s: no ws.gap or ws.lost_sync (diagnostics: %s)" % (
            name, d, [r["code"] for r in diagnostics(records, conn=1)]))
    if not diagnostics(records, "ws.inflate_context_lost", 1, d):
        problems.append("%s %s: no ws.inflate_context_lost (diagnostics: %s)" % (
            name, d, [r["code"] for r in diagnostics(records, conn=1)]))
    summary = []
    problems += check_damaged_direction(name, records, log_items, d, summary)
    if expect_boundaries:
        n_want = len([it for dd, it in log_items if dd == d and it[0] in ("text", "binary")])
        n_have = len(ws_records(records, conn=1, direction=d, data_only=True))
        if n_have != n_want:
            problems.append("%s %s: %d data messages, the log has %d (a gap inside a payload keeps the frame "
                            "boundaries, says the user guide)" % (name, d, n_have, n_want))
    return problems, summary


def print_drop_summary(name, sidecar, records, d, summary):
    print("\n%s: dropped frame %d (%d bytes at %s stream offset %d)" % (
        name, sidecar["frame"], sidecar["droppedBytes"], d, sidecar["streamOffset"]))
    for code in ("ws.gap", "ws.lost_sync", "ws.resync", "ws.inflate_context_lost", "ws.inflate_failed"):
        rs = diagnostics(records, code, 1, d)
        if rs:
            print("  %s x%d, first: frame %s %s" % (code, len(rs), rs[0].get("frame"), rs[0].get("message")))
    ok = sum(1 for s in summary if s[2] == "ok")
    print("  %s data messages: %d decoded exactly, %d not decoded: %s" % (
        d, ok, len(summary) - ok, [s for s in summary if s[2] != "ok"]))


def test_drop_inside_compressed_message(tmp_path, ws_read):
    name = DEFLATE[0]
    dst = tmp_path / "ws-deflate-lo.drop-inside.pcap"
    sidecar = drop_inside_message(CAPTURES / name, dst)
    records = ws_read(dst)
    log_items = deflate_log_items(peer_log(name, "client"), "client")
    problems, summary = check_drop(dst.name, records, log_items, sidecar["dir"], expect_boundaries=True)
    print_drop_summary(dst.name, sidecar, records, sidecar["dir"], summary)
    hit = ws_records(records, conn=1, direction=sidecar["dir"], data_only=True)
    if len(hit) > sidecar["message"]:
        r = hit[sidecar["message"]]
        if not (r.get("missing") or r.get("inflateFailed")):
            problems.append("%s: the message the drop hit (frame %s) has neither missing nor inflateFailed: %s" % (
                dst.name, r.get("frame"), {k: v for k, v in r.items() if k != "text"}))
        elif r.get("missing") and r.get("missing") != sidecar["droppedBytes"]:
            problems.append("%s: the damaged message says missing %r, %d bytes were dropped" % (
                dst.name, r.get("missing"), sidecar["droppedBytes"]))
    report(problems)


def test_roughen_drop(rough_ws, ws_read):
    name = DEFLATE[0]
    path, sidecar = rough_ws(name, "drop")
    records = ws_read(path)
    log_items = deflate_log_items(peer_log(name, "client"), "client")
    problems, summary = check_drop(path.name, records, log_items, sidecar["dir"], expect_boundaries=False)
    print_drop_summary(path.name, sidecar, records, sidecar["dir"], summary)
    report(problems)
