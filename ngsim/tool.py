"""Entry point of the emulated binaries ROOT/bin/{ngctl,kldload,kldstat,ipfw,ifconfig,flowctl}.

Each run holds the host lock for load -> run -> save -> log, then prints. Keep imports
light: this runs once per spawned command.

A binary that ``ngsim hang`` names sleeps before it takes the lock (other runs go on, as
with a real ngctl stuck in the kernel), until ``ngsim hang --off`` or HANG_SECONDS, and then
fails without running (``main``).

An ngctl batch that ``ngsim die`` ends is saved and logged like any run, the lock is
released, and only then does the process SIGKILL itself (``main``): the state file and
the lock are never left half-written or held.
"""
from __future__ import annotations

import io
import json
import os
import sys
import time

from ngsim import state

BINARIES = ("ngctl", "kldload", "kldstat", "ipfw", "ifconfig", "flowctl")
KILLED = -9  # rc of a run ended by ``ngsim die`` (ngsim.ngctl.KILLED)
STDIO_BUFSIZ = 4096  # FreeBSD stdio buffer of a pipe (st_blksize = PAGE_SIZE)
HANG_SECONDS = 600  # a hung binary gives up after this long: nothing leaks for ever
EX_TEMPFAIL = 75  # exit status of a hung run that gave up


def hung(binary: str, root: str) -> bool:
    """Is ``binary`` in ROOT/state.json's ``"hang"`` list (``ngsim hang``)? Read without the
    lock: the state file is replaced atomically."""
    try:
        with open(state.state_path(root), encoding="utf-8") as fh:
            return binary in (json.load(fh).get("hang") or [])
    except (OSError, ValueError, AttributeError):
        return False


def hang(binary: str, root: str) -> int:
    """Sleep WITHOUT the host lock while ``binary`` is hung (at most HANG_SECONDS), then
    fail having run nothing: a caller without a time bound waits all that time."""
    deadline = time.monotonic() + HANG_SECONDS
    while time.monotonic() < deadline and hung(binary, root):
        time.sleep(0.2)
    sys.stderr.write("%s: hung (ngsim hang), gave up without running\n" % binary)
    return EX_TEMPFAIL


def read_all(stream) -> str:
    """Everything on ``stream`` as ngctl's fgets sees it: bytes as they are (no newline
    translation), decoded UTF-8 with undecodable bytes kept as surrogates."""
    if stream is None:
        return ""
    buf = getattr(stream, "buffer", None)
    if buf is not None:
        return buf.read().decode("utf-8", "surrogateescape")
    return stream.read()


def run(binary: str, root: str, argv: list[str], stdin=None) -> tuple[int, str, str]:
    """Run one emulated binary against ROOT; returns (exit status, stdout, stderr)."""
    from ngsim.base import Kernel

    stdin = sys.stdin if stdin is None else stdin
    out, err = io.StringIO(), io.StringIO()
    consumed: list[str] = []

    def read_stdin() -> str:
        data = read_all(stdin)
        consumed.append(data)
        return data

    with state.locked(root):
        st = state.load(root)
        k = Kernel(st)
        mutating = False
        script = None
        killed = False
        if binary == "ngctl":
            from ngsim.ngctl import Ngctl

            pid = int(os.environ.get("NGSIM_PID") or os.getpid())
            try:
                tty = stdin.isatty()
            except (AttributeError, ValueError):
                tty = False
            ng = Ngctl(k, out, err, pid, read_stdin, isatty=tty)
            rc = ng.main(argv)
            mutating = ng.mutating
            script = ng.script
            killed = ng.killed
        elif binary == "kldload":
            from ngsim.kld import kldload_main

            rc = kldload_main(k, argv, out, err)
            mutating = True
        elif binary == "kldstat":
            from ngsim.kld import kldstat_main

            rc = kldstat_main(k, argv, out, err)
        elif binary == "ipfw":
            from ngsim.ipfw import ipfw_main

            rc, mutating = ipfw_main(k, argv, out, err)
        elif binary == "ifconfig":
            from ngsim.ifconfig import ifconfig_main

            rc = ifconfig_main(k, argv, out, err)
        elif binary == "flowctl":
            from ngsim.flowctl import flowctl_main

            rc = flowctl_main(k, argv, out, err, int(os.environ.get("NGSIM_PID") or os.getpid()))
        else:
            raise SystemExit("ngsim: unknown binary %r" % binary)
        state.save(root, st)
        state.append_log(root, {"argv": [binary] + list(argv), "stdin": "".join(consumed),
                                "script": script, "rc": rc, "killed": killed,
                                "mutating": bool(mutating), "binary": binary})
    return rc, out.getvalue(), err.getvalue()


def die(out: str, err: str) -> None:
    """End this process as a SIGKILL would: what C's stdio had already written is
    written (stderr is unbuffered; stdout to a terminal up to the last newline, to a pipe
    or file whole STDIO_BUFSIZ blocks), the rest is lost."""
    import signal

    data = out.encode("utf-8", "surrogateescape")
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    keep = data[: data.rfind(b"\n") + 1] if tty else data[: len(data) // STDIO_BUFSIZ * STDIO_BUFSIZ]
    for stream, chunk in ((sys.stderr, err.encode("utf-8", "surrogateescape")), (sys.stdout, keep)):
        if chunk:
            try:
                stream.flush()
                stream.buffer.write(chunk)
                stream.buffer.flush()
            except (AttributeError, OSError, ValueError):
                pass
    os.kill(os.getpid(), signal.SIGKILL)


def main(binary: str, root: str, argv: list[str]) -> int:
    """Run and print; the return value is the process exit status."""
    if hung(binary, root):
        return hang(binary, root)
    try:
        rc, out, err = run(binary, root, argv)
    except FileNotFoundError as e:
        sys.stderr.write("%s\n" % e)
        return 71
    if rc == KILLED:
        die(out, err)  # does not return
    if out:
        sys.stdout.write(out)
        sys.stdout.flush()
    if err:
        sys.stderr.write(err)
        sys.stderr.flush()
    return rc


if __name__ == "__main__":  # python -m ngsim.tool BINARY ROOT args...
    if len(sys.argv) < 3:
        sys.stderr.write("usage: python -m ngsim.tool BINARY ROOT [args ...]\n")
        sys.exit(64)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
