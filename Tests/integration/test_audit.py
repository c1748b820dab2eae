"""Acceptance tests of `imscope audit FILE...` (issue 21, part 1: the per-message audit of one or more captures).

Run: .venv/eio4/bin/pytest -q Tests/integration/test_audit.py   (IMSCOPE as in conftest.py)

 1. the bundled replay captures (Captures/replay/README.md: real python-socketio peers, Engine.IO 3 and 4,
    websocket, polling, the upgrade, a namespace): every message the server routed is `delivered` with its ack and
    delivery latencies, the readies (upstream-only type 1) are `not-routed`, the server's presence notices
    delivered; the first chatroom enter and the last leave reached nobody (`unobserved`), as the README says.
 2. the same capture with the frames that delivered the two read receipts cut out (editcap): a capture gap on the
    recipient's connection, so those two are `unknown-gap`, nothing else changes.
 3. two captures of one run (two capture processes) merged audit as one of them: nothing counted twice.
 4. --fail-on: exit 3 when a message has one of the statuses, 64 for a status that does not exist.
 5. read receipts tied to the messages they read (refersTo / referredBy).
 6. a regressed server (read receipts no longer routed) recorded here with tcpdump (root) while imscope replays
    the chat against it: exactly the two read receipts are `undelivered`, with the recipient connected.
"""

import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import CAPTURES, imscope_path

REPLAY = CAPTURES / "replay"
WS = REPLAY / "replay-eio4-websocket.pcap"
READ1, READ2 = "3c6ca233-e8d6-4aa0-bcfd-9bc3d9eb6c11", "c1ee709e-3b6a-4a7e-a110-0fa020dbc7a3"


def audit(*args):
    p = subprocess.run([str(imscope_path()), "audit", *map(str, args), "--format", "json"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def by_status(result):
    out = {}
    for m in result["messages"]:
        out.setdefault(m["status"], set()).add(m["msgId"])
    return out


@pytest.mark.parametrize("capture", ["replay-eio4-websocket.pcap", "replay-eio3-polling-upgrade.pcap",
                                     "replay-eio4-polling.pcap"])
def test_chat_captures_all_delivered(capture):
    """The chat conversation: 8 sends (2 readies not routed, 6 routed and delivered to the other user once, each
    acked ok) and 4 presence notices from the server."""
    result = audit(REPLAY / capture)
    counts = result["summary"]["status"]
    assert counts["delivered"] == 10 and counts["not-routed"] == 2, counts
    assert sum(counts.values()) == 12 == result["summary"]["messages"]
    routed = [m for m in result["messages"] if m["sent"] and m["status"] == "delivered"]
    assert len(routed) == 6
    for m in routed:
        assert m["acked"] is not None and m["ackLatencyMs"] > 0, m
        assert [d["to"] for d in m["delivered"]] == [m["destId"]], m
        assert len(m["delivered"][0]["frames"]) == 1 and m["delivered"][0]["latencyMs"] > 0, m
    readies = [m for m in result["messages"] if m["status"] == "not-routed"]
    assert {m["messageType"] for m in readies} == {1}
    # the server's notices have no send, so no latency: 8 acks, 6 deliveries measured
    assert result["summary"]["ack"]["count"] == 8 and result["summary"]["delivery"]["count"] == 6


def test_room_capture():
    """The room conversation: the first chatroom enter and the last leave reached nobody (unobserved), everything
    else delivered; the image with a binary attachment among them."""
    result = audit(REPLAY / "replay-eio4-namespace.pcap")
    unobserved = sorted(m["messageType"] for m in result["messages"] if m["status"] == "unobserved")
    assert unobserved == [100, 101], unobserved
    assert result["summary"]["status"]["delivered"] == 9, result["summary"]


def test_gap_hides_deliveries(tmp_path):
    """Frames 41 and 61 (the read receipts' deliveries to u1, Captures/replay/README.md) cut out: a gap on u1's
    connection after they were sent, so the audit cannot say they were lost: unknown-gap."""
    if not shutil.which("editcap"):
        pytest.skip("editcap not installed")
    cut = tmp_path / "cut.pcap"
    subprocess.run(["editcap", str(WS), str(cut), "41", "61"], check=True)
    result = audit(cut)
    statuses = by_status(result)
    assert statuses.get("unknown-gap") == {READ1, READ2}, statuses
    assert result["summary"]["status"]["delivered"] == 8


@pytest.mark.skipif(os.geteuid() != 0, reason="recording a capture needs root (tcpdump)")
def test_regressed_server_undelivered(im_server, tmp_path):
    """A server that acks read receipts (33) but no longer routes them, recorded on loopback while imscope replays
    the chat against it: exactly the two read receipts are undelivered, their recipient connected throughout."""
    if not shutil.which("tcpdump"):
        pytest.skip("tcpdump not installed")
    srv = im_server("eio4", regress=["drop-type:33"])
    pcap = tmp_path / "regressed.pcap"
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-w", str(pcap), "tcp port %d" % srv.port],
                            stderr=subprocess.PIPE)
    try:
        time.sleep(1)
        subprocess.run([str(imscope_path()), "replay", str(WS), "--server", srv.url, "--timeout", "2", "-q"],
                       capture_output=True, timeout=60)
        time.sleep(0.5)
    finally:
        dump.terminate()
        dump.wait(timeout=10)
    result = audit(pcap, "--port", srv.port)
    statuses = by_status(result)
    undelivered = statuses.get("undelivered", set())
    assert len(undelivered) == 2, statuses
    for m in result["messages"]:
        if m["msgId"] in undelivered:
            assert m["messageType"] == 33 and m["acked"] is not None and m["delivered"] == [], m
    assert result["summary"]["status"]["delivered"] == 8, result["summary"]


def test_fail_on():
    """--fail-on: exit 3 when a message has one of the statuses (the echo server of Captures/README.md sends each
    chat back to its sender, never to destId: its routed messages are undelivered), 0 when none has, 64 for a
    status that does not exist."""
    binary = str(imscope_path())
    p = subprocess.run([binary, "audit", str(CAPTURES / "eio4-websocket-lo.pcap"), "--fail-on", "undelivered,unacked"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 3 and "audit: 12 messages undelivered,unacked: exit 3" in p.stderr, p
    p = subprocess.run([binary, "audit", str(WS), "--fail-on", "undelivered,unacked"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p
    p = subprocess.run([binary, "audit", str(WS), "--fail-on", "lost"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 64 and "'lost' is no status" in p.stderr, p


def test_two_captures_of_one_run_audit_as_one():
    """The same run captured by two processes (Captures/README.md: eio3-websocket-ipv6.pcapng and its nanosecond
    pcap twin) merged: each message counted once, every status and delivery as in one of them alone."""
    one = audit(CAPTURES / "eio3-websocket-ipv6.pcapng")
    both = audit(CAPTURES / "eio3-websocket-ipv6.pcapng", CAPTURES / "eio3-websocket-ipv6-nano.pcap")
    assert both["summary"]["status"] == one["summary"]["status"]
    assert [(m["msgId"], m["status"], [d["to"] for d in m["delivered"]]) for m in both["messages"]] == \
        [(m["msgId"], m["status"], [d["to"] for d in m["delivered"]]) for m in one["messages"]]
    assert all(len(d["frames"]) == 1 for m in both["messages"] for d in m["delivered"])


def test_read_receipts_tied_to_their_messages():
    """The two read receipts (33) name the texts they read in their content (Captures/replay/README.md): each
    receipt refersTo its text, and each text lists the receipt in referredBy."""
    result = audit(WS)
    by_id = {m["msgId"]: m for m in result["messages"]}
    texts = {READ1: "dae3e0b3-19e4-4f60-958d-beaca6c9ac5c", READ2: "344d3f6e-327d-40f7-81fd-750ae7eaaffc"}
    for receipt, text in texts.items():
        assert by_id[receipt]["refersTo"] == text
        assert by_id[text]["referredBy"] == [{"fromId": "u2", "kind": "read", "msgId": receipt}]
    assert sum(1 for m in result["messages"] if "refersTo" in m) == 2
