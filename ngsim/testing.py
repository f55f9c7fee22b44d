"""Helpers for tests and demos: drive an emulated host through real subprocesses."""
from __future__ import annotations

import json
import os
import subprocess
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only
    from typing import Optional, Sequence

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ngsim(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m ngsim ARGS`` with the current interpreter."""
    return subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO_DIR,
                          capture_output=True, text=True, check=check)


class Host:
    """One emulated host under ``root``; methods spawn ROOT/bin/* like real callers do."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    @classmethod
    def create(cls, root: str, ifaces: Sequence[str] = ("em0",),
               loaded: Sequence[str] = ()) -> "Host":
        args = ["init", root]
        for i in ifaces:
            args += ["--iface", i]
        for m in loaded:
            args += ["--loaded", m]
        ngsim(*args)
        return cls(root)

    def saved(self) -> str:
        """The emulated kernel as it is now (its state file), for :meth:`restored`: a
        module fixture builds a host once and each test starts from a copy."""
        with open(os.path.join(self.root, "state.json"), encoding="utf-8") as fh:
            return fh.read()

    @classmethod
    def restored(cls, root: str, saved: str, ifaces: Sequence[str] = ("em0",)) -> "Host":
        """A new host under ``root`` whose kernel is ``saved`` (:meth:`saved`)."""
        host = cls.create(root, ifaces=ifaces)
        with open(os.path.join(host.root, "state.json"), "w", encoding="utf-8") as fh:
            fh.write(saved)
        return host

    def run(self, binary: str, *args: str, stdin: Optional[str] = None,
            pid: Optional[int] = None) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        if pid is not None:
            env["NGSIM_PID"] = str(pid)
        return subprocess.run([os.path.join(self.root, "bin", binary), *args],
                              input=stdin if stdin is not None else "",
                              capture_output=True, text=True, env=env)

    def ngctl(self, *args: str, stdin: Optional[str] = None,
              pid: Optional[int] = None) -> subprocess.CompletedProcess:
        return self.run("ngctl", *args, stdin=stdin, pid=pid)

    def kldload(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("kldload", *args)

    def kldstat(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("kldstat", *args)

    def ipfw(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("ipfw", *args)

    def ifconfig(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("ifconfig", *args)

    def flowctl(self, *args: str, pid: Optional[int] = None) -> subprocess.CompletedProcess:
        return self.run("flowctl", *args, pid=pid)

    def traffic(self, iface: str, *args: str) -> dict:
        """``ngsim traffic ROOT IFACE ARGS...``: the JSON summary."""
        return json.loads(ngsim("traffic", self.root, iface, *args).stdout)

    def links(self) -> dict:
        return json.loads(ngsim("links", self.root).stdout)

    def log(self, clear: bool = False) -> list[dict]:
        out = ngsim("log", self.root, *(["--clear"] if clear else [])).stdout
        return [json.loads(line) for line in out.splitlines() if line]

    def state(self) -> dict:
        return json.loads(ngsim("state", self.root).stdout)

    def fail(self, at: int, errno: Optional[str] = None) -> None:
        ngsim("fail", self.root, "--at", str(at), *(["--errno", errno] if errno else []))

    def die(self, after: int) -> None:
        """The next ``ngctl -f`` batch runs ``after`` command lines, then ngctl dies as by
        SIGKILL (returncode -9)."""
        ngsim("die", self.root, "--after", str(after))


def hex_bytes(text: str) -> bytes:
    """Bytes laid out as hex words, as in a dump; on each line, the words after the first
    word that is not hex are a comment."""
    out = []
    for line in text.splitlines():
        for word in line.split():
            if len(word) % 2 or any(c not in "0123456789abcdef" for c in word):
                break
            out.append(word)
    return bytes.fromhex("".join(out))


def script_lines(path) -> list:
    """The command lines of an ``ngctl -f`` script file (blank and ``#`` lines left out,
    as ngctl skips them)."""
    with open(path, encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip() and not line.lstrip().startswith("#")]


def load_file(path, name: Optional[str] = None):
    """Import one Python file as a module, as Salt's loader loads ``_modules/*.py`` one
    file at a time (tests, the demo and the benchmarks use it for module files and for
    each other's helpers)."""
    import importlib.util

    path = os.fspath(path)
    name = name or "loaded_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class loopback_udp_sockets:
    """``with loopback_udp_sockets(2, timeout=5) as socks:`` UDP sockets bound to
    127.0.0.1 on free ports, standing in for NetFlow collectors; closed on exit."""

    def __init__(self, count: int, timeout: float = 5.0):
        import socket

        self.socks = []
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.settimeout(timeout)
            self.socks.append(s)

    def __enter__(self):
        return self.socks

    def __exit__(self, *exc):
        for s in self.socks:
            s.close()
