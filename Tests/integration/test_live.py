"""`imscope live`: capture from the loopback interface, print the timeline as it happens, record with -w; the
recording read back gives the same records. Needs root (the capture privilege) and a free port 9092."""

import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import imscope_path, port_9092_taken


def echo_traffic(port, connections=3, size=50_000):
    """A plain TCP echo server on `port` and clients sending `size` bytes each (uppercased back)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen()

    def serve():
        for _ in range(connections):
            c, _ = srv.accept()
            with c:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d.upper())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    for _ in range(connections):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"x" * size)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
    t.join(5)
    srv.close()


@pytest.mark.live
@pytest.mark.skipif(os.geteuid() != 0, reason="live capture needs root")
def test_live_capture_and_recording(tmp_path):
    taken = port_9092_taken()
    if taken:
        pytest.skip(taken)
    recording = tmp_path / "live.pcap"
    proc = subprocess.Popen([str(imscope_path()), "live", "-i", "lo", "--duration", "6", "-w", str(recording),
                             "--layer", "tcp", "--format", "jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)  # the capture is up
    echo_traffic(9092)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    live = [line for line in out.decode().splitlines() if line]
    closes = [line for line in live if '"event":"close"' in line]
    assert len(closes) == 3, live
    assert all('"bytes":{"c2s":50000,"s2c":50000}' in line for line in closes), closes
    # The recording decodes to the same records.
    again = subprocess.run([str(imscope_path()), "read", str(recording), "--layer", "tcp", "--format", "jsonl"],
                           stdout=subprocess.PIPE, check=True).stdout.decode().splitlines()
    assert [line for line in again if line] == live
