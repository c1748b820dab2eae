"""Shared fixtures for the integration tests: the imscope binary, the tshark oracle, rough copies, the IM
server (im_server: Captures/peers/im_server.py started and stopped per test, see imserver.py).

IMSCOPE (environment): the imscope binary; default .build/debug/imscope under the repository root
(a relative path is taken relative to the repository root).
TSHARK (environment): the tshark to use for the oracle; default `tshark` on PATH.
"""

import hashlib
import json
from decimal import Decimal
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CAPTURES = REPO / "Captures"
sys.path.insert(0, str(HERE))

import roughen  # noqa: E402
import tshark_oracle  # noqa: E402
from imserver import VENVS, ImServer  # noqa: E402

# the committed captures (NAME.pcap / NAME.pcapng next to NAME.client.jsonl, NAME.server.jsonl)
COMMITTED = sorted(p.name for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng"))

# committed pcaps roughen.py can read, and the modes each gets (vlan/qinq need Ethernet)
ROUGH_SOURCES = {
    "eio4-websocket-lo.pcap": ["split", "dup", "swap", "swapack", "vlan", "qinq", "drop", "snaplen"],
    "eio4-midstream-lo.pcap": ["split", "dup", "swap", "swapack", "vlan", "qinq", "drop", "snaplen"],
    "eio3-websocket-ipv6-nano.pcap": ["split", "dup", "swap", "swapack", "vlan", "qinq", "drop", "snaplen"],
    "eio3-polling-upgrade-sll.pcap": ["split", "dup", "swap", "swapack", "drop", "snaplen"],
    # pcapng: converted to a nanosecond pcap by editcap first (roughen.py reads pcap only)
    "eio4-polling-upgrade-any.pcapng": ["split", "dup", "swap", "swapack", "drop", "snaplen"],
}
ROUGH_CASES = [(src, mode) for src, modes in ROUGH_SOURCES.items() for mode in modes]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "live: makes fresh captures with the real peers (needs root, tcpdump, dumpcap, the venvs)")


@pytest.fixture
def im_server():
    """im_server(venv="eio4", regress=[...], **ImServer options) -> a started Captures/peers/im_server.py
    (imserver.ImServer: .url, .port, .stop()); every server started is stopped at teardown, pass or fail.
    Skips when the venv is missing."""
    started = []

    def start(venv="eio4", **kwargs):
        if not VENVS.get(venv):
            pytest.skip("virtualenv %s not found (scripts/setup.sh test creates it)" % venv)
        srv = ImServer(venv, **kwargs)
        started.append(srv)
        return srv.start()

    try:
        yield start
    finally:
        for srv in started:
            srv.stop()


def imscope_path():
    p = Path(os.environ.get("IMSCOPE") or ".build/debug/imscope")
    return p if p.is_absolute() else REPO / p


class ImscopeRun:
    """One `imscope read FILE --layer tcp --format jsonl --write-streams DIR` run."""

    def __init__(self, capture, records, streams, stderr):
        self.capture, self.records, self.streams, self.stderr = capture, records, streams, stderr

    def of_kind(self, kind, **match):
        return [r for r in self.records if r.get("kind") == kind and all(r.get(k) == v for k, v in match.items())]

    def diagnostics(self, code=None):
        return [r for r in self.of_kind("diagnostic") if code is None or r.get("code") == code]

    def stream_file(self, conn, direction):
        return self.streams / ("%d.%s" % (conn, direction))


@pytest.fixture(scope="session")
def tshark():
    path = shutil.which(os.environ.get("TSHARK") or "tshark")
    if not path:
        pytest.skip("tshark is not installed (scripts/setup.sh test installs it): the reference figures come from it")
    return path


def assert_logs_agree(client, server):
    """What one peer logged it sent, the other logged it received, in the same order (events and acks)."""
    def pick(log, action):
        return [(r["namespace"], r["event"], r["args"], r["ackId"]) for r in log if r["action"] == action]

    assert pick(client, "emit") == pick(server, "recv")
    assert pick(server, "emit") == pick(client, "recv")
    assert pick(client, "ack_sent") == pick(server, "ack_recv")
    assert pick(server, "ack_sent") == pick(client, "ack_recv")


def per_path(compute):
    """A getter that computes `compute(str(path))` once per path for the session (the fixtures that run tshark or
    imscope on a capture share it)."""
    cache = {}

    def get(path):
        key = str(path)
        if key not in cache:
            cache[key] = compute(key)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def oracle(tshark):
    """oracle(path) -> tshark_oracle.oracle(path, keep_data=True), computed once per file."""
    return per_path(lambda key: tshark_oracle.oracle(key, tshark=tshark, keep_data=True))


@pytest.fixture(scope="session")
def facts(tshark):
    """facts(path) -> tshark_oracle.frame_facts(path): first/FIN/RST/last frames and frame times."""
    return per_path(lambda key: tshark_oracle.frame_facts(key, tshark=tshark))


@pytest.fixture(scope="session")
def imscope(tmp_path_factory):
    """imscope(capture, ...) -> ImscopeRun of `imscope read CAPTURE... --layer tcp --format jsonl
    --write-streams DIR`; fails (does not skip) when the binary is missing."""
    binary = imscope_path()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail("imscope binary not found at %s: build it (swift build) or point IMSCOPE at it" % binary)
    counter = [0]

    def run(*captures):
        capture = captures[0]
        counter[0] += 1
        streams = tmp_path_factory.mktemp("streams-%d-%s" % (counter[0], Path(capture).name.replace(".", "_")))
        cmd = [str(binary), "read"] + [str(c) for c in captures] + ["--layer", "tcp", "--format", "jsonl",
                                                                     "--write-streams", str(streams)]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        assert p.returncode == 0, "%s exited %d; stderr:\n%s" % (" ".join(cmd), p.returncode,
                                                                 p.stderr.decode(errors="replace")[-3000:])
        records = []
        for n, line in enumerate(p.stdout.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line, parse_float=Decimal)  # ts keeps all its digits
            except ValueError as e:
                raise AssertionError("%s: output line %d is not JSON (%s): %r" % (capture, n, e, line[:300]))
            assert isinstance(rec, dict) and "kind" in rec, "%s: line %d has no kind: %r" % (capture, n, line[:300])
            records.append(rec)
        return ImscopeRun(Path(capture), records, streams, p.stderr.decode(errors="replace"))

    return run


@pytest.fixture(scope="session")
def rough(tmp_path_factory):
    """rough(source_name, mode) -> (path, sidecar dict); each copy is made once per session."""
    out = tmp_path_factory.mktemp("rough")
    cache = {}

    def make(source, mode):
        if (source, mode) not in cache:
            src = CAPTURES / source
            if source.endswith(".pcapng"):
                editcap = shutil.which("editcap")
                if not editcap:
                    pytest.skip("editcap (Wireshark) is not installed: needed to turn %s into a pcap" % source)
                src = out / (source.rsplit(".", 1)[0] + ".nsec.pcap")
                if not src.exists():
                    subprocess.run([editcap, "-F", "nsecpcap", str(CAPTURES / source), str(src)], check=True)
            dst = out / ("%s.%s.pcap" % (source.rsplit(".", 1)[0], mode))
            sidecar = roughen.roughen(mode, str(src), str(dst))
            cache[(source, mode)] = (dst, sidecar)
        return cache[(source, mode)]

    return make


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# fresh captures from the real peers (one Engine.IO 4 websocket, one Engine.IO 3 polling + upgrade)
LIVE = ["eio4-websocket-lo", "eio3-polling-upgrade-sll"]


def _live_prerequisites():
    if os.geteuid() != 0:
        return "not root (packet capture needs root)"
    for tool in ("tcpdump", "dumpcap"):
        if not shutil.which(tool):
            return "%s is not installed" % tool
    for venv in ("eio4", "eio3"):
        if not (REPO / ".venv" / venv / "bin" / "python").exists():
            return ".venv/%s is missing (scripts/setup.sh test)" % venv
    return port_9092_taken()


def port_9092_taken():
    """Why the peers' port 9092 cannot be used on loopback, or None when it is free."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", 9092))
        except OSError as e:
            return "port 9092 is in use (%s)" % e
    return None


@pytest.fixture(scope="session")
def live_captures(tmp_path_factory):
    why = _live_prerequisites()
    if why:
        pytest.skip("live captures: " + why)
    out = tmp_path_factory.mktemp("live")
    p = subprocess.run([str(CAPTURES / "make-captures.sh"), "-o", str(out)] + LIVE,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    assert p.returncode == 0, "make-captures.sh failed:\n" + p.stdout.decode(errors="replace")[-5000:]
    return out
