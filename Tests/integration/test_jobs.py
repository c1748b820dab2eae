"""`--jobs N` and the default (all CPUs) give byte for byte the output of a single-threaded run (`--jobs 1`).

The committed captures come from one client address (127.0.0.1 or ::1), so one shard gets everything; the
benchmark's generator makes captures with hundreds of client addresses, which the shards really share out
(500 and 3000 concurrent connections, the latter spread over seconds so that a short --tcp-idle-timeout makes
housekeeping close connections in the middle of the capture, and a tight connection limit so eviction runs too).
"""

import hashlib
import subprocess

import pytest

from conftest import CAPTURES, REPO, imscope_path

COMMITTED = sorted(p for p in CAPTURES.rglob("*") if p.suffix in (".pcap", ".pcapng"))


def bench_path():
    return REPO / ".build" / "debug" / "imscope-bench"


def run(args):
    proc = subprocess.run([str(imscope_path())] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode in (0, 3), proc.stderr.decode()[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    if not bench_path().exists():
        pytest.fail("imscope-bench not built at %s (swift build builds it)" % bench_path())
    out = tmp_path_factory.mktemp("jobs")
    files = []
    # 3000 connections with 1 ms between packets: each sees a packet every few seconds, so with
    # --tcp-idle-timeout 1 connections time out mid-capture (housekeeping) and come back mid-stream.
    for conns, size, gap in ((500, 3, 37), (3000, 4, 1000)):
        path = out / ("gen-%dc.pcap" % conns)
        subprocess.run([str(bench_path()), "generate", "--connections", str(conns), "--size-mb", str(size),
                        "--deflate", "0.3", "--packet-gap-us", str(gap), "-o", str(path)],
                       check=True, stdout=subprocess.DEVNULL)
        files.append(path)
    return files


@pytest.mark.parametrize("capture", COMMITTED, ids=lambda p: str(p.relative_to(CAPTURES)))
def test_committed_captures(capture):
    for fmt in ("jsonl", "text"):
        one = run(["read", str(capture), "--format", fmt, "--jobs", "1"])
        assert run(["read", str(capture), "--format", fmt, "--jobs", "2"]) == one, fmt
        assert run(["read", str(capture), "--format", fmt]) == one, fmt


@pytest.mark.parametrize("layer", ["tcp", "ws", "sio", "im"])
@pytest.mark.parametrize("jobs", [2, 3])
def test_generated_captures(generated, layer, jobs):
    for path in generated:
        for extra in ([], ["--tcp-idle-timeout", "1", "--tcp-max-connections", "400"]):
            args = ["read", str(path), "--format", "jsonl", "--layer", layer] + extra
            one = run(args + ["--jobs", "1"])
            many = run(args + ["--jobs", str(jobs)])
            assert len(one.splitlines()) >= 1000
            assert hashlib.sha256(many).hexdigest() == hashlib.sha256(one).hexdigest(), (path.name, extra)


def test_json_and_text_and_filters(generated):
    path = str(generated[0])
    for args in (["--format", "json"], ["--format", "text"], ["--format", "text", "--all"],
                 ["--format", "jsonl", "--filter", "type=text", "--filter", "dir=c2s"]):
        one = run(["read", path, "--jobs", "1"] + args)
        assert run(["read", path, "--jobs", "2"] + args) == one, args
        assert run(["read", path] + args) == one, args
