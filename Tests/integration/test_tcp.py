"""imscope's TCP layer against tshark, on real captures and rough copies of them.

Run: .venv/eio4/bin/pytest -q Tests/integration   (IMSCOPE=path/to/imscope to pick the binary)

Every check compares `imscope read FILE --layer tcp --format jsonl --write-streams DIR` with the
figures tshark's Follow TCP Stream gives for the *clean* capture (tshark_oracle.py):
  - one open and one close record per connection, keyed by client and server IP:PORT, numbered
    like tshark's tcp.stream + 1, closed for the reason the capture shows (fin/rst/end-of-capture);
  - per direction `bytes` == the oracle's count and `missing` == 0; DIR/<conn>.<dir> has exactly
    the oracle's bytes (SHA-256), and a direction that carried nothing has no file or an empty one;
  - no diagnostic that says bytes were lost or mangled.
Rough copies (roughen.py, made in pytest's tmp dir) must give the clean figures (split, dup, swap,
swapack, vlan, qinq); drop must report exactly the dropped bytes missing in the named connection
and direction (and leave them out of the stream file) and leave everything else as clean;
snaplen must account for every byte (bytes + missing == clean), deliver exactly the bytes the cut
frames still hold, and say capture.truncated.
"""

import os
import shutil
import subprocess
from decimal import Decimal

import pytest

from conftest import CAPTURES, COMMITTED, LIVE, ROUGH_CASES, sha256

DIRS = ("c2s", "s2c")
# diagnostics that mean bytes were lost, cut, or could not be decoded
LOSS_CODES = {"tcp.gap", "capture.truncated", "capture.read_error", "capture.unsupported_link", "tcp.buffer_limit",
              "tcp.connection_limit", "tcp.out_of_window", "tcp.overlap_conflict", "tcp.malformed", "ip.malformed",
              "ip.fragment_incomplete", "ip.fragment_limit"}
CLEAN_EQUIVALENT = ("split", "dup", "swap", "swapack", "vlan", "qinq")
# rough copies on which tshark's own follow gives the clean figures (swapack shows ACKs before the
# data they acknowledge, which tshark's follow gives up as missing: see roughen.py)
ORACLE_STABLE = ("split", "dup", "swap", "vlan", "qinq")


def expected_from_oracle(o):
    """{(client, server): {"conn", "reason", "handshake", "c2s": {"bytes", "missing", "data"}, "s2c": ...}}"""
    exp = {}
    for c in o["connections"]:
        exp[(c["client"], c["server"])] = {
            "conn": c["conn"], "reason": c["closeReason"], "handshake": c["handshake"],
            "c2s": {"bytes": c["c2s"]["bytes"], "missing": 0, "data": c["c2s"]["data"]},
            "s2c": {"bytes": c["s2c"]["bytes"], "missing": 0, "data": c["s2c"]["data"]},
        }
    return exp


def check_frames(tag, rec, frame, times):
    """rec (an open or close record) was completed by `frame` and has its time, to the digit."""
    problems = []
    if rec.get("frame") != frame:
        problems.append("%s: %s record has frame %r, expected %d" % (tag, rec.get("event"), rec.get("frame"), frame))
    elif Decimal(times[frame]) != rec.get("ts"):
        problems.append("%s: %s record (frame %d) has ts %s, the frame's time is %s"
                        % (tag, rec.get("event"), frame, rec.get("ts"), times[frame]))
    return problems


def check_tcp(run, expected, facts=None, fin_frame=True):
    """All differences between imscope's conn records / stream files and `expected`, as text.

    With `facts` (tshark_oracle.frame_facts of the file read): an open record carries the frame
    and time of the connection's first packet; a close record those of the packet that closed
    it: the first RST, the last frame of the capture for end-of-capture, and (when `fin_frame`)
    the second FIN."""
    problems = []
    name = run.capture.name
    opens, closes = {}, {}
    for r in run.of_kind("conn"):
        key = (r.get("client"), r.get("server"))
        bucket = {"open": opens, "close": closes}.get(r.get("event"))
        if bucket is not None:
            bucket.setdefault(key, []).append(r)
    for key in sorted(set(opens) | set(closes) | set(expected)):
        tag = "%s conn %s -> %s" % (name, key[0], key[1])
        if key not in expected:
            problems.append("%s: imscope reports a connection tshark does not have" % tag)
            continue
        exp = expected[key]
        tag = "%s conn #%d %s -> %s" % (name, exp["conn"], key[0], key[1])
        o, c = opens.get(key, []), closes.get(key, [])
        if len(o) != 1 or len(c) != 1:
            problems.append("%s: %d open and %d close records, expected 1 and 1" % (tag, len(o), len(c)))
            if not c:
                continue
        close = c[0]
        for r in o[:1] + [close]:
            if r.get("conn") != exp["conn"]:
                problems.append("%s: %s record has conn %r, expected %d (tshark tcp.stream %d + 1)"
                                % (tag, r.get("event"), r.get("conn"), exp["conn"], exp["conn"] - 1))
        if close.get("reason") != exp["reason"]:
            problems.append("%s: close reason %r, expected %r" % (tag, close.get("reason"), exp["reason"]))
        f = facts and facts["connections"].get(key)
        if f:
            times = facts["frameTimes"]
            if o:
                problems += check_frames(tag, o[0], f["firstFrame"], times)
            closing = None
            if exp["reason"] == "rst":
                closing = min(x for x in f["rstFrame"].values() if x)
            elif exp["reason"] == "end-of-capture":
                closing = facts["lastFrame"]
            elif fin_frame:
                closing = max(f["finFrame"].values())
            if closing is not None:
                problems += check_frames(tag, close, closing, times)
        got_bytes, got_missing = close.get("bytes") or {}, close.get("missing") or {}
        for d in DIRS:
            want = exp[d]
            if got_bytes.get(d) != want["bytes"]:
                problems.append("%s %s: bytes %r, expected %d" % (tag, d, got_bytes.get(d), want["bytes"]))
            if got_missing.get(d) != want["missing"]:
                problems.append("%s %s: missing %r, expected %d" % (tag, d, got_missing.get(d), want["missing"]))
            path = run.stream_file(close.get("conn", exp["conn"]), d)
            data = path.read_bytes() if path.exists() else None
            if data is None:
                if want["bytes"] != 0:
                    problems.append("%s %s: no stream file %s" % (tag, d, path.name))
                continue
            if want.get("data") is not None:
                if data != want["data"]:
                    at = next((i for i in range(min(len(data), len(want["data"]))) if data[i] != want["data"][i]),
                              min(len(data), len(want["data"])))
                    problems.append("%s %s: stream file %s has %d bytes (sha256 %s), expected %d (sha256 %s); "
                                    "first difference at offset %d"
                                    % (tag, d, path.name, len(data), sha256(data)[:16], len(want["data"]),
                                       sha256(want["data"])[:16], at))
            elif len(data) != want["bytes"]:
                problems.append("%s %s: stream file %s has %d bytes, expected %d"
                                % (tag, d, path.name, len(data), want["bytes"]))
    known = {"%d.%s" % (e["conn"], d) for e in expected.values() for d in DIRS}
    for f in sorted(os.listdir(run.streams)):
        if f not in known:
            problems.append("%s: unexpected file %s in the --write-streams directory" % (name, f))
    return problems


def check_no_loss(run):
    bad = [r for r in run.diagnostics() if r.get("code") in LOSS_CODES]
    return ["%s: diagnostic %s (%s) frame %s conn %s %s: %s"
            % (run.capture.name, r.get("code"), r.get("severity"), r.get("frame"), r.get("conn"), r.get("dir"),
               r.get("message")) for r in bad[:20]]


def check_midstream(run, expected):
    """tcp.midstream (info) for exactly the connections whose handshake is not in the capture."""
    want = {e["conn"] for e in expected.values() if not e["handshake"]}
    got = {r.get("conn") for r in run.diagnostics("tcp.midstream")}
    if want != got:
        return ["%s: tcp.midstream diagnostics for conns %s, expected for %s"
                % (run.capture.name, sorted(got, key=str), sorted(want))]
    return []


def report(problems):
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# committed captures

@pytest.mark.parametrize("name", COMMITTED)
def test_committed_capture(name, oracle, facts, imscope):
    clean = oracle(CAPTURES / name)
    assert clean["connections"], "%s: tshark sees no TCP connection" % name
    expected = expected_from_oracle(clean)
    run = imscope(CAPTURES / name)
    report(check_tcp(run, expected, facts(CAPTURES / name)) + check_no_loss(run) + check_midstream(run, expected))


# ---------------------------------------------------------------------------------------------
# rough copies

@pytest.mark.parametrize("source,mode", [c for c in ROUGH_CASES if c[1] in ORACLE_STABLE])
def test_oracle_agrees_on_rough_copy(source, mode, rough, oracle):
    """The copies really carry the same streams (and tshark handles them): a check of roughen.py
    and of the oracle, independent of imscope."""
    path, _ = rough(source, mode)
    clean = {(c["client"], c["server"]): (c["c2s"]["sha256"], c["s2c"]["sha256"], c["c2s"]["bytes"],
                                          c["s2c"]["bytes"]) for c in oracle(CAPTURES / source)["connections"]}
    copy = {(c["client"], c["server"]): (c["c2s"]["sha256"], c["s2c"]["sha256"], c["c2s"]["bytes"],
                                         c["s2c"]["bytes"]) for c in oracle(path)["connections"]}
    assert copy == clean


@pytest.mark.parametrize("source,mode", [c for c in ROUGH_CASES if c[1] in CLEAN_EQUIVALENT])
def test_rough_copy_same_as_clean(source, mode, rough, oracle, facts, imscope):
    path, sidecar = rough(source, mode)
    expected = expected_from_oracle(oracle(CAPTURES / source))
    run = imscope(path)
    # a swap may move a FIN ahead of the data before it: then the FIN frame does not close
    report(check_tcp(run, expected, facts(path), fin_frame=mode not in ("swap", "swapack"))
           + check_no_loss(run) + check_midstream(run, expected))


@pytest.mark.parametrize("source", [c[0] for c in ROUGH_CASES if c[1] == "drop"])
def test_rough_copy_drop(source, rough, oracle, facts, imscope):
    path, sidecar = rough(source, "drop")
    expected = expected_from_oracle(oracle(CAPTURES / source))
    key = (sidecar["conn"]["client"], sidecar["conn"]["server"])
    assert key in expected, "sidecar names %s, not a connection of %s" % (key, source)
    d, n, off = sidecar["dir"], sidecar["droppedBytes"], sidecar["streamOffset"]
    lane = expected[key][d]
    assert n > 0 and off + n <= lane["bytes"], sidecar
    clean_data = lane["data"]
    lane.update(bytes=lane["bytes"] - n, missing=n, data=clean_data[:off] + clean_data[off + n:])
    run = imscope(path)
    # with a hole the close may wait for the ACK of the FIN: no FIN frame check
    problems = check_tcp(run, expected, facts(path), fin_frame=False) + check_midstream(run, expected)
    conn = expected[key]["conn"]
    gaps = run.diagnostics("tcp.gap")
    if not any(g.get("conn") == conn and g.get("dir") == d for g in gaps):
        problems.append("%s: no tcp.gap diagnostic for conn %d %s (dropped frame %d, %d bytes at offset %d); "
                        "tcp.gap diagnostics: %s" % (path.name, conn, d, sidecar["frame"], n, off,
                                                     [(g.get("conn"), g.get("dir")) for g in gaps]))
    others = [g for g in gaps if (g.get("conn"), g.get("dir")) != (conn, d)]
    if others:
        problems.append("%s: tcp.gap diagnostics for other streams: %s"
                        % (path.name, [(g.get("conn"), g.get("dir"), g.get("message")) for g in others]))
    problems += [p for p in check_no_loss(run) if "tcp.gap" not in p]
    report(problems)


@pytest.mark.parametrize("source", [c[0] for c in ROUGH_CASES if c[1] == "snaplen"])
def test_rough_copy_snaplen(source, rough, oracle, facts, imscope):
    path, sidecar = rough(source, "snaplen")
    where = facts(path)
    assert sidecar["framesTruncated"] > 0
    expected = expected_from_oracle(oracle(CAPTURES / source))
    captured = {(c["client"], c["server"]): c["capturedPayload"] for c in sidecar["connections"]}
    spans = {(c["client"], c["server"]): c["capturedRanges"] for c in sidecar["connections"]}
    run = imscope(path)
    closes = {(r.get("client"), r.get("server")): r for r in run.of_kind("conn", event="close")}
    problems = []
    for key, exp in sorted(expected.items()):
        tag = "%s conn #%d %s -> %s" % (path.name, exp["conn"], key[0], key[1])
        close = closes.get(key)
        if close is None:
            problems.append("%s: no close record" % tag)
            continue
        if close.get("reason") != exp["reason"]:
            problems.append("%s: close reason %r, expected %r" % (tag, close.get("reason"), exp["reason"]))
        f = where["connections"][key]
        if exp["reason"] == "rst":  # cut payload does not delay a RST
            problems += check_frames(tag, close, min(x for x in f["rstFrame"].values() if x), where["frameTimes"])
        for d in DIRS:
            b, m = (close.get("bytes") or {}).get(d), (close.get("missing") or {}).get(d)
            if not isinstance(b, int) or not isinstance(m, int):
                problems.append("%s %s: bytes %r missing %r" % (tag, d, b, m))
                continue
            if b + m != exp[d]["bytes"]:
                problems.append("%s %s: bytes %d + missing %d = %d, expected %d (the clean stream)"
                                % (tag, d, b, m, b + m, exp[d]["bytes"]))
            have = captured.get(key, {}).get(d, 0)
            if b != have:
                problems.append("%s %s: bytes %d, but the cut frames still hold %d payload bytes "
                                "(\"a packet cut by the snapshot length delivers the bytes it has\")" % (tag, d, b, have))
            f = run.stream_file(close.get("conn"), d)
            data = f.read_bytes() if f.exists() else b""
            if len(data) != b:
                problems.append("%s %s: stream file has %d bytes, close record says %d" % (tag, d, len(data), b))
            # the file holds the captured bytes, in stream order, and nothing for the cut-off rest
            want = b"".join(exp[d]["data"][lo:hi] for lo, hi in spans.get(key, {}).get(d, []))
            if data != want:
                at = next((i for i in range(min(len(data), len(want))) if data[i] != want[i]),
                          min(len(data), len(want)))
                problems.append("%s %s: stream file differs from the captured bytes of the clean stream "
                                "(%d vs %d bytes, first difference at file offset %d)" % (tag, d, len(data), len(want), at))
    if set(closes) != set(expected):
        problems.append("%s: connections %s, expected %s" % (path.name, sorted(closes), sorted(expected)))
    truncated = run.diagnostics("capture.truncated")
    if not truncated:
        problems.append("%s: no capture.truncated diagnostic (%d frames were cut to %d bytes)"
                        % (path.name, sidecar["framesTruncated"], sidecar["snaplen"]))
    report(problems)


# ---------------------------------------------------------------------------------------------
# fresh captures from the real peers

@pytest.mark.live
@pytest.mark.parametrize("name", LIVE)
def test_live_capture(name, live_captures, oracle, facts, imscope):
    (path,) = [p for p in live_captures.iterdir() if p.name.startswith(name + ".pcap")]
    clean = oracle(path)
    assert len(clean["connections"]) >= 2, "%s: expected several connections, tshark sees %d" % (
        name, len(clean["connections"]))
    expected = expected_from_oracle(clean)
    run = imscope(path)
    report(check_tcp(run, expected, facts(path)) + check_no_loss(run) + check_midstream(run, expected))


# ---------------------------------------------------------------------------------------------
# several files in one run

MERGED = ["eio4-websocket-lo.pcap", "eio4-polling-upgrade-any.pcapng", "eio3-polling-upgrade-sll.pcap"]


def test_several_files_merged(tmp_path, oracle, facts, imscope):
    """`imscope read A B C` is `imscope read` of what mergecap makes of them (DESIGN: FILE...;
    user guide: merged in time order, frames numbered as after mergecap). The three files differ
    in link type (Ethernet, SLL2, SLL) and precision (us, ns)."""
    mergecap = shutil.which("mergecap")
    if not mergecap:
        pytest.skip("mergecap (Wireshark) is not installed")
    merged = tmp_path / "merged.pcapng"
    subprocess.run([mergecap, "-w", str(merged)] + [str(CAPTURES / n) for n in MERGED], check=True)
    expected = expected_from_oracle(oracle(merged))
    run = imscope(*[CAPTURES / n for n in MERGED])
    report(check_tcp(run, expected, facts(merged)) + check_no_loss(run) + check_midstream(run, expected))
