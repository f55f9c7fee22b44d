"""Real NetFlow collectors for the end-to-end tests: nfcapd on the loopback interface, read
back with nfdump (Debian package ``nfdump``; .ci/run installs it). Shared by
tests/functional/states/test_flows_e2e.py, test_dual_stack.py,
tests/unit/ngsim/test_ngsim_ipv6.py and tests/integration/test_self_heal.py.
"""
from __future__ import annotations

import csv
import io
import pathlib
import shutil
import signal
import socket
import subprocess
import time

import pytest

# a test module's pytestmark when it runs the real collector
needs_nfdump = pytest.mark.skipif(not (shutil.which("nfcapd") and shutil.which("nfdump")),
                                  reason="nfcapd/nfdump not installed (Debian package nfdump; .ci/run installs it)")


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_taken(port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


class Nfcapd:
    """One nfcapd on 127.0.0.1:port writing into its own directory.

    nfdump 1.7 takes the output directory with ``-w``; 1.6 with ``-l`` (``-w`` meant
    "align file rotation" there). Files are flushed when it terminates (SIGTERM)."""

    def __init__(self, workdir: pathlib.Path, port: int):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        usage = subprocess.run(["nfcapd", "-h"], capture_output=True, text=True)
        text = usage.stdout + usage.stderr
        dirflag = "-w" if "-w flowdir" in text or "-w <flowdir>" in text or "-w dir" in text else "-l"
        self.log = open(self.dir.parent / f"nfcapd-{port}.log", "w")
        self.proc = subprocess.Popen(
            ["nfcapd", "-b", "127.0.0.1", "-p", str(port), dirflag, str(self.dir), "-t", "3600"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not port_taken(port):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"nfcapd did not start: {(self.dir.parent / f'nfcapd-{port}.log').read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def flows(self) -> list[dict]:
        """Every record of the closed capture files, as nfdump's CSV rows."""
        files = sorted(p for p in self.dir.rglob("nfcapd.*") if ".current." not in p.name)
        rows: list[dict] = []
        for f in files:
            out = subprocess.run(["nfdump", "-r", str(f), "-o", "csv", "-q"], capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
            text = out.stdout
            lines = [ln for ln in text.splitlines() if ln.strip()]
            if not lines:
                continue
            if not lines[0].startswith("ts,"):  # -q dropped the header (1.7): add 1.7's
                out = subprocess.run(["nfdump", "-r", str(f), "-o", "csv"], capture_output=True, text=True)
                lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
            header = lines[0]
            body = []
            for ln in lines[1:]:
                if ln.startswith("Summary") or ln.startswith("flows,"):
                    break
                body.append(ln)
            rows += list(csv.DictReader(io.StringIO("\n".join([header] + body))))
        return rows


class Nfcapd46:
    """One nfcapd on HOST:PORT (IPv4 or IPv6, ``-6``), skipping the test if it does not start;
    ``flows()`` parses nfdump's CSV by its header."""

    def __init__(self, workdir: pathlib.Path, host: str, port: int):
        self.dir = workdir
        self.dir.mkdir(parents=True)
        args = ["nfcapd", "-b", host, "-p", str(port), "-w", str(self.dir), "-t", "3600"]
        if ":" in host:
            args.insert(1, "-6")
        self.log = open(str(workdir) + ".log", "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        deadline = time.time() + 10
        while True:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            try:
                s.bind((host, port))
            except OSError:
                break  # nfcapd has it
            finally:
                s.close()
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                pytest.skip("nfcapd did not start on %s: %s" % (host, open(self.log.name).read()))
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.log.close()

    def flows(self) -> list[dict]:
        rows = []
        for f in sorted(p for p in self.dir.rglob("nfcapd.*") if ".current." not in p.name):
            out = subprocess.run(["nfdump", "-r", str(f), "-o", "csv"], capture_output=True,
                                 text=True).stdout
            lines = [ln for ln in out.splitlines() if ln.strip()]
            header = next((ln for ln in lines if ln.startswith("ts,")), None)
            if header is None:
                continue
            keys = header.split(",")
            for ln in lines[lines.index(header) + 1:]:
                if ln.startswith("Summary") or ln.startswith("flows,"):
                    break
                rows.append(dict(zip(keys, ln.split(","))))
        return rows


def free_port(fam: int, host: str) -> int:
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port
