#!/usr/bin/env python3
"""The conversations of the replay captures (Captures/replay/, made by Captures/make-replay-captures.sh):
im_probe.py steps for two users u1 and u2 chatting through im_server.py, and the check of im_probe's result.

  python3 replay_conversation.py steps chat|room [--background-disconnect]   # the steps (JSON), for im_probe.py
  python3 replay_conversation.py check chat|room [--transport websocket|polling] < probe-output.json

Deterministic: every msgId is a uuid from a seeded RNG, so every run sends the same messages (the server's
presence notices, messageType 5/6, have fresh uuids each run). Every chat/chatroom is emitted with an ack,
and every reply waits for (is causally after) the message it answers: a "wait" step until the user has
received all it is owed so far, then THINK (0.2 s) before the reply, so that a reply is also clearly later in
time.

chat (the websocket, polling and polling-upgrade captures; v2 messageTypes):
  u1 connects; u2 connects (u1 gets 5 "u2 online"); u1 sends ready (1) and gets 5 about u2; u2 sends ready
  and gets 5 about u1; u1 -> u2 text (2); u2, after it, -> u1 read receipt (33, content = the text's msgId)
  and a text reply (2); u1, after both, -> u2 an image (3, content a URL) and a text (2); u2, after both,
  -> u1 a read receipt (33) for that text; u2 disconnects (u1 gets 6 "u2 offline"); u1 disconnects.
  Types 3 and 33 are leaves (no later message waits for them): a replay against a server that nacks or
  drops them still goes through every other step.
room (the namespace capture; the namespace is im_probe's --namespace, u2 names itself in the auth dict):
  connect and ready as above; u1 enters chatroom r1 (chatroom 100); u2 enters (u1 gets the 100); u1 -> room
  chatroom message (102); u2, after it, -> room 102; u1, after it, -> u2 an image chat (3) carrying a binary
  attachment (the bytes of a tiny PNG, a second argument); u2, after it, leaves (101; u1 gets it); u1 leaves
  (101, nobody left to get it); u2 disconnects (u1 gets 6); u1 disconnects.
"""

import argparse
import base64
import json
import random
import sys
import uuid

AVATAR = "http://img.example.com/avatar/{}.png"
NAMES = {"u1": "Alice", "u2": "Bob"}
ROOM = "r1"
THINK = 0.2  # seconds between receiving what a reply answers and sending the reply
# a 1x1 PNG (70 bytes): the binary attachment of the room conversation
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


class Conversation:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.steps = []
        self.owed = {"u1": 0, "u2": 0}  # events each user must have received by now
        self.expected = []  # (step index, ack msgId)

    def msg_id(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def im(self, mt, frm, dest, content, from_type=1):
        return {"msgId": self.msg_id(), "fromId": frm, "fromType": from_type, "destId": dest,
                "fromName": NAMES[frm], "imageIconUrl": AVATAR.format(frm), "content": content, "messageType": mt,
                "devType": 1 if frm == "u1" else 2}

    def add(self, step):
        self.steps.append(step)
        return len(self.steps) - 1

    def connect(self, user, others_online, auth=False):
        self.add({"as": user, "do": "connect", **({"auth": True} if auth else {})})
        for other in others_online:
            self.owed[other] += 1  # 5: user online

    def emit(self, user, msg, to=(), event="chat", extra=None, also=()):
        step = {"as": user, "do": "emit", "event": event, "msg": msg, "ack": True}
        if extra:
            step["extra"] = [{"_binary": base64.b64encode(b).decode("ascii")} for b in extra]
        i = self.add(step)
        self.expected.append((i, msg["msgId"]))
        for r in to:
            self.owed[r] += 1
        for r in also:  # the ready's answer: 5 notices to the sender
            self.owed[r] += 1
        return msg

    def wait(self, user):
        """user waits until it has received all it is owed, then "reads" for THINK seconds"""
        self.add({"as": user, "do": "wait", "count": self.owed[user], "timeout": 5})
        self.add({"do": "sleep", "s": THINK})

    def disconnect(self, user, others_online, **more):
        self.add({"as": user, "do": "disconnect", **more})
        for other in others_online:
            self.owed[other] += 1  # 6: user offline


def conversation(kind, background_disconnect=False):
    c = Conversation("imscope replay " + kind)
    bg = {"background": True} if background_disconnect else {}
    auth = kind == "room"
    c.connect("u1", [])
    c.connect("u2", ["u1"], auth=auth)
    c.wait("u1")
    c.emit("u1", c.im(1, "u1", "system", ""), also=["u1"])
    c.wait("u1")
    c.emit("u2", c.im(1, "u2", "system", ""), also=["u2"])
    c.wait("u2")
    if kind == "chat":
        hello = c.emit("u1", c.im(2, "u1", "u2", "Hi Bob, are you there?"), to=["u2"])
        c.wait("u2")
        c.emit("u2", c.im(33, "u2", "u1", hello["msgId"]), to=["u1"])
        c.emit("u2", c.im(2, "u2", "u1", "Yes! Just got your message."), to=["u1"])
        c.wait("u1")
        c.emit("u1", c.im(3, "u1", "u2", "http://img.example.com/chat/u1/beach.jpg"), to=["u2"])
        last = c.emit("u1", c.im(2, "u1", "u2", "Here is the photo from Sunday."), to=["u2"])
        c.wait("u2")
        c.emit("u2", c.im(33, "u2", "u1", last["msgId"]), to=["u1"])
        c.wait("u1")
    else:
        c.emit("u1", c.im(100, "u1", ROOM, "Alice", from_type=2), event="chatroom")
        c.emit("u2", c.im(100, "u2", ROOM, "Bob", from_type=2), event="chatroom", to=["u1"])
        c.wait("u1")
        c.emit("u1", c.im(102, "u1", ROOM, "Hello room!", from_type=2), event="chatroom", to=["u2"])
        c.wait("u2")
        c.emit("u2", c.im(102, "u2", ROOM, "Hello Alice, hello room.", from_type=2), event="chatroom", to=["u1"])
        c.wait("u1")
        c.emit("u1", c.im(3, "u1", "u2", "attachment:tiny.png"), to=["u2"], extra=[PNG])
        c.wait("u2")
        c.emit("u2", c.im(101, "u2", ROOM, "Bob", from_type=2), event="chatroom", to=["u1"])
        c.wait("u1")
        c.emit("u1", c.im(101, "u1", ROOM, "Alice", from_type=2), event="chatroom")
    c.add({"do": "sleep", "s": 0.2})
    c.disconnect("u2", ["u1"], **bg)
    c.wait("u1")
    c.add({"do": "sleep", "s": 0.2})
    c.add({"as": "u1", "do": "disconnect", **bg})
    c.add({"do": "sleep", "s": 0.2})
    return c


def check(kind, out, transport):
    """Problems with im_probe's result (a list of strings; empty when the run went as planned)."""
    c = conversation(kind)  # (background disconnects change no count)
    problems = []
    for i, ok in out.get("waits", {}).items():
        if not ok:
            problems.append("step %s: wait timed out (%s)" % (i, c.steps[int(i)]))
    want = {str(i): [{"status": "ok", "msgId": mid}] for i, mid in c.expected}
    if out.get("acks") != want:
        problems.append("acks differ: got %s, want %s" % (out.get("acks"), want))
    if out.get("transports") != {"u1": transport, "u2": transport}:
        problems.append("transports: %s, want %s for both" % (out.get("transports"), transport))
    for user in ("u1", "u2"):
        n = len(out.get("received", {}).get(user, []))
        if n != c.owed[user]:
            problems.append("%s received %d events, want %d" % (user, n, c.owed[user]))
    return problems


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["steps", "check"])
    p.add_argument("kind", choices=["chat", "room"])
    p.add_argument("--transport", default="websocket", help="the transport both clients must end on")
    p.add_argument("--background-disconnect", action="store_true",
                   help="steps: the disconnects run in the background (im_probe's \"background\"; for polling-only "
                        "clients, whose disconnect() otherwise blocks 30 s on the GET the server leaves open)")
    args = p.parse_args()
    if args.what == "steps":
        json.dump(conversation(args.kind, args.background_disconnect).steps, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    problems = check(args.kind, json.load(sys.stdin), args.transport)
    for pr in problems:
        print("replay_conversation: " + pr, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
