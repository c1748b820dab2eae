#!/usr/bin/env python3
"""Crafted WebSocket captures for the cases real peers do not produce on demand.

Usage: ws_craft.py bomb OUT.pcap        the decompression bomb (about 1.1 MB, 3-4 s to make)
       ws_craft.py fragments OUT.pcap   fragmented messages, control frames between fragments
Each also writes OUT.pcap.json: what is in it (the expected messages, frames, sizes).

Every capture is one TCP connection 10.9.0.1:40000 -> 10.9.0.2:9092 on Ethernet (pcap, us):
three-way handshake, the HTTP/1.1 upgrade (a real Sec-WebSocket-Key and its correct
Sec-WebSocket-Accept, permessage-deflate negotiated with context takeover), WebSocket frames
in TCP segments of at most 1448 bytes, each answered by an ACK, then FIN from both sides.
Packets are 20 us apart. Standard library only (and roughen.py for the pcap writing).

bomb:      ONE server->client text message, compressed (RSV1), whose payload is a raw DEFLATE
           stream (zlib, wbits -15, level 9, Z_SYNC_FLUSH, the trailing 00 00 ff ff removed as
           RFC 7692 says) that inflates to 1 GiB of "a"; about 1.04 MB on the wire, in about 720
           segments; then the client's small compressed text "ping after the bomb", then the
           server's small compressed text "after the bomb", compressed by the same compressor
           (context takeover: it may refer to the bomb's window), then FIN.
fragments: messages split into frames, and frames split across and packed into segments:
           an uncompressed text in 3 fragments with a ping between fragments 1 and 2 (server),
           a compressed text in 4 fragments, RSV1 on the first only (server), a compressed
           single-frame text after it (server, context takeover), a masked client text in 2
           fragments with a pong between them, a compressed binary in 2 fragments (client),
           a frame header split across two segments, and several frames in one segment; then
           a close each way.
"""

import argparse
import base64
import hashlib
import json
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import roughen  # noqa: E402

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLIENT = (bytes([10, 9, 0, 1]), 40000)
SERVER = (bytes([10, 9, 0, 2]), 9092)
MAC_C, MAC_S = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
MSS = 1448
T0 = 1763700000
GIB = 1 << 30
BOMB_AFTER = "after the bomb"
BOMB_CLIENT = "ping after the bomb"


# ---------------------------------------------------------------------------------------------
# TCP

class Flow:
    """One TCP connection written packet by packet; sequence/ack numbers, ids and checksums kept."""

    def __init__(self, client=CLIENT, server=SERVER, isn_c=0x1000_0000, isn_s=0x7000_0000):
        self.ends = {True: client, False: server}
        self.macs = {True: (MAC_C, MAC_S), False: (MAC_S, MAC_C)}
        self.seq = {True: isn_c, False: isn_s}
        self.ipid = {True: 0x100, False: 0x900}
        self.records = []
        self.usec = 0

    def packet(self, from_client, flags, payload=b"", options=b""):
        (src, sport), (dst, dport) = self.ends[from_client], self.ends[not from_client]
        ack = self.seq[not from_client] if flags & roughen.ACK else 0
        thl = 20 + len(options)
        tcp = struct.pack("!HHIIHHHH", sport, dport, self.seq[from_client] & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          ((thl // 4) << 12) | flags, 65535, 0, 0) + options
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        csum = roughen.checksum(pseudo + tcp + payload)
        tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
        self.ipid[from_client] += 1
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), self.ipid[from_client] & 0xFFFF,
                         0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", roughen.checksum(ip)) + ip[12:]
        dmac, smac = self.macs[from_client][1], self.macs[from_client][0]
        frame = dmac + smac + struct.pack("!H", roughen.ETH_IPV4) + ip + tcp + payload
        self.usec += 20
        sec, usec = divmod(self.usec, 1_000_000)
        self.records.append(roughen.Record(T0 + sec, usec, frame, len(frame)))
        self.seq[from_client] += len(payload) + (1 if flags & (roughen.SYN | roughen.FIN) else 0)
        return len(self.records)  # frame number

    def handshake(self):
        mss = struct.pack("!BBH", 2, 4, MSS + 12)
        self.packet(True, roughen.SYN, options=mss)
        self.packet(False, roughen.SYN | roughen.ACK, options=mss)
        self.packet(True, roughen.ACK)

    def send(self, from_client, data, cuts=None):
        """Send `data` in segments of at most MSS bytes, or cut at the offsets in `cuts`; the
        peer ACKs each one. Returns the frame number of the last data segment."""
        bounds = sorted(set([0, len(data)] + [c for c in (cuts or []) if 0 < c < len(data)]))
        last = None
        for a, b in zip(bounds, bounds[1:]):
            for off in range(a, b, MSS):
                last = self.packet(from_client, roughen.ACK | roughen.PSH, data[off:min(off + MSS, b)])
                self.packet(not from_client, roughen.ACK)
        return last

    def finish(self):
        self.packet(False, roughen.FIN | roughen.ACK)
        self.packet(True, roughen.FIN | roughen.ACK)
        self.packet(False, roughen.ACK)

    def write(self, path):
        pcap = roughen.Pcap("<", False, (2, 4), 0, 0, 262144, roughen.LINKTYPE_ETHERNET, self.records)
        roughen.write_pcap(path, pcap, self.records)


# ---------------------------------------------------------------------------------------------
# HTTP upgrade and WebSocket frames

def ws_key(seed):
    return base64.b64encode(hashlib.sha256(seed).digest()[:16]).decode("ascii")


def ws_accept(key):
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + WS_GUID).digest()).decode("ascii")


def upgrade(flow, key, offer="permessage-deflate; client_max_window_bits", answer="permessage-deflate"):
    req = ("GET /ws HTTP/1.1\r\nHost: 10.9.0.2:9092\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: %s\r\n\r\n" % (key, offer))
    resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
            "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: %s\r\n\r\n" % (ws_accept(key), answer))
    flow.send(True, req.encode("ascii"))
    return flow.send(False, resp.encode("ascii"))


def frame(opcode, payload, fin=True, rsv1=False, mask=None):
    """One RFC 6455 frame; `mask` (4 bytes) for client frames."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += mask
    return head + payload


def close_payload(code, reason):
    return struct.pack("!H", code) + reason.encode("utf-8")


class Deflater:
    """permessage-deflate sender with context takeover: raw DEFLATE, Z_SYNC_FLUSH per message,
    the trailing 00 00 ff ff removed."""

    def __init__(self, level=9):
        self.z = zlib.compressobj(level, zlib.DEFLATED, -15)

    def message(self, chunks):
        out = [self.z.compress(c) for c in chunks]
        out.append(self.z.flush(zlib.Z_SYNC_FLUSH))
        data = b"".join(out)
        assert data.endswith(b"\x00\x00\xff\xff")
        return data[:-4]


# ---------------------------------------------------------------------------------------------
# the captures

def make_bomb(path, size=GIB, chunk=1 << 20):
    flow = Flow()
    flow.handshake()
    key = ws_key(b"imscope ws-bomb")
    upgrade(flow, key)
    server = Deflater(level=9)
    client = Deflater(level=9)
    block = b"a" * chunk
    n, rest = divmod(size, chunk)
    bomb = server.message([block] * n + ([b"a" * rest] if rest else []))
    bomb_frame = flow.send(False, frame(1, bomb, rsv1=True))
    ping = client.message([BOMB_CLIENT.encode()])
    ping_frame = flow.send(True, frame(1, ping, rsv1=True, mask=b"\x12\x34\x56\x78"))
    after = server.message([BOMB_AFTER.encode()])
    after_frame = flow.send(False, frame(1, after, rsv1=True))
    flow.finish()
    flow.write(path)
    info = {"capture": os.path.basename(path), "key": key, "accept": ws_accept(key),
            "client": "10.9.0.1:40000", "server": "10.9.0.2:9092", "frames": len(flow.records),
            "messages": [
                {"dir": "s2c", "opcode": "text", "compressed": True, "length": size, "wireLength": len(bomb),
                 "frame": bomb_frame, "textPrefix": "a" * 16, "sha256": None},
                {"dir": "c2s", "opcode": "text", "compressed": True, "length": len(BOMB_CLIENT), "text": BOMB_CLIENT,
                 "wireLength": len(ping), "frame": ping_frame},
                {"dir": "s2c", "opcode": "text", "compressed": True, "length": len(BOMB_AFTER), "text": BOMB_AFTER,
                 "wireLength": len(after), "frame": after_frame}]}
    with open(path + ".json", "w") as f:
        json.dump(info, f, indent=1)
    return info


FRAG_TEXT_1 = "first fragment, " + "second fragment — 第二段, " + "third and last ✓"
FRAG_TEXT_2 = " ".join("compressed-fragmented-%d ünïcode 消息" % i for i in range(400))
FRAG_TEXT_3 = "after the fragments: compressed-fragmented-7 ünïcode 消息 (refers back)"
FRAG_TEXT_4 = "client says: " + "masked fragments " * 20


def make_fragments(path):
    flow = Flow(isn_c=0xFFFF_FF00, isn_s=0x0000_1234)  # the client's sequence numbers wrap
    flow.handshake()
    key = ws_key(b"imscope ws-fragments")
    upgrade(flow, key)
    sdef, cdef = Deflater(level=6), Deflater(level=6)
    mask = lambda i: bytes([0xA0 + i, 0x5B, 0x00, 0xFF])  # noqa: E731
    msgs = []

    # 1. server: uncompressed text in 3 fragments, a ping between fragments 1 and 2; all in one segment
    t = FRAG_TEXT_1.encode()
    parts = [t[:16], t[16:16 + len("second fragment — 第二段, ".encode())], t[16 + len("second fragment — 第二段, ".encode()):]]
    data = (frame(1, parts[0], fin=False) + frame(9, b"between fragments") + frame(0, parts[1], fin=False)
            + frame(0, parts[2]))
    f1 = flow.send(False, data)
    msgs.append({"dir": "s2c", "opcode": "text", "text": FRAG_TEXT_1, "fragments": 3, "compressed": False, "frame": f1})
    msgs.append({"dir": "s2c", "opcode": "ping", "base64": base64.b64encode(b"between fragments").decode(), "frame": f1})
    # the client answers the ping (masked pong)
    flow.send(True, frame(10, b"between fragments", mask=mask(1)))
    msgs.append({"dir": "c2s", "opcode": "pong", "base64": base64.b64encode(b"between fragments").decode()})

    # 2. server: a compressed text in 4 fragments (RSV1 on the first only), the second frame's
    #    header split across two segments
    z = sdef.message([FRAG_TEXT_2.encode()])
    q = len(z) // 4
    pieces = [z[:q], z[q:2 * q], z[2 * q:3 * q], z[3 * q:]]
    fr = [frame(1, pieces[0], fin=False, rsv1=True), frame(0, pieces[1], fin=False), frame(0, pieces[2], fin=False),
          frame(0, pieces[3])]
    data = b"".join(fr)
    split_header = len(fr[0]) + 1  # one byte of the second frame's header in the first segment
    f2 = flow.send(False, data, cuts=[split_header])
    msgs.append({"dir": "s2c", "opcode": "text", "text": FRAG_TEXT_2, "fragments": 4, "compressed": True, "frame": f2})

    # 3. server: a compressed single-frame text that refers back to message 2 (context takeover)
    z3 = sdef.message([FRAG_TEXT_3.encode()])
    f3 = flow.send(False, frame(1, z3, rsv1=True))
    msgs.append({"dir": "s2c", "opcode": "text", "text": FRAG_TEXT_3, "fragments": 1, "compressed": True,
                 "frame": f3, "wireLength": len(z3)})

    # 4. client: masked text in 2 fragments with a pong (unsolicited) between them, 3 segments
    t4 = FRAG_TEXT_4.encode()
    data = frame(1, t4[:100], fin=False, mask=mask(2)) + frame(10, b"unsolicited", mask=mask(3)) + \
        frame(0, t4[100:], mask=mask(4))
    f4 = flow.send(True, data, cuts=[50, 110])
    msgs.append({"dir": "c2s", "opcode": "pong", "base64": base64.b64encode(b"unsolicited").decode()})
    msgs.append({"dir": "c2s", "opcode": "text", "text": FRAG_TEXT_4, "fragments": 2, "compressed": False, "frame": f4})

    # 5. client: a compressed binary in 2 fragments
    blob = bytes(range(256)) * 8
    zb = cdef.message([blob])
    data = frame(2, zb[:len(zb) // 2], fin=False, rsv1=True, mask=mask(5)) + frame(0, zb[len(zb) // 2:], mask=mask(6))
    f5 = flow.send(True, data)
    msgs.append({"dir": "c2s", "opcode": "binary", "base64": base64.b64encode(blob).decode(), "fragments": 2,
                 "compressed": True, "frame": f5})

    # 6. a short compressed text each way, then close each way
    zc = cdef.message(["client bye ✓".encode()])
    flow.send(True, frame(1, zc, rsv1=True, mask=mask(7)))
    msgs.append({"dir": "c2s", "opcode": "text", "text": "client bye ✓", "fragments": 1, "compressed": True})
    zs = sdef.message(["server bye ✓".encode()])
    flow.send(False, frame(1, zs, rsv1=True))
    msgs.append({"dir": "s2c", "opcode": "text", "text": "server bye ✓", "fragments": 1, "compressed": True})
    flow.send(True, frame(8, close_payload(1000, "done ✓"), mask=mask(8)))
    flow.send(False, frame(8, close_payload(1000, "done too")))
    msgs.append({"dir": "c2s", "opcode": "close", "closeCode": 1000, "closeReason": "done ✓"})
    msgs.append({"dir": "s2c", "opcode": "close", "closeCode": 1000, "closeReason": "done too"})
    flow.finish()
    flow.write(path)
    info = {"capture": os.path.basename(path), "key": key, "accept": ws_accept(key), "client": "10.9.0.1:40000",
            "server": "10.9.0.2:9092", "frames": len(flow.records), "messages": msgs}
    with open(path + ".json", "w") as f:
        json.dump(info, f, indent=1, ensure_ascii=False)
    return info


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["bomb", "fragments"])
    p.add_argument("output")
    a = p.parse_args()
    info = (make_bomb if a.what == "bomb" else make_fragments)(a.output)
    print(json.dumps({k: v for k, v in info.items() if k != "messages"}))


if __name__ == "__main__":
    main()
