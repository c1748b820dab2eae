"""The committed captures are what Captures/README.md says, and the peers' logs agree with each other.

No imscope and no tshark needed: these check the test material itself.
"""

import json
import struct

import pytest

from conftest import CAPTURES, COMMITTED, LIVE, assert_logs_agree

# name -> (format, link type, timestamp precision)
FORMATS = {
    "eio4-websocket-lo.pcap": ("pcap", 1, "micro"),
    "eio4-polling-upgrade-any.pcapng": ("pcapng", 276, "nano"),
    "eio3-polling-upgrade-sll.pcap": ("pcap", 113, "micro"),
    "eio3-websocket-ipv6.pcapng": ("pcapng", 1, "nano"),
    "eio3-websocket-ipv6-nano.pcap": ("pcap", 1, "nano"),
    "eio4-midstream-lo.pcap": ("pcap", 1, "micro"),
}


def capture_format(path):
    raw = path.read_bytes()
    for e in "<>":
        magic = struct.unpack(e + "I", raw[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            return "pcap", struct.unpack(e + "I", raw[20:24])[0] & 0xFFFF, "nano" if magic == 0xA1B23C4D else "micro"
    assert raw[:4] == b"\x0a\x0d\x0d\x0a", "%s: neither pcap nor pcapng" % path
    e = "<" if raw[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    off, linktypes, resolutions = 0, [], []
    while off + 12 <= len(raw):
        btype, blen = struct.unpack(e + "II", raw[off:off + 8])
        if btype == 1:  # interface description block
            linktypes.append(struct.unpack(e + "H", raw[off + 8:off + 10])[0])
            res, o = 6, off + 16
            while o + 4 <= off + blen - 4:
                code, olen = struct.unpack(e + "HH", raw[o:o + 4])
                if code == 0:
                    break
                if code == 9:
                    res = raw[o + 4]
                o += 4 + (olen + 3) // 4 * 4
            resolutions.append(res)
        off += blen
    assert len(set(linktypes)) == 1 and len(set(resolutions)) == 1, (linktypes, resolutions)
    return "pcapng", linktypes[0], {6: "micro", 9: "nano"}.get(resolutions[0], str(resolutions[0]))


def test_every_committed_capture_is_described():
    assert sorted(FORMATS) == COMMITTED


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_capture_format(name):
    path = CAPTURES / name
    assert path.stat().st_size < 1024 * 1024, "%s is %d bytes" % (name, path.stat().st_size)
    assert capture_format(path) == FORMATS[name]
    stem = name.rsplit(".", 1)[0]
    for side in ("client", "server"):
        assert (CAPTURES / ("%s.%s.jsonl" % (stem, side))).is_file()


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def check_logs(client_log, server_log):
    client, server = load(client_log), load(server_log)
    assert {r["side"] for r in client} == {"client"} and {r["side"] for r in server} == {"server"}
    # what one side sent, the other received, in the same order (one client at a time)
    assert_logs_agree(client, server)
    # what the README promises each session holds
    sessions = sorted({r["session"] for r in client})
    assert len(sessions) >= 2
    for s in sessions:
        mine = [r for r in client if r["session"] == s]
        chats = [r["args"][0] for r in mine if r["action"] == "emit" and r["event"] == "chat" and r["namespace"] == "/"]
        assert [m["messageType"] for m in chats] == [2, 3, 4, 16, 2, 2]
        assert max(len(m["content"].encode("utf-8")) for m in chats) >= 20000
        assert json.loads(chats[2]["content"])["filished"] is False
        binary = [r for r in mine if "_binary" in json.dumps(r["args"])]
        assert {r["action"] for r in binary} >= {"emit", "recv", "ack_sent"}
        assert any(r["event"] == "chatroom" and r["action"] == "recv" for r in mine)
        assert any(r["namespace"] == "/admin" and r["action"] == "ack_recv" for r in mine)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_peer_logs_agree(name):
    stem = name.rsplit(".", 1)[0]
    check_logs(CAPTURES / (stem + ".client.jsonl"), CAPTURES / (stem + ".server.jsonl"))


@pytest.mark.live
@pytest.mark.parametrize("name", LIVE)
def test_live_peer_logs_agree(name, live_captures):
    check_logs(live_captures / (name + ".client.jsonl"), live_captures / (name + ".server.jsonl"))
