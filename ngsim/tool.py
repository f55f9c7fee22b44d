"""Entry point of the emulated binaries ROOT/bin/{ngctl,kldload,kldstat,ipfw}.

Each run holds the host lock for load -> run -> save -> log, then prints. Keep imports
light: this runs once per spawned command.
"""
from __future__ import annotations

import io
import os
import sys

from ngsim import state

BINARIES = ("ngctl", "kldload", "kldstat", "ipfw")


def run(binary: str, root: str, argv: list[str], stdin=None) -> tuple[int, str, str]:
    """Run one emulated binary against ROOT; returns (exit status, stdout, stderr)."""
    from ngsim.base import Kernel

    stdin = sys.stdin if stdin is None else stdin
    out, err = io.StringIO(), io.StringIO()
    consumed: list[str] = []

    def read_stdin() -> str:
        data = stdin.read() if stdin is not None else ""
        consumed.append(data)
        return data

    with state.locked(root):
        st = state.load(root)
        k = Kernel(st)
        mutating = False
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
        else:
            raise SystemExit("ngsim: unknown binary %r" % binary)
        state.save(root, st)
        state.append_log(root, {"argv": [binary] + list(argv), "stdin": "".join(consumed),
                                "rc": rc, "mutating": bool(mutating), "binary": binary})
    return rc, out.getvalue(), err.getvalue()


def main(binary: str, root: str, argv: list[str]) -> int:
    """Run and print; the return value is the process exit status."""
    try:
        rc, out, err = run(binary, root, argv)
    except FileNotFoundError as e:
        sys.stderr.write("%s\n" % e)
        return 71
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
