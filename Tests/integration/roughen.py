#!/usr/bin/env python3
"""Makes deterministic "rough" copies of a clean capture for TCP reassembly tests.

Usage: roughen.py MODE INPUT OUTPUT [--port 9092] [--snaplen 128] [--seed 1] [-p 0.5]
Writes OUTPUT and a sidecar OUTPUT.json saying what was done.

INPUT is a pcap (microsecond or nanosecond timestamps, either byte order) or a pcapng file (one
section, packets in Enhanced Packet Blocks, any number of interfaces, each with its own link type
and time resolution), recognised by its magic number, not its name. OUTPUT is written in the same
format: a pcap keeps its link type, precision and byte order; a pcapng keeps its section header,
interfaces and other blocks (name resolution, decryption secrets; interface statistics go last),
and each packet its interface and options. Link types: Ethernet (with 802.1Q/802.1ad tags), Linux
cooked SLL and SLL2, BSD NULL and LOOP, raw IP (101, 228, 229); vlan/qinq need Ethernet; the three
reorderings also take other link types, whose packets they move without looking inside. Only the
Python standard library is used.

Modes (a "data segment" is a TCP segment with payload):
  split    every data segment of more than one byte becomes 3 segments (2 when it has 2 bytes),
           with correct sequence numbers, IPv4 total length / IPv6 payload length, distinct IPv4
           ids, IPv4 header checksum and TCP checksum; PSH/FIN/RST go on the last piece, SYN on
           the first; all pieces keep the original timestamp
  dup      every data segment is followed by an exact copy (a retransmission); in addition every
           4th data segment of a direction whose next data segment follows it contiguously is
           followed by a partial retransmission that overlaps both: the second half of its
           payload and the first half of the next one (so part of it is new data that the next
           segment repeats)
  swap     adjacent data segments of one connection and direction trade places (out of order
           delivery), pairwise, when at most 3 frames of that connection and at most 0.1 s lie
           between them, none of them is a RST and none acknowledges bytes of the first one (the peer's ACK still comes after both);
           timestamps stay with the positions so capture time still increases; the first data
           segment of a direction of a connection without captured handshake stays in place (its
           stream starts there)
  swapack  like swap, but only pairs where the peer's ACK of the first segment lies between them,
           so the capture shows the ACK before the data it acknowledges ("ACKed unseen segment",
           as when the capture point reorders). tshark's Follow TCP Stream gives such bytes up as
           missing; imscope's policy waits 8 packets / 1 s before declaring a hole missing, so it
           must deliver everything
  vlan     every frame gets an 802.1Q tag (TPID 0x8100, VID 100) after the MAC addresses
  qinq     every frame gets an 802.1ad outer tag (0x88a8, VID 200) and an 802.1Q inner tag (VID 100)
  drop     the middle data segment of the direction with the most data segments (ties: the
           earlier connection, then c2s) is removed; the sidecar names the connection (client,
           server), the direction, the frame, the exact payload bytes dropped and their offset
           in the direction's stream
  snaplen  every frame is cut to --snaplen captured bytes (default 128); the original length is
           kept; the sidecar gives per connection and direction the payload bytes still captured
           (each stream byte once, however many captured segments carry it) and where they are in
           the stream ([start, end) offsets)

  Reorderings: every packet is written unchanged, only the order changes; the i-th packet written
  has the i-th timestamp read (the time stays with the position, so capture time still runs
  forward). A connection here is as a reassembler sees it: the packets between two endpoints, a
  new one starting at a SYN with another initial sequence number once the previous one saw a FIN
  or RST. Frames in the sidecars are 1-based, of the input (xxxOut: where that packet landed).
  synackfirst  each connection's first SYN-ACK (the first SYN+ACK from the SYN's receiver that
           acknowledges the SYN's sequence number + 1) is moved to just before its first SYN
           (without ACK); the packets from the SYN up to the SYN-ACK move one place later. Connections
           without both, or whose SYN-ACK already comes first, stay as they are
  closeearly   each connection's first packet with FIN or RST (of either direction; "the close") is
           moved to just before the connection's last data segment preceding it (the last packet of
           that connection, of either direction, with TCP payload, that comes before the close in the
           capture); the packets from that data segment up to the close move one place later. So the
           capture shows the FIN/RST before bytes that precede it: in its own direction (those bytes
           lie before the FIN's sequence number) or the peer's (sent before the peer saw the FIN/RST).
           Connections without a FIN/RST, or without a data segment before it, stay as they are
  shuffle  neighbours swapped at random: walking the capture from its start, the packet at hand and
           the next one trade places with probability -p (default 0.5), and then both are passed
           (no packet moves twice, none moves more than one place); else the walk moves one packet
           on. Any packets, of any connection or none. --max-gap S: only neighbours less than S
           seconds apart are candidates (default: all). The packet that moves later takes its
           neighbour's time, so a gap of a second or more delays it by that much, past imscope's 1 s
           loss timer or its 60 s linger after a close (the timed rules of its policy). Deterministic
           per --seed (Python's random.Random(seed), whose sequence for an int seed is stable across
           Python 3 versions); the sidecar lists the swapped pairs

Connections: the side that sent a SYN without ACK is the client; without a handshake, the side
on --port is the server. Addresses are written as IP:PORT, IPv6 as [addr]:port (RFC 5952).
"""

import argparse
import ipaddress
import json
import os
import random
import struct
import sys

MAGIC_US, MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP = 0, 1, 101, 108
LINKTYPE_SLL, LINKTYPE_SLL2, LINKTYPE_IPV4, LINKTYPE_IPV6 = 113, 276, 228, 229
LINKTYPES = {LINKTYPE_NULL: "BSD NULL", LINKTYPE_ETHERNET: "Ethernet", LINKTYPE_RAW: "raw IP",
             LINKTYPE_LOOP: "BSD LOOP", LINKTYPE_SLL: "Linux SLL", LINKTYPE_SLL2: "Linux SLL2",
             LINKTYPE_IPV4: "raw IPv4", LINKTYPE_IPV6: "raw IPv6"}
ETH_IPV4, ETH_IPV6, ETH_8021Q, ETH_8021AD, ETH_QINQ_OLD = 0x0800, 0x86DD, 0x8100, 0x88A8, 0x9100
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


# ---------------------------------------------------------------------------------------------
# pcap files

class Pcap:
    def __init__(self, endian, nano, version, thiszone, sigfigs, snaplen, linktype, records, ng=None):
        self.endian, self.nano = endian, nano
        self.version, self.thiszone, self.sigfigs = version, thiszone, sigfigs
        self.snaplen, self.linktype = snaplen, linktype
        self.records = records  # [Record]
        self.ng = ng  # PcapNG for a pcapng file (then linktype is that of interface 0), else None

    def linktype_of(self, rec):
        return self.ng.ifaces[rec.ng[0]].linktype if self.ng else self.linktype

    def units(self, rec):
        """Units of a record's `frac` per second."""
        if self.ng:
            return self.ng.ifaces[rec.ng[0]].units
        return 10 ** 9 if self.nano else 10 ** 6

    def seconds(self, rec):
        return rec.sec + rec.frac / self.units(rec)

    def placed(self, moved, at):
        """`moved` (its bytes, length, interface) with the time of record `at`: the time stays with
        the position when packets change places."""
        frac = at.frac
        if self.units(moved) != self.units(at):  # pcapng interfaces of different resolutions
            frac = at.frac * self.units(moved) // self.units(at)
        return Record(at.sec, frac, moved.data, moved.orig_len, moved.ng)

    @property
    def format(self):
        return "pcapng" if self.ng else "pcap"


class Iface:
    __slots__ = ("linktype", "units", "block")

    def __init__(self, linktype, units, block):
        self.linktype, self.units, self.block = linktype, units, block


class PcapNG:
    """What a pcapng file holds besides its packets: the Section Header Block, the Interface
    Description Blocks, the other blocks (name resolution, decryption secrets, custom...) and the
    Interface Statistics Blocks, each as raw bytes."""

    def __init__(self, shb, ifaces, others, stats):
        self.shb, self.ifaces, self.others, self.stats = shb, ifaces, others, stats


class Record:
    """One packet: its time as whole seconds and a fraction (in the file's, or for pcapng its
    interface's, units), its bytes and original length; `ng` is None in a pcap file, in a pcapng
    file (interface id, the Enhanced Packet Block's options as raw bytes)."""
    __slots__ = ("sec", "frac", "data", "orig_len", "ng")

    def __init__(self, sec, frac, data, orig_len, ng=None):
        self.sec, self.frac, self.data, self.orig_len, self.ng = sec, frac, data, orig_len, ng

    def copy(self, data=None, orig_len=None):
        data = self.data if data is None else data
        return Record(self.sec, self.frac, data, len(data) if orig_len is None else orig_len, self.ng)


def read_pcap(path):
    """A pcap or pcapng file (recognised by its magic number, whatever its name)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:4] == PCAPNG_SHB:
        return read_pcapng(path, raw)
    if len(raw) < 24:
        raise ValueError("%s: too short for a pcap file" % path)
    for endian in ("<", ">"):
        (magic,) = struct.unpack(endian + "I", raw[:4])
        if magic in (MAGIC_US, MAGIC_NS):
            break
    else:
        raise ValueError("%s: neither a pcap nor a pcapng file" % path)
    _, vmaj, vmin, zone, sigfigs, snaplen, linktype = struct.unpack(endian + "IHHiIII", raw[:24])
    records, off = [], 24
    while off + 16 <= len(raw):
        sec, frac, incl, orig = struct.unpack(endian + "IIII", raw[off:off + 16])
        off += 16
        if off + incl > len(raw):
            raise ValueError("%s: truncated record at offset %d" % (path, off - 16))
        records.append(Record(sec, frac, raw[off:off + incl], orig))
        off += incl
    if off != len(raw):
        raise ValueError("%s: %d trailing bytes" % (path, len(raw) - off))
    return Pcap(endian, magic == MAGIC_NS, (vmaj, vmin), zone, sigfigs, snaplen, linktype & 0xFFFF, records)


def _tsresol(options, endian):
    """Units per second from an IDB's options (if_tsresol, code 9; default microseconds)."""
    off = 0
    while off + 4 <= len(options):
        code, length = struct.unpack(endian + "HH", options[off:off + 4])
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = options[off + 4]
            return 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
        off += 4 + (length + 3) // 4 * 4
    return 10 ** 6


def read_pcapng(path, raw):
    """pcapng with one section; its packets in Enhanced Packet Blocks (Simple and obsolete Packet
    Blocks are refused: the first has no time, the second is from before 2009). Interfaces may
    have different link types and time resolutions."""
    (bom,) = struct.unpack("<I", raw[8:12])
    endian = "<" if bom == 0x1A2B3C4D else ">" if bom == 0x4D3C2B1A else None
    if endian is None:
        raise ValueError("%s: pcapng section header without a valid byte-order magic" % path)
    shb, ifaces, others, stats, records = None, [], [], [], []
    off = 0
    while off < len(raw):
        if off + 12 > len(raw):
            raise ValueError("%s: truncated pcapng block at offset %d" % (path, off))
        btype, blen = struct.unpack(endian + "II", raw[off:off + 8])
        if blen < 12 or blen % 4 or off + blen > len(raw):
            raise ValueError("%s: bad pcapng block length %d at offset %d" % (path, blen, off))
        block, body = raw[off:off + blen], raw[off + 8:off + blen - 4]
        if btype == 0x0A0D0D0A:
            if shb is not None:
                raise ValueError("%s: several pcapng sections; roughen reads one" % path)
            shb = block
        elif btype == 1:
            linktype, _, _ = struct.unpack(endian + "HHI", body[:8])
            ifaces.append(Iface(linktype, _tsresol(body[8:], endian), block))
        elif btype == 6:
            iface, hi, lo, incl, orig = struct.unpack(endian + "IIIII", body[:20])
            if iface >= len(ifaces):
                raise ValueError("%s: packet at offset %d names interface %d, not described" % (path, off, iface))
            units = ifaces[iface].units
            ts = (hi << 32) | lo
            records.append(Record(ts // units, ts % units, body[20:20 + incl], orig,
                                  (iface, body[20 + (incl + 3) // 4 * 4:])))
        elif btype in (2, 3):
            raise ValueError("%s: %s packet block at offset %d; roughen reads Enhanced Packet Blocks only" % (
                path, "an obsolete" if btype == 2 else "a simple", off))
        elif btype == 5:
            stats.append(block)
        else:
            others.append(block)
        off += blen
    if shb is None or not ifaces:
        raise ValueError("%s: pcapng without section header or interface" % path)
    ng = PcapNG(shb, ifaces, others, stats)
    return Pcap(endian, ifaces[0].units > 10 ** 6, None, 0, 0, 0, ifaces[0].linktype, records, ng)


def write_pcapng(path, pcap, records, snaplen=None):
    """The section header, the interfaces (their snaplen set to `snaplen` when given), the other
    blocks, the packets as Enhanced Packet Blocks with their own interface and options, then the
    interface statistics."""
    e, ng = pcap.endian, pcap.ng
    with open(path, "wb") as f:
        f.write(ng.shb)
        for iface in ng.ifaces:
            block = iface.block
            if snaplen:
                block = block[:12] + struct.pack(e + "I", snaplen) + block[16:]
            f.write(block)
        for block in ng.others:
            f.write(block)
        for r in records:
            units = pcap.units(r)
            ts = r.sec * units + r.frac
            pad = b"\0" * ((4 - len(r.data) % 4) % 4)
            options = r.ng[1]
            blen = 32 + len(r.data) + len(pad) + len(options)
            f.write(struct.pack(e + "IIIIIII", 6, blen, r.ng[0], ts >> 32, ts & 0xFFFFFFFF, len(r.data), r.orig_len))
            f.write(r.data + pad + options + struct.pack(e + "I", blen))
        for block in ng.stats:
            f.write(block)


def write_pcap(path, pcap, records, snaplen=None):
    """Writes `records` in the format of `pcap` (pcap, or pcapng when it was read from one)."""
    if pcap.ng:
        return write_pcapng(path, pcap, records, snaplen)
    e = pcap.endian
    with open(path, "wb") as f:
        f.write(struct.pack(e + "IHHiIII", MAGIC_NS if pcap.nano else MAGIC_US, pcap.version[0], pcap.version[1],
                            pcap.thiszone, pcap.sigfigs, snaplen or pcap.snaplen, pcap.linktype))
        for r in records:
            f.write(struct.pack(e + "IIII", r.sec, r.frac, len(r.data), r.orig_len))
            f.write(r.data)


# ---------------------------------------------------------------------------------------------
# Ethernet / IP / TCP

def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Seg:
    """Where the headers of one Ethernet/IP/TCP frame are, and the TCP fields."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def key(self):
        return (self.src, self.sport, self.dst, self.dport)

    @property
    def data_len(self):
        return self.payload_len


def parse(frame, linktype=LINKTYPE_ETHERNET):
    """Seg for an Ethernet (+VLAN tags), Linux cooked (SLL, SLL2), BSD NULL/LOOP or raw IP /
    IPv4 or IPv6 / TCP frame, or None. Works on cut frames as long as the headers are there; payload_len is what the IP header
    says, captured_payload what the frame holds."""
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 5:
            return None
        (family,) = struct.unpack("!I" if linktype == LINKTYPE_LOOP else "<I", frame[:4])
        if linktype == LINKTYPE_NULL and family > 0xFFFF:  # written by a big-endian host
            (family,) = struct.unpack(">I", frame[:4])
        etype = ETH_IPV4 if family == 2 else ETH_IPV6 if family in (10, 24, 28, 30) else None
        off = 4
    elif linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if not frame:
            return None
        etype = ETH_IPV4 if frame[0] >> 4 == 4 else ETH_IPV6 if frame[0] >> 4 == 6 else None
        off = 0
    elif linktype == LINKTYPE_SLL:
        if len(frame) < 16:
            return None
        (etype,) = struct.unpack("!H", frame[14:16])
        off = 16
    elif linktype == LINKTYPE_SLL2:
        if len(frame) < 20:
            return None
        (etype,) = struct.unpack("!H", frame[0:2])
        off = 20
    else:
        if len(frame) < 14:
            return None
        (etype,) = struct.unpack("!H", frame[12:14])
        off = 14
    while linktype == LINKTYPE_ETHERNET and etype in (ETH_8021Q, ETH_8021AD, ETH_QINQ_OLD):
        if len(frame) < off + 4:
            return None
        (etype,) = struct.unpack("!H", frame[off + 2:off + 4])
        off += 4
    ip = off
    if etype == ETH_IPV4:
        if len(frame) < ip + 20:
            return None
        vihl, _, total, ipid, frag, _, proto = struct.unpack("!BBHHHBB", frame[ip:ip + 10])
        ihl = (vihl & 0x0F) * 4
        if vihl >> 4 != 4 or proto != 6 or (frag & 0x3FFF):
            return None
        src, dst = bytes(frame[ip + 12:ip + 16]), bytes(frame[ip + 16:ip + 20])
        tcp, ip_end, version = ip + ihl, ip + total, 4
    elif etype == ETH_IPV6:
        if len(frame) < ip + 40:
            return None
        plen, nxt = struct.unpack("!HB", frame[ip + 4:ip + 7])
        if nxt != 6:  # the test captures have no extension headers
            return None
        src, dst = bytes(frame[ip + 8:ip + 24]), bytes(frame[ip + 24:ip + 40])
        tcp, ip_end, version, ipid = ip + 40, ip + 40 + plen, 6, None
    else:
        return None
    if len(frame) < tcp + 20:
        return None
    sport, dport, seq, ack, offflags, win = struct.unpack("!HHIIHH", frame[tcp:tcp + 16])
    thl = (offflags >> 12) * 4
    payload = tcp + thl
    return Seg(version=version, ip=ip, tcp=tcp, payload=payload, ip_end=ip_end, ipid=ipid,
               src=src, dst=dst, sport=sport, dport=dport, seq=seq, ack=ack, flags=offflags & 0x1FF,
               payload_len=max(0, ip_end - payload), captured_payload=max(0, min(len(frame), ip_end) - payload))


def addr_text(raw, port):
    a = ipaddress.ip_address(raw)
    return ("[%s]:%d" % (a.compressed, port)) if a.version == 6 else ("%s:%d" % (a, port))


def build(frame, seg, payload, seq, flags, ipid=None):
    """A copy of `frame` (a whole, uncut frame described by `seg`) with another payload, sequence
    number and flags; lengths and checksums fixed."""
    head = bytearray(frame[:seg.payload])
    tcp_len = seg.payload - seg.tcp + len(payload)
    if seg.version == 4:
        struct.pack_into("!H", head, seg.ip + 2, seg.payload - seg.ip + len(payload))
        if ipid is not None:
            struct.pack_into("!H", head, seg.ip + 4, ipid & 0xFFFF)
        struct.pack_into("!H", head, seg.ip + 10, 0)
        struct.pack_into("!H", head, seg.ip + 10, checksum(bytes(head[seg.ip:seg.tcp])))
        pseudo = seg.src + seg.dst + struct.pack("!BBH", 0, 6, tcp_len)
    else:
        struct.pack_into("!H", head, seg.ip + 4, seg.payload - seg.ip - 40 + len(payload))
        pseudo = seg.src + seg.dst + struct.pack("!IxxxB", tcp_len, 6)
    struct.pack_into("!I", head, seg.tcp + 4, seq & 0xFFFFFFFF)
    (offflags,) = struct.unpack_from("!H", head, seg.tcp + 12)
    struct.pack_into("!H", head, seg.tcp + 12, (offflags & 0xF000) | flags)
    struct.pack_into("!H", head, seg.tcp + 16, 0)
    csum = checksum(pseudo + bytes(head[seg.tcp:]) + payload)
    struct.pack_into("!H", head, seg.tcp + 16, csum)
    # whatever followed the IP datagram (Ethernet padding) is dropped: lengths must agree
    return bytes(head) + payload


class Conns:
    """Connections of a capture: roles, numbering (order of first packet) and per-frame direction."""

    def __init__(self, segs, port):
        self.order, self.client = [], {}
        self.handshake = set()
        by_pair = {}
        for s in segs:
            if s is None:
                continue
            pair = frozenset([(s.src, s.sport), (s.dst, s.dport)])
            if pair not in by_pair:
                by_pair[pair] = len(self.order)
                self.order.append(pair)
            if s.flags & SYN and not s.flags & ACK:
                self.client.setdefault(pair, (s.src, s.sport))
                self.handshake.add(pair)
        for pair in self.order:
            if pair in self.client:
                continue
            a, b = sorted(pair)
            self.client[pair] = b if a[1] == port else a if b[1] == port else (b if a[1] < b[1] else a)
        self.index = by_pair

    def of(self, s):
        """(connection index, "c2s"/"s2c") of a segment."""
        pair = frozenset([(s.src, s.sport), (s.dst, s.dport)])
        return self.index[pair], ("c2s" if (s.src, s.sport) == self.client[pair] else "s2c")

    def describe(self, i):
        pair = self.order[i]
        client = self.client[pair]
        (server,) = [e for e in pair if e != client] or [client]
        return {"client": addr_text(*client), "server": addr_text(*server)}


# ---------------------------------------------------------------------------------------------
# modes

def _whole(rec, seg):
    if seg is None or len(rec.data) != rec.orig_len or seg.captured_payload != seg.payload_len:
        raise ValueError("frame cut by the snapshot length; roughen needs whole frames")


def mode_split(pcap, segs, conns, args):
    out, split = [], 0
    for rec, seg in zip(pcap.records, segs):
        if seg is None or seg.payload_len <= 1:
            out.append(rec)
            continue
        _whole(rec, seg)
        data = rec.data[seg.payload:seg.ip_end]
        n = len(data)
        cuts = [0, n // 3, 2 * n // 3, n] if n >= 3 else [0, 1, n]
        pieces = [data[cuts[k]:cuts[k + 1]] for k in range(len(cuts) - 1)]
        syn = 1 if seg.flags & SYN else 0
        for k, piece in enumerate(pieces):
            flags = seg.flags
            if k > 0:
                flags &= ~SYN
            if k < len(pieces) - 1:
                flags &= ~(FIN | PSH | RST)
            seq = seg.seq + cuts[k] + (syn if k > 0 else 0)
            ipid = None if seg.ipid is None else seg.ipid + k * 0x4000
            out.append(rec.copy(build(rec.data, seg, piece, seq, flags, ipid)))
        split += 1
    return out, {"segmentsSplit": split}


def _data_by_direction(segs, conns):
    """{(conn, dir): [frame index of each data segment, in capture order]}"""
    lanes = {}
    for i, s in enumerate(segs):
        if s is not None and s.payload_len > 0:
            lanes.setdefault(conns.of(s), []).append(i)
    return lanes


def mode_dup(pcap, segs, conns, args):
    lanes = _data_by_direction(segs, conns)
    partial_after = {}  # frame index -> partial retransmission frame to put after its copy
    for lane in lanes.values():
        for n, (i, j) in enumerate(zip(lane, lane[1:])):
            a, b = segs[i], segs[j]
            if n % 4 != 3 or a.flags & (SYN | FIN | RST) or a.payload_len < 2 or b.payload_len < 2:
                continue
            if (a.seq + a.payload_len) & 0xFFFFFFFF != b.seq:
                continue
            _whole(pcap.records[i], a)
            _whole(pcap.records[j], b)
            da = pcap.records[i].data[a.payload:a.ip_end]
            db = pcap.records[j].data[b.payload:b.ip_end]
            half = a.payload_len // 2
            payload = da[half:] + db[:len(db) // 2]
            partial_after[i] = build(pcap.records[i].data, a, payload, a.seq + half, a.flags & ~(FIN | RST | SYN))
    out, dups = [], 0
    for i, (rec, seg) in enumerate(zip(pcap.records, segs)):
        out.append(rec)
        if seg is not None and seg.payload_len > 0:
            out.append(rec.copy())
            dups += 1
            if i in partial_after:
                out.append(rec.copy(partial_after[i]))
    return out, {"exactCopies": dups, "partialOverlaps": len(partial_after)}


def _acked_between(segs, conns, i, j, c, d):
    """Does a frame between i and j, of connection c in the other direction, acknowledge any of
    the bytes of data segment i?"""
    a = segs[i]
    for k in range(i + 1, j):
        s = segs[k]
        if s is None or not s.flags & ACK:
            continue
        ck, dk = conns.of(s)
        if ck == c and dk != d and 0 < ((s.ack - a.seq) & 0xFFFFFFFF) < 0x80000000:
            return True
    return False


def _seconds(pcap, i):
    return pcap.seconds(pcap.records[i])


def _swap(pcap, segs, conns, across_ack):
    lanes = _data_by_direction(segs, conns)
    frames_of_conn = {}
    for i, s in enumerate(segs):
        if s is not None:
            frames_of_conn.setdefault(conns.of(s)[0], []).append(i)
    position = {c: {f: n for n, f in enumerate(fs)} for c, fs in frames_of_conn.items()}
    order = list(range(len(pcap.records)))
    swapped = []
    for (c, d), lane in sorted(lanes.items()):
        k = 0 if conns.order[c] in conns.handshake else 1
        while k + 1 < len(lane):
            i, j = lane[k], lane[k + 1]
            near = position[c][j] - position[c][i] - 1 <= 3 and _seconds(pcap, j) - _seconds(pcap, i) <= 0.1
            rst = any(segs[f] is not None and segs[f].flags & RST and conns.of(segs[f])[0] == c
                      for f in range(i, j + 1))
            if near and not rst and not (segs[i].flags | segs[j].flags) & SYN and \
                    _acked_between(segs, conns, i, j, c, d) == across_ack:
                order[i], order[j] = j, i
                swapped.append([i + 1, j + 1])
                k += 2
            else:
                k += 1
    return _reordered(pcap, order), {"pairsSwapped": len(swapped), "swappedFrames": swapped}


def _reordered(pcap, order):
    """The records in `order` (input indices), each with the time of the position it lands on."""
    return [pcap.placed(pcap.records[src], pcap.records[pos]) for pos, src in enumerate(order)]


def mode_swap(pcap, segs, conns, args):
    return _swap(pcap, segs, conns, across_ack=False)


def mode_swapack(pcap, segs, conns, args):
    return _swap(pcap, segs, conns, across_ack=True)


def _tagged(pcap, tags):
    out = []
    for rec in pcap.records:
        data = rec.data[:12] + tags + rec.data[12:]
        out.append(Record(rec.sec, rec.frac, data, rec.orig_len + len(tags), rec.ng))
    return out


def mode_vlan(pcap, segs, conns, args):
    return _tagged(pcap, struct.pack("!HH", ETH_8021Q, 100)), {"tags": [{"tpid": "0x8100", "vid": 100}]}


def mode_qinq(pcap, segs, conns, args):
    tags = struct.pack("!HHHH", ETH_8021AD, 200, ETH_8021Q, 100)
    return _tagged(pcap, tags), {"tags": [{"tpid": "0x88a8", "vid": 200}, {"tpid": "0x8100", "vid": 100}]}


def mode_drop(pcap, segs, conns, args):
    lanes = _data_by_direction(segs, conns)
    (c, d), lane = max(sorted(lanes.items()), key=lambda kv: (len(kv[1]), -kv[0][0], kv[0][1] == "c2s"))
    # the middle data segment; step towards the end past anything carrying SYN/FIN/RST
    k = len(lane) // 2
    while segs[lane[k]].flags & (SYN | FIN | RST):
        k += 1
    victim = lane[k]
    seg = segs[victim]
    _whole(pcap.records[victim], seg)
    # nothing else in the capture may carry any of these bytes, or they were not really lost
    lo, hi = seg.seq, seg.seq + seg.payload_len
    for other in lane:
        o = segs[other]
        if other == victim:
            continue
        if ((o.seq - lo) & 0xFFFFFFFF) < seg.payload_len or ((lo - o.seq) & 0xFFFFFFFF) < o.payload_len:
            raise ValueError("frame %d: its bytes are also carried by frame %d" % (victim + 1, other + 1))
    # where the dropped bytes sit in the direction's stream: it starts after the SYN, or (no
    # handshake) at the sequence number of the first segment seen in that direction
    start = None
    for s in segs:
        if s is not None and conns.of(s) == (c, d):
            start = s.seq + 1 if s.flags & SYN else s.seq
            break
    out = [r for i, r in enumerate(pcap.records) if i != victim]
    info = {"conn": conns.describe(c), "connIndex": c + 1, "dir": d, "frame": victim + 1,
            "droppedBytes": seg.payload_len, "streamOffset": (lo - start) & 0xFFFFFFFF,
            "seqRaw": lo, "seqEndRaw": hi & 0xFFFFFFFF,
            "dataSegmentIndex": k + 1, "dataSegmentsInDirection": len(lane)}
    return out, info


def mode_snaplen(pcap, segs, conns, args):
    cut = args.snaplen
    out, truncated = [], 0
    captured = {}
    ranges = {}  # (conn, dir) -> [(start, end)] of captured payload, relative to the first seq seen
    base = {}
    for rec, seg in zip(pcap.records, segs):
        data = rec.data[:cut]
        if len(data) < len(rec.data):
            truncated += 1
        out.append(Record(rec.sec, rec.frac, data, rec.orig_len, rec.ng))
        if seg is None:
            continue
        lane = conns.of(seg)
        base.setdefault(lane, seg.seq + 1 if seg.flags & SYN else seg.seq)
        if seg.payload_len > 0:
            kept = min(max(0, min(len(data), seg.ip_end) - seg.payload), seg.payload_len)
            start = (seg.seq + (1 if seg.flags & SYN else 0) - base[lane]) & 0xFFFFFFFF
            if kept:
                ranges.setdefault(lane, []).append((start, start + kept))
    # a byte captured twice (a retransmission in the capture) still counts once
    union = {}
    for (c, d), rs in ranges.items():
        merged = []
        for a, b in sorted(rs):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        union.setdefault(c, {"c2s": [], "s2c": []})[d] = merged
        captured.setdefault(c, {"c2s": 0, "s2c": 0})[d] = sum(b - a for a, b in merged)
    per_conn = []
    for c in sorted(captured):
        item = conns.describe(c)
        item["connIndex"] = c + 1
        item["capturedPayload"] = captured[c]
        item["capturedRanges"] = union[c]
        per_conn.append(item)
    return out, {"snaplen": cut, "framesTruncated": truncated, "connections": per_conn}


# reorderings: every packet kept as it is, only the order changes; the times stay with the
# positions (the i-th packet written has the i-th time read), so capture time still runs forward

def _flag_names(flags):
    return "+".join(n for n, f in (("SYN", SYN), ("FIN", FIN), ("RST", RST), ("ACK", ACK)) if flags & f)


class Instances:
    """TCP connections as a reassembler sees them: the packets between the same two endpoints,
    a new connection starting at a SYN (without ACK) with another initial sequence number after
    the previous one ended (FIN or RST seen). ids[i] is the connection of frame i (None: not TCP)."""

    def __init__(self, segs):
        self.ids, self.frames, self.first = [], [], []
        current, ended, isn = {}, set(), {}
        for i, s in enumerate(segs):
            if s is None:
                self.ids.append(None)
                continue
            pair = frozenset([(s.src, s.sport), (s.dst, s.dport)])
            c = current.get(pair)
            syn = s.flags & SYN and not s.flags & ACK
            if c is None or (syn and c in ended and isn.get(c) != s.seq):
                c = len(self.frames)
                current[pair] = c
                self.frames.append([])
                self.first.append(s)
            if syn:
                isn.setdefault(c, s.seq)
            if s.flags & (FIN | RST):
                ended.add(c)
            self.ids.append(c)
            self.frames[c].append(i)

    def describe(self, c, segs, conns):
        """client and server: the SYN's sender, or the SYN-ACK's receiver, is the client; without
        them, as Conns says (the side on --port is the server, failing that the lower port)."""
        for i in self.frames[c]:
            t = segs[i]
            if t.flags & SYN:
                client, server = (t.src, t.sport), (t.dst, t.dport)
                if t.flags & ACK:
                    client, server = server, client
                return {"client": addr_text(*client), "server": addr_text(*server)}
        return conns.describe(conns.of(self.first[c])[0])


def _move_before(order, frame, anchor):
    order.remove(frame)
    order.insert(order.index(anchor), frame)


def _positions(order):
    return {src: pos + 1 for pos, src in enumerate(order)}


def mode_synackfirst(pcap, segs, conns, args):
    """Each connection's first SYN-ACK moved to just before the SYN it answers."""
    inst = Instances(segs)
    order, moved, skipped = list(range(len(pcap.records))), [], 0
    for c, frames in enumerate(inst.frames):
        syn = next((i for i in frames if segs[i].flags & SYN and not segs[i].flags & ACK), None)
        synack = None if syn is None else next(
            (i for i in frames if segs[i].flags & SYN and segs[i].flags & ACK
             and segs[i].ack == (segs[syn].seq + 1) & 0xFFFFFFFF and segs[i].src == segs[syn].dst), None)
        if syn is None or synack is None or synack < syn:
            skipped += 1
            continue
        _move_before(order, synack, syn)
        moved.append(dict(inst.describe(c, segs, conns), synFrame=syn + 1, synAckFrame=synack + 1))
    pos = _positions(order)
    for m in moved:
        m["synFrameOut"], m["synAckFrameOut"] = pos[m["synFrame"] - 1], pos[m["synAckFrame"] - 1]
    return _reordered(pcap, order), {"connectionsMoved": len(moved), "connectionsUnchanged": skipped,
                                     "moved": moved}


def mode_closeearly(pcap, segs, conns, args):
    """Each connection's first FIN or RST moved to just before the data segment preceding it."""
    inst = Instances(segs)
    order, moved, skipped = list(range(len(pcap.records))), [], 0
    for c, frames in enumerate(inst.frames):
        close = next((i for i in frames if segs[i].flags & (FIN | RST)), None)
        data = None if close is None else next(
            (i for i in reversed(frames) if i < close and segs[i].payload_len > 0), None)
        if data is None:
            skipped += 1
            continue
        _move_before(order, close, data)
        cs, ds = segs[close], segs[data]
        info = inst.describe(c, segs, conns)
        client = info["client"]
        side = lambda s: "c2s" if addr_text(s.src, s.sport) == client else "s2c"  # noqa: E731
        moved.append(dict(info, closeFrame=close + 1, closeFlags=_flag_names(cs.flags), closeDir=side(cs),
                          dataFrame=data + 1, dataDir=side(ds), dataBytes=ds.payload_len,
                          framesBetween=close - data - 1))
    pos = _positions(order)
    for m in moved:
        m["closeFrameOut"], m["dataFrameOut"] = pos[m["closeFrame"] - 1], pos[m["dataFrame"] - 1]
    return _reordered(pcap, order), {"connectionsMoved": len(moved), "connectionsUnchanged": skipped,
                                     "moved": moved}


def mode_shuffle(pcap, segs, conns, args):
    """Neighbours swapped at random: walking the capture from the start, the packet at hand and
    the next one trade places with probability p (if less than max_gap seconds apart), and then
    both are passed; else the walk moves one packet on. Deterministic per seed (Python's
    random.Random(seed))."""
    rng = random.Random(args.seed)
    order, swapped, i = list(range(len(pcap.records))), [], 0
    while i + 1 < len(order):
        near = args.max_gap is None or _seconds(pcap, i + 1) - _seconds(pcap, i) < args.max_gap
        if near and rng.random() < args.probability:
            order[i], order[i + 1] = order[i + 1], order[i]
            swapped.append([i + 1, i + 2])
            i += 2
        else:
            i += 1
    return _reordered(pcap, order), {"seed": args.seed, "probability": args.probability, "maxGap": args.max_gap,
                                     "pairsSwapped": len(swapped), "swappedFrames": swapped}


MODES = {"split": mode_split, "dup": mode_dup, "swap": mode_swap, "swapack": mode_swapack, "vlan": mode_vlan,
         "qinq": mode_qinq, "drop": mode_drop, "snaplen": mode_snaplen, "synackfirst": mode_synackfirst,
         "closeearly": mode_closeearly, "shuffle": mode_shuffle}
REORDERINGS = ("synackfirst", "closeearly", "shuffle")


def roughen(mode, src, dst, port=9092, snaplen=128, seed=1, probability=0.5, max_gap=None):
    """Write the rough copy `dst` of `src` and its sidecar `dst`.json; return the sidecar dict."""
    pcap = read_pcap(src)
    linktypes = sorted({i.linktype for i in pcap.ng.ifaces} if pcap.ng else {pcap.linktype})
    for lt in linktypes:
        if lt not in LINKTYPES and mode not in REORDERINGS:
            raise ValueError("%s: link type %d; roughen reads %s" % (
                src, lt, ", ".join("%s (%d)" % (n, t) for t, n in sorted(LINKTYPES.items()))))
    if mode in ("vlan", "qinq") and linktypes != [LINKTYPE_ETHERNET]:
        raise ValueError("%s: %s needs an Ethernet capture" % (src, mode))
    segs = [parse(r.data, pcap.linktype_of(r)) if pcap.linktype_of(r) in LINKTYPES else None for r in pcap.records]
    conns = Conns(segs, port)
    args = argparse.Namespace(port=port, snaplen=snaplen, seed=seed, probability=probability, max_gap=max_gap)
    records, info = MODES[mode](pcap, segs, conns, args)
    write_pcap(dst, pcap, records, snaplen=snaplen if mode == "snaplen" else None)
    sidecar = {"mode": mode, "input": os.path.basename(src), "output": os.path.basename(dst), "format": pcap.format,
               "linktype": linktypes[0] if len(linktypes) == 1 else linktypes,
               "precision": "nano" if pcap.nano else "micro", "framesIn": len(pcap.records),
               "framesOut": len(records)}
    sidecar.update(info)
    with open(dst + ".json", "w") as f:
        json.dump(sidecar, f, indent=1)
        f.write("\n")
    return sidecar


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=sorted(MODES))
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--port", type=int, default=9092, help="server port when no handshake was captured")
    p.add_argument("--snaplen", type=int, default=128, help="for the snaplen mode")
    p.add_argument("--seed", type=int, default=1, help="for the shuffle mode")
    p.add_argument("-p", "--probability", type=float, default=0.5, help="for the shuffle mode")
    p.add_argument("--max-gap", type=float, default=None, metavar="S",
                   help="for the shuffle mode: swap only neighbours less than S seconds apart (default: any)")
    a = p.parse_args()
    try:
        info = roughen(a.mode, a.input, a.output, a.port, a.snaplen, a.seed, a.probability, a.max_gap)
    except ValueError as e:
        sys.exit("roughen: %s" % e)
    short = {k: v for k, v in info.items() if k not in ("swappedFrames", "connections", "moved")}
    print(json.dumps(short))


if __name__ == "__main__":
    main()
