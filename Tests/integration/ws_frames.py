#!/usr/bin/env python3
"""A small, independent RFC 6455 frame walker for the tests (not imscope's rules, and not tshark).

Usage: ws_frames.py STREAM_FILE (client|server) [--search]
  prints the messages of one direction of a WebSocket connection (a file with the direction's
  bytes, e.g. from `imscope read --write-streams` or tshark's Follow TCP Stream); --search when
  the bytes start somewhere inside a frame (a capture that began mid-stream).

walk(data, client, offset)   frames from `offset` to the end: every header must be well formed
                             (RSV bits 0 unless `rsv1_ok`, known opcode, control frames unfragmented
                             and at most 125 bytes, the mask bit set exactly on client frames, the
                             length in its shortest encoding); fragments are joined; returns
                             (messages, end) or raises BadFrame. A last frame cut by the end of the
                             data is reported as {"incomplete": True}.
first_chain(data, client, accept)
                             the smallest offset from which walk() succeeds through the end of the
                             data and accept(messages) is true: where the first complete frame
                             starts when the data begin inside a frame. `accept` is how a test
                             rules out chance chains (e.g. "every text is one the peers logged").
Messages: {"opcode": "text"|"binary"|"close"|"ping"|"pong", "payload": bytes, "text" (text,
valid UTF-8), "closeCode", "closeReason", "fragments", "offset" (of the first frame), "end"}.
Compressed (RSV1) frames are not inflated here; messages carry "compressed": True.
"""

import argparse
import json
import struct

OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


class BadFrame(ValueError):
    pass


def _header(data, i, client, rsv1_ok):
    """(opcode, fin, rsv1, payload start, payload length, mask) of the frame at i, None when the
    header runs past the data, BadFrame when it is not well formed."""
    if i + 2 > len(data):
        return None
    b0, b1 = data[i], data[i + 1]
    fin, rsv, opcode = b0 >> 7, (b0 >> 4) & 7, b0 & 0x0F
    if opcode not in OPCODES:
        raise BadFrame("opcode %d" % opcode)
    if rsv & 3 or (rsv & 4 and not rsv1_ok):
        raise BadFrame("RSV bits %d" % rsv)
    if bool(b1 & 0x80) != client:
        raise BadFrame("mask bit %d on a %s frame" % (b1 >> 7, "client" if client else "server"))
    n, j = b1 & 0x7F, i + 2
    if n == 126:
        if j + 2 > len(data):
            return None
        (n,) = struct.unpack_from("!H", data, j)
        j += 2
        if n < 126:
            raise BadFrame("16-bit length %d" % n)
    elif n == 127:
        if j + 8 > len(data):
            return None
        (n,) = struct.unpack_from("!Q", data, j)
        j += 8
        if n < 65536 or n >> 63:
            raise BadFrame("64-bit length %d" % n)
    if opcode >= 8 and (not fin or n > 125):
        raise BadFrame("control frame %s fin %d length %d" % (OPCODES[opcode], fin, n))
    if opcode >= 8 and rsv:
        raise BadFrame("control frame with RSV bits")
    mask = None
    if client:
        if j + 4 > len(data):
            return None
        mask = bytes(data[j:j + 4])
        j += 4
    return opcode, fin, bool(rsv & 4), j, n, mask


def _unmask(payload, mask):
    if not mask:
        return bytes(payload)
    m = (mask * (len(payload) // 4 + 1))[:len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(len(payload), "big")


def _message(opcode, payload, fragments, offset, end, compressed):
    msg = {"opcode": OPCODES[opcode], "payload": payload, "fragments": fragments, "offset": offset, "end": end}
    if compressed:
        msg["compressed"] = True
    elif opcode == 1:
        try:
            msg["text"] = payload.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadFrame("text not UTF-8: %s" % e)
    elif opcode == 8:
        if len(payload) == 1:
            raise BadFrame("close payload of 1 byte")
        if payload:
            msg["closeCode"] = struct.unpack("!H", payload[:2])[0]
            try:
                msg["closeReason"] = payload[2:].decode("utf-8")
            except UnicodeDecodeError as e:
                raise BadFrame("close reason not UTF-8: %s" % e)
    return msg


def walk(data, client, offset=0, rsv1_ok=False):
    data = memoryview(data)
    out, i = [], offset
    pending = None  # [opcode, [payloads], offset, compressed]
    while i < len(data):
        h = _header(data, i, client, rsv1_ok)
        if h is None:
            out.append({"incomplete": True, "offset": i})
            return out, len(data)
        opcode, fin, rsv1, start, n, mask = h
        if start + n > len(data):
            out.append({"incomplete": True, "offset": i, "opcode": OPCODES[opcode]})
            return out, len(data)
        payload = _unmask(data[start:start + n], mask)
        end = start + n
        if opcode >= 8:
            out.append(_message(opcode, payload, 1, i, end, False))
        elif opcode == 0:
            if pending is None:
                raise BadFrame("continuation without a message")
            if rsv1:
                raise BadFrame("RSV1 on a continuation frame")
            pending[1].append(payload)
            if fin:
                out.append(_message(pending[0], b"".join(pending[1]), len(pending[1]), pending[2], end, pending[3]))
                pending = None
        else:
            if pending is not None:
                raise BadFrame("new message inside a fragmented one")
            if fin:
                out.append(_message(opcode, payload, 1, i, end, rsv1))
            else:
                pending = [opcode, [payload], i, rsv1]
        i = end
    if pending is not None:
        out.append({"incomplete": True, "offset": pending[2], "opcode": OPCODES[pending[0]]})
    return out, i


def first_chain(data, client, accept=lambda msgs: True, limit=None, rsv1_ok=False):
    """(offset, messages) of the first offset from which the frames run to the end of the data
    and `accept` them; (None, []) when there is none within `limit` bytes."""
    stop = len(data) if limit is None else min(len(data), limit)
    for off in range(stop):
        try:
            msgs, _ = walk(data, client, off, rsv1_ok)
        except BadFrame:
            continue
        if msgs and accept(msgs):
            return off, msgs
    return None, []


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stream")
    p.add_argument("side", choices=["client", "server"])
    p.add_argument("--search", action="store_true")
    p.add_argument("--rsv1", action="store_true", help="allow RSV1 (permessage-deflate)")
    a = p.parse_args()
    data = open(a.stream, "rb").read()
    client = a.side == "client"
    if a.search:
        off, msgs = first_chain(data, client, rsv1_ok=a.rsv1)
    else:
        off, (msgs, _) = 0, walk(data, client, 0, a.rsv1)
    print(json.dumps({"firstFrame": off, "messages": len(msgs)}))
    for m in msgs:
        m = dict(m)
        payload = m.pop("payload", b"")
        m["length"] = len(payload)
        if "text" in m and len(m["text"]) > 120:
            m["text"] = m["text"][:120] + "..."
        print(json.dumps(m, ensure_ascii=False))


if __name__ == "__main__":
    main()
