"""The IM server the replay tests (issue 19) run against: Captures/peers/im_server.py, under both venvs.

Run: .venv/eio4/bin/pytest -q Tests/integration/test_im_server.py      (about 15 s; no imscope, no root)

Each test starts its own server on a free port (fixture `im_server`, always stopped) and drives real
python-socketio clients from the server's venv (im_probe.py: 5.x under eio4, 4.6.1 under eio3), users u1, u2
(u3) with ?userId=, over websocket and, for routing, polling then upgrade.
 1. routing/acks/presence: u2 coming online and going offline reach u1 as messageType 5 / 6 (fromId u2,
    destId u1); a chat u1 -> u2 reaches u2 only, unchanged, and its ack is {"status": "ok", "msgId": ..};
    an unacked chat u2 -> u1 reaches u1; a chat to an offline user is acked and goes nowhere; the "ready"
    messageType 1 is answered by a 5 for each user already online.
 2. chatrooms: 100 enters, 102 goes to the other members only, a fromType 2 `chat` goes to the room's
    members, 101 reaches the others and leaves.
 3. TLS and a namespace: the same routing over https/wss on /im (under Engine.IO 4 with the user in the
    auth dict).
 3b. binary attachments: arguments after the message (bytes, and a JSON value) are forwarded unchanged and
    in order, to a user (`chat`, websocket and polling-upgrade) and to a room's members (`chatroom`); the
    ack is the usual one.
 4. regressions: nack-type:N (that type acked {"status": "error", "msgId"} and not routed, the rest as
    usual), drop-type:M (acked ok, not routed, the rest as usual), silent-after-handshake (raw Engine.IO
    over polling and websocket: the OPEN packet, upgrades [], then nothing at all, neither the Socket.IO
    CONNECT nor a pong), accept-no-answer (TCP accepted, an HTTP request gets no byte, the connection stays
    open); SIGTERM stops every server with exit code 0.
"""

import asyncio
import base64
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from imserver import VENVS, run_probe

VENV_IDS = ["eio4", "eio3"]
TRANSPORTS = {"websocket": ["websocket"], "polling-upgrade": ["polling", "websocket"]}


def im(mt, frm, dest, mid, from_type=1, content="hi"):
    return {"msgId": mid, "fromId": frm, "fromType": from_type, "destId": dest, "fromName": frm.upper(),
            "imageIconUrl": "http://img.example.com/avatar/%s.png" % frm, "content": content, "messageType": mt}


def chats(received, user, event="chat"):
    return [r[1] for r in received.get(user, []) if r[0] == event]


def presence(received, user):
    return [(m["messageType"], m["fromId"], m["destId"]) for m in chats(received, user) if m["messageType"] in (5, 6)]


def not_presence(received, user):
    return [[r[0]] + r[1:] for r in received.get(user, []) if not (r[0] == "chat" and r[1]["messageType"] in (5, 6))]


def check_notice(m):
    assert m["fromType"] == 1 and m["fromName"] == m["fromId"] and m["content"] == ""
    assert re.fullmatch(r"[0-9a-f-]{36}", m["msgId"]) and m["imageIconUrl"]


@pytest.mark.parametrize("transport", list(TRANSPORTS))
@pytest.mark.parametrize("venv", VENV_IDS)
def test_routing_acks_presence(im_server, venv, transport):
    srv = im_server(venv)
    a, b, c, ready = im(2, "u1", "u2", "m-a"), im(3, "u2", "u1", "m-b"), im(2, "u2", "u9", "m-c"), im(1, "u2", "sys", "m-r")
    steps = [
        {"as": "u1", "do": "connect"},
        {"as": "u2", "do": "connect"},
        {"as": "u1", "do": "wait", "count": 1},                    # 2: u2 online
        {"as": "u1", "do": "emit", "msg": a, "ack": True},         # 3
        {"as": "u2", "do": "wait", "count": 1},                    # 4
        {"as": "u2", "do": "emit", "msg": b},                      # 5: no ack asked
        {"as": "u1", "do": "wait", "count": 2},                    # 6
        {"as": "u2", "do": "emit", "msg": c, "ack": True},         # 7: to an offline user
        {"as": "u2", "do": "emit", "msg": ready, "ack": True},     # 8: ready -> who is online
        {"as": "u2", "do": "wait", "count": 2},                    # 9
        {"as": "u2", "do": "disconnect"},
        {"as": "u1", "do": "wait", "count": 3},                    # 11: u2 offline
        {"do": "sleep", "s": 0.1},
    ]
    out = run_probe(venv, srv.url, steps, transports=TRANSPORTS[transport])
    rec = out["received"]
    assert all(out["waits"].values()), out
    assert out["transports"] == {"u1": "websocket", "u2": "websocket"}
    assert out["acks"] == {"3": [{"status": "ok", "msgId": "m-a"}], "7": [{"status": "ok", "msgId": "m-c"}],
                           "8": [{"status": "ok", "msgId": "m-r"}]}
    assert presence(rec, "u1") == [(5, "u2", "u1"), (6, "u2", "u1")]
    assert presence(rec, "u2") == [(5, "u1", "u2")]  # only as the answer to ready
    for user in ("u1", "u2"):
        for m in chats(rec, user):
            if m["messageType"] in (5, 6):
                check_notice(m)
    assert not_presence(rec, "u1") == [["chat", b]]
    assert not_presence(rec, "u2") == [["chat", a]]
    assert srv.stop() == 0


@pytest.mark.parametrize("venv", VENV_IDS)
def test_chatroom_and_group(im_server, venv):
    srv = im_server(venv)
    enter1, enter2 = im(100, "u1", "r1", "e1", 2), im(100, "u2", "r1", "e2", 2)
    say, group, leave, after = im(102, "u1", "r1", "s1", 2), im(2, "u2", "r1", "g1", 2), im(101, "u2", "r1", "l2", 2), im(102, "u1", "r1", "s2", 2)
    steps = [
        {"as": "u1", "do": "connect"}, {"as": "u2", "do": "connect"}, {"as": "u3", "do": "connect"},
        {"as": "u1", "do": "emit", "event": "chatroom", "msg": enter1, "ack": True},   # 3
        {"as": "u2", "do": "emit", "event": "chatroom", "msg": enter2, "ack": True},   # 4
        {"as": "u1", "do": "emit", "event": "chatroom", "msg": say, "ack": True},      # 5
        {"as": "u2", "do": "emit", "msg": group, "ack": True},                         # 6: group chat
        {"as": "u2", "do": "emit", "event": "chatroom", "msg": leave, "ack": True},    # 7
        {"as": "u1", "do": "emit", "event": "chatroom", "msg": after, "ack": True},    # 8: u2 has left
        {"as": "u1", "do": "emit", "msg": im(2, "u1", "u2", "p1"), "ack": True},       # 9: a marker
        {"as": "u2", "do": "wait", "count": 2}, {"do": "sleep", "s": 0.1},
    ]
    out = run_probe(venv, srv.url, steps)
    rec = out["received"]
    assert out["acks"] == {str(i): [{"status": "ok", "msgId": m["msgId"]}]
                           for i, m in zip(range(3, 10), (enter1, enter2, say, group, leave, after, im(2, "u1", "u2", "p1")))}
    assert not_presence(rec, "u1") == [["chatroom", enter2], ["chat", group], ["chatroom", leave]]
    assert not_presence(rec, "u2") == [["chatroom", say], ["chat", im(2, "u1", "u2", "p1")]]
    assert not_presence(rec, "u3") == []
    assert srv.stop() == 0


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: no certificate for the TLS test")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], capture_output=True)
    if p.returncode != 0:
        pytest.skip("openssl could not make a certificate: %s" % p.stderr.decode(errors="replace")[-300:])
    return cert, key


@pytest.mark.parametrize("venv", VENV_IDS)
def test_tls_and_namespace(im_server, venv, tls_pair):
    cert, key = tls_pair
    srv = im_server(venv, cert=cert, key=key, namespace="/im")
    assert srv.url.startswith("https://")
    a = im(2, "u1", "u2", "t1")
    # under Engine.IO 4, u2 names itself in the auth dict instead of the query
    steps = [{"as": "u1", "do": "connect"}, {"as": "u2", "do": "connect", "auth": venv == "eio4"},
             {"as": "u1", "do": "emit", "msg": a, "ack": True}, {"as": "u2", "do": "wait", "count": 1}]
    out = run_probe(venv, srv.url, steps, namespace="/im", insecure=True)
    assert out["acks"] == {"2": [{"status": "ok", "msgId": "t1"}]}
    assert not_presence(out["received"], "u2") == [["chat", a]]
    assert presence(out["received"], "u1") == [(5, "u2", "u1")]


def regress_steps(msgs, routed):
    """u1 sends msgs to u2 (acked, in order); then u2 waits for the `routed` ones: the last message is a
    routed one, so one that was wrongly routed would have come before it (plus 0.1 s for stragglers)."""
    steps = [{"as": "u1", "do": "connect"}, {"as": "u2", "do": "connect"}]
    steps += [{"as": "u1", "do": "emit", "msg": m, "ack": True} for m in msgs]
    return steps + [{"as": "u2", "do": "wait", "count": routed}, {"do": "sleep", "s": 0.1}]


@pytest.mark.parametrize("transport", list(TRANSPORTS))
@pytest.mark.parametrize("venv", VENV_IDS)
def test_binary_attachments_forwarded(im_server, venv, transport):
    srv = im_server(venv)
    blob = bytes(range(256)) + b"\x00\xff attachment"
    b64 = {"_binary": base64.b64encode(blob).decode("ascii")}
    small = {"_binary": base64.b64encode(b"\x89PNG\r\n").decode("ascii")}
    a, enter1, enter2 = im(3, "u1", "u2", "b1", content="http://img.example.com/1.png"), im(100, "u1", "r1", "e1", 2), im(100, "u2", "r1", "e2", 2)
    say = im(102, "u1", "r1", "b2", 2)
    steps = [
        {"as": "u1", "do": "connect"}, {"as": "u2", "do": "connect"},
        {"as": "u1", "do": "emit", "msg": a, "extra": [b64], "ack": True},                          # 2
        {"as": "u1", "do": "emit", "event": "chatroom", "msg": enter1, "ack": True},                 # 3
        {"as": "u2", "do": "emit", "event": "chatroom", "msg": enter2, "ack": True},                 # 4
        {"as": "u1", "do": "emit", "event": "chatroom", "msg": say, "extra": [small, {"n": 1}, "x"], "ack": True},  # 5
        {"as": "u2", "do": "wait", "count": 2}, {"do": "sleep", "s": 0.1},
    ]
    out = run_probe(venv, srv.url, steps, transports=TRANSPORTS[transport])
    assert out["transports"] == {"u1": "websocket", "u2": "websocket"}
    assert out["acks"] == {"2": [{"status": "ok", "msgId": "b1"}], "3": [{"status": "ok", "msgId": "e1"}],
                           "4": [{"status": "ok", "msgId": "e2"}], "5": [{"status": "ok", "msgId": "b2"}]}
    assert not_presence(out["received"], "u2") == [["chat", a, b64], ["chatroom", say, small, {"n": 1}, "x"]]
    assert not_presence(out["received"], "u1") == [["chatroom", enter2]]
    assert srv.stop() == 0


@pytest.mark.parametrize("venv", VENV_IDS)
def test_regress_nack_type(im_server, venv):
    srv = im_server(venv, regress=["nack-type:3"])
    t2, t3, t4 = im(2, "u1", "u2", "n2"), im(3, "u1", "u2", "n3"), im(4, "u1", "u2", "n4")
    out = run_probe(venv, srv.url, regress_steps([t2, t3, t4], 2))
    assert out["acks"] == {"2": [{"status": "ok", "msgId": "n2"}],
                           "3": [{"status": "error", "msgId": "n3", "error": "messageType 3 refused"}],
                           "4": [{"status": "ok", "msgId": "n4"}]}
    assert not_presence(out["received"], "u2") == [["chat", t2], ["chat", t4]]
    assert presence(out["received"], "u1") == [(5, "u2", "u1")]
    assert srv.stop() == 0


@pytest.mark.parametrize("venv", VENV_IDS)
def test_regress_drop_type(im_server, venv):
    srv = im_server(venv, regress=["drop-type:16"])
    t2, t16, t3 = im(2, "u1", "u2", "d2"), im(16, "u1", "u2", "d16", content='{"url":"http://v/1.amr","time":2}'), im(3, "u1", "u2", "d3")
    out = run_probe(venv, srv.url, regress_steps([t2, t16, t3], 2))
    assert out["acks"] == {"2": [{"status": "ok", "msgId": "d2"}], "3": [{"status": "ok", "msgId": "d16"}],
                           "4": [{"status": "ok", "msgId": "d3"}]}
    assert not_presence(out["received"], "u2") == [["chat", t2], ["chat", t3]]
    assert srv.stop() == 0


QUIET = 0.6  # seconds in which a silent server must send nothing


def _eio(venv):
    return 4 if venv == "eio4" else 3


def _open_packet(text):
    m = re.search(r"0(\{.*?\})", text)
    assert m, "no Engine.IO OPEN packet in %r" % text[:300]
    return json.loads(m.group(1))


@pytest.mark.parametrize("venv", VENV_IDS)
def test_regress_silent_after_handshake_polling(im_server, venv):
    srv = im_server(venv, regress=["silent-after-handshake"])
    base = "%s/socket.io/?EIO=%d&transport=polling&userId=u1" % (srv.url, _eio(venv)) + ("&b64=1" if venv == "eio3" else "")
    with urllib.request.urlopen(base, timeout=5) as r:
        assert r.status == 200
        opened = _open_packet(r.read().decode("utf-8", "replace"))
    assert opened["upgrades"] == [] and opened["sid"]
    url = base + "&sid=" + opened["sid"]
    body = b"40" if venv == "eio4" else b"1:2"  # EIO4: Socket.IO CONNECT; EIO3: an Engine.IO ping
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST",
                                                       headers={"Content-Type": "text/plain;charset=UTF-8"}), timeout=5) as r:
        assert r.status == 200
    t0 = time.monotonic()
    with pytest.raises((socket.timeout, TimeoutError)):
        urllib.request.urlopen(url, timeout=QUIET).read()
    assert time.monotonic() - t0 >= QUIET * 0.9
    assert srv.stop() == 0


@pytest.mark.parametrize("venv", VENV_IDS)
def test_regress_silent_after_handshake_websocket(im_server, venv):
    import aiohttp

    srv = im_server(venv, regress=["silent-after-handshake"])
    url = "ws://127.0.0.1:%d/socket.io/?EIO=%d&transport=websocket&userId=u1" % (srv.port, _eio(venv))

    async def run():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url, autoping=False) as ws:
                first = await asyncio.wait_for(ws.receive(), 5)
                assert first.type == aiohttp.WSMsgType.TEXT and first.data.startswith("0{")
                opened = json.loads(first.data[1:])
                await ws.send_str("40")
                await ws.send_str("2")  # an Engine.IO ping (EIO3 clients ping; EIO4 servers ignore it)
                with pytest.raises(asyncio.TimeoutError):
                    msg = await asyncio.wait_for(ws.receive(), QUIET)
                    raise AssertionError("silent server sent %r" % (msg,))
                return opened

    opened = asyncio.run(run())
    assert opened["upgrades"] == []
    assert srv.stop() == 0


@pytest.mark.parametrize("venv", VENV_IDS)
def test_regress_accept_no_answer(im_server, venv):
    srv = im_server(venv, regress=["accept-no-answer"])
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(QUIET)
        with pytest.raises((socket.timeout, TimeoutError)):
            data = s.recv(1)
            raise AssertionError("accept-no-answer answered %r" % data)  # b"" would be a close
    assert srv.stop() == 0


def test_unknown_regress_is_refused(im_server):
    with pytest.raises(RuntimeError, match="unknown --regress"):
        im_server("eio4", regress=["bogus"])
