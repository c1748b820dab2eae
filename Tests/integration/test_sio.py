"""Issue 4 acceptance: imscope's Socket.IO timeline holds exactly what the peers logged.

Run: IMSCOPE=$PWD/.build/debug/imscope .venv/eio4/bin/pytest -q Tests/integration/test_sio.py
(-m "not live" without the fresh captures; `python3 siolog.py CAPTURE [--wire]` prints the
problems of one capture.)

The peers (Captures/peers/) log every event they emitted and received and every ack, sent or
received, to NAME.client.jsonl and NAME.server.jsonl (.gz in Captures/ws/). For every capture with
such logs `imscope read NAME --layer sio --format jsonl` must give (the rules in siolog.py):

 1. messages: the EVENT/BINARY_EVENT and ACK/BINARY_ACK records, as the multiset of (direction,
    namespace, event or ack, event name (for an ACK the event of the request its ack.frame names),
    arguments as JSON values with bytes as {"_binary": base64} compared by their bytes, ackId), equal
    the client log's per session (each client session is the imscope session sharing most of its
    messages; the order must agree) and the server log's as a whole: nothing missing, nothing extra.
    Only messages the capture holds from their first byte count: each is placed by its sender's log
    time against the capture's first packet, with a 50 ms slack settled by the bytes on the wire
    (siolog, "Which log entries a capture can hold"). Binary packets are exactly those with bytes
    among their arguments, `attachments` their number.
    CONNECT/DISCONNECT, which the logs do not show: each session captured from its start has a client
    CONNECT per namespace it used (Engine.IO 3, i.e. Socket.IO 4: but "/", which is implicit), each
    answered by the server's CONNECT (Socket.IO 5: {"sid": ...}; Socket.IO 4: also "/"), none when the
    handshake is missing; the client's leaving shows (DISCONNECT, Engine.IO close or WebSocket close);
    and the CONNECT/DISCONNECT/CONNECT_ERROR records, the eio records and the number of Socket.IO packets
    per connection and direction equal the wire: tshark's HTTP/WebSocket dissection, or for a
    connection without handshake a frame walk over tshark's Follow-TCP-Stream bytes (python-socketio
    sometimes closes before its DISCONNECTs are out: only the wire says which exist).
 2. acks: every ACK's ack.frame names exactly one request (opposite direction, same namespace, ackId
    and session; not after the ACK), latencyMs == (ack ts - request ts) x 1000 within 0.001; an ACK
    without `ack` and sio.ack_unmatched only where the capture cannot hold the request; requests
    without an ACK record and sio.ack_missing exactly for those the logs show unanswered in the capture.
 3. sessions: one imscope session per client session the capture holds; one s2c open record with the
    sid first in each session captured from its start; one session and one transport per connection
    (websocket on upgraded and handshake-less connections); a polling session spans several
    connections and its upgraded websocket connection carries its sid; every eio/sio record has the
    Engine.IO version of the file name; non-probe pings go c2s in Engine.IO 3 and s2c in 4, a probe
    ping goes c2s and its pong s2c over the websocket.
 4. rough copies that lose nothing (split, dup, swap, swapack, vlan, qinq; roughen.py via conftest):
    the same eio/sio records and decoder diagnostics as the clean capture (minus what the copy moves:
    see POSITION), and checks 1-3 hold on them.
 5. live: fresh Engine.IO 3 and 4 polling+upgrade captures (make-captures.sh) pass checks 1-3.
 6. clean captures have no http.*, ws.*, eio.* or sio.* diagnostic, but on a connection without
    handshake ws.midstream and eio.version_guessed (both required), ws.resync where the stream starts
    inside a frame, and sio.ack_unmatched for an ACK whose request precedes the capture.
Where imscope is wrong the case is marked xfail(strict=True) with the bug as its reason.
"""

import os
import subprocess
import time

import pytest

import siolog
from conftest import CAPTURES, COMMITTED, ROUGH_SOURCES, _live_prerequisites, imscope_path, per_path


def _with_socketio_logs():
    """The captures under Captures/ (relative names) with both peers' logs in the Socket.IO format
    (NAME.client.jsonl[.gz], NAME.server.jsonl[.gz]); Captures/ws/ also holds plain WebSocket
    captures whose logs are in another format (they are test_ws.py's)."""
    names = []
    for p in sorted(CAPTURES.rglob("*.pcap*")):
        if p.suffix in (".pcap", ".pcapng") and all(
                x.exists() and siolog.is_socketio_log(x) for x in siolog.log_paths(p)):
            names.append(str(p.relative_to(CAPTURES)))
    return names


WITH_LOGS = _with_socketio_logs()
CLEAN_EQUIVALENT = ("split", "dup", "swap", "swapack", "vlan", "qinq")
# fresh captures: one Engine.IO 3 and one Engine.IO 4 polling + upgrade capture
LIVE_SIO = ["eio3-polling-upgrade-sll", "eio4-polling-upgrade-any"]

# ---------------------------------------------------------------------------------------------
# imscope bugs the cases expose. strict: a fix makes the case fail until its mark is removed.

XFAIL_CAPTURE = {}  # {capture: {test: reason}}; the late-frame bug of the mid-stream capture is fixed

# swapack: an ACK captured before its request (on another polling connection) is held for the
# reorder window and paired (sio.ack_unmatched/ack_missing were raised there before issue 18).
XFAIL_ROUGH = {}  # {(source, mode): reason}


def _xfail(reason):
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def cases(test):
    return [pytest.param(n, marks=_xfail(XFAIL_CAPTURE.get(n, {}).get(test))) for n in WITH_LOGS]


ROUGH = [pytest.param(src, mode, marks=_xfail(XFAIL_ROUGH.get((src, mode))))
         for src, modes in ROUGH_SOURCES.items() for mode in modes if mode in CLEAN_EQUIVALENT]


@pytest.fixture(scope="session")
def sio_binary():
    binary = imscope_path()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail("imscope binary not found at %s: build it (swift build) or point IMSCOPE at it" % binary)
    return binary


@pytest.fixture(scope="session")
def sio_read(sio_binary):
    """sio_read(path) -> imscope's records at layer sio, computed once per file."""
    return per_path(lambda key: siolog.run_imscope(sio_binary, key))


@pytest.fixture(scope="session")
def wire(tshark):
    """wire(path) -> siolog.wire_packets (tshark's view of the Engine.IO packets), once per file."""
    return per_path(lambda key: siolog.wire_packets(key, tshark=tshark))


def logs_of(capture):
    client, server = siolog.log_paths(capture)
    return siolog.load_log(client), siolog.load_log(server)


def report(problems, limit=60):
    if problems:
        more = "" if len(problems) <= limit else "\n... and %d more" % (len(problems) - limit)
        pytest.fail("%d problem(s):\n%s%s" % (len(problems), "\n".join(problems[:limit]), more), pytrace=False)


# ---------------------------------------------------------------------------------------------
# committed captures

def test_every_capture_has_logs():
    assert set(COMMITTED) <= set(WITH_LOGS), "captures without Socket.IO peer logs: %s" % sorted(
        set(COMMITTED) - set(WITH_LOGS))


@pytest.mark.parametrize("name", cases("messages"))
def test_messages_match_peer_logs(name, sio_read, wire):
    client, server = logs_of(CAPTURES / name)
    report(siolog.check_messages(name, siolog.Timeline(sio_read(CAPTURES / name)), client, server,
                                 wire(CAPTURES / name)))


@pytest.mark.parametrize("name", cases("connect"))
def test_connect_disconnect(name, sio_read, wire):
    client, server = logs_of(CAPTURES / name)
    w = wire(CAPTURES / name)
    report(siolog.check_connects(name, siolog.Timeline(sio_read(CAPTURES / name)), client, server, w["version"], w))


@pytest.mark.parametrize("name", cases("wire"))
def test_control_packets_and_frames_match_wire(name, sio_read, wire):
    report(siolog.check_wire(name, siolog.Timeline(sio_read(CAPTURES / name)), wire(CAPTURES / name)))


@pytest.mark.parametrize("name", cases("acks"))
def test_acks(name, sio_read, wire):
    client, server = logs_of(CAPTURES / name)
    report(siolog.check_acks(name, siolog.Timeline(sio_read(CAPTURES / name)), client, server,
                             wire=wire(CAPTURES / name)))


@pytest.mark.parametrize("name", cases("sessions"))
def test_sessions(name, sio_read, wire):
    client, server = logs_of(CAPTURES / name)
    w = wire(CAPTURES / name)
    report(siolog.check_sessions(name, siolog.Timeline(sio_read(CAPTURES / name)), client, server, w["version"], w))


@pytest.mark.parametrize("name", cases("diagnostics"))
def test_no_unexpected_diagnostics(name, sio_read, wire):
    report(siolog.check_diagnostics(name, siolog.Timeline(sio_read(CAPTURES / name)), wire(CAPTURES / name)))


# ---------------------------------------------------------------------------------------------
# rough copies that lose nothing
#
# What may differ from the clean capture's records, and why:
#   vlan, qinq   nothing: the same packets with tags, so the same frames and times.
#   split, dup   frame numbers (and so ack.frame): every data segment became several frames. The
#                pieces and the copies keep the original timestamp, so ts and latencyMs stay.
#   swap,        frame, ts, ack.frame and latencyMs: adjacent data segments trade places while the
#   swapack      timestamps stay with the positions, so the segment that completes a message can
#                be a different frame with a different time.
#   swapack      also the order across directions: the copy shows the peer's ACK, and what the
#                peer sent with or after it, before the data it acknowledges, so a message of one
#                direction can be completed before one of the other that came first. Records are
#                compared per connection and direction there, in order.
# Everything else (conn, dir, transport, sid, eio, sio, the rest of ack, diagnostics of the
# decoder layers without their position) must be identical, and checks 1-3 must hold on the copy
# itself (there ack.frame and latencyMs are checked against the copy's own frames and times).

POSITION = {"vlan": (), "qinq": (), "split": ("frame",), "dup": ("frame",),
            "swap": ("frame", "ts"), "swapack": ("frame", "ts")}


def _strip(records, fields):
    out = []
    for r in siolog.comparable(records):
        for f in fields:
            r.pop(f, None)
            if "ack" in r:
                r["ack"].pop(f, None)
                if f == "ts":
                    r["ack"].pop("latencyMs", None)
        out.append(r)
    return out


def _by_lane(records):
    lanes = {}
    for r in records:
        lanes.setdefault((r.get("conn"), r.get("dir")), []).append(r)
    return lanes


@pytest.mark.parametrize("source,mode", ROUGH)
def test_rough_copy(source, mode, rough, sio_read, wire):
    path, _ = rough(source, mode)
    clean = _strip(sio_read(CAPTURES / source), POSITION[mode])
    copy = _strip(sio_read(path), POSITION[mode])
    problems = []
    if mode == "swapack":
        a, b = _by_lane(clean), _by_lane(copy)
    else:
        a, b = {"all": clean}, {"all": copy}
    for lane in sorted(set(a) | set(b), key=repr):
        x, y = a.get(lane, []), b.get(lane, [])
        if x != y:
            at = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), min(len(x), len(y)))
            problems.append("%s %s, %s: %d records, the clean capture %d; first difference at record %d:\n"
                            "  copy:  %s\n  clean: %s" % (path.name, mode, lane, len(y), len(x), at,
                                                          siolog.short(y[at] if at < len(y) else None, 400),
                                                          siolog.short(x[at] if at < len(x) else None, 400)))
    client, server = logs_of(CAPTURES / source)
    # the wire: tshark on the copy, except for swapack, where tshark's reassembly gives up bytes
    # whose ACK it saw first (README); there the clean capture's, without its frame numbers
    w = wire(CAPTURES / source) if mode == "swapack" else wire(path)
    problems += siolog.check_all(path.name, sio_read(path), client, server, w["version"], w,
                                 reordered=mode in ("swap", "swapack"), frames=mode != "swapack")
    report(problems)


# ---------------------------------------------------------------------------------------------
# fresh captures

@pytest.fixture(scope="module")
def live_sio_captures(tmp_path_factory):
    why = _live_prerequisites()
    if why:
        pytest.skip("live captures: " + why)
    out = tmp_path_factory.mktemp("live-sio")
    started = time.monotonic()
    p = subprocess.run([str(CAPTURES / "make-captures.sh"), "-o", str(out)] + LIVE_SIO,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert p.returncode == 0, "make-captures.sh failed:\n" + p.stdout.decode(errors="replace")[-5000:]
    return out, time.monotonic() - started


@pytest.mark.live
@pytest.mark.parametrize("name", LIVE_SIO)
def test_live_capture(name, live_sio_captures, sio_read, tshark):
    out, _ = live_sio_captures
    (path,) = [p for p in out.iterdir() if p.name.startswith(name + ".pcap")]
    client, server = logs_of(path)
    w = siolog.wire_packets(path, tshark=tshark)
    report(siolog.check_all(path.name, sio_read(path), client, server, w["version"], w))
