"""The in-process kernel adapter: Salt's ``cmd.run_all`` replaced, in one loader, by a
function that runs the emulated FreeBSD binaries (ngsim) in this process.

``_modules/netgraph.py`` spawns every binary through ``__salt__["cmd.run_all"]`` with an
argv list whose first word is ``ROOT/bin/<binary>`` (the configured ``netgraph.*`` paths).
:class:`KernelAdapter` maps that to ``ngsim.tool.run(<binary>, ROOT, argv[1:], stdin)`` and
returns cmd.run_all's dict (retcode, stdout, stderr, pid): one ngctl call costs a few ms
instead of a subprocess (~80 ms). It honours ngsim's two fault knobs:

* ``ngsim die``: a batch that ngctl's emulation ends "killed" returns retcode -9 with what
  a SIGKILLed process would have written (stderr whole, stdout in 4096-byte blocks), as
  ``ngsim.tool.main`` prints it;
* a HUNG binary (state.json key ``"hang"``, a list of binary names, set by
  ``python -m ngsim hang ROOT BINARY [--off]`` or :func:`set_hang`): with a ``timeout=``
  the call returns exactly what Salt 3008's cmd.run_all returns when its timeout expires
  (``salt/modules/cmdmod.py``: TimedProcTimeoutError -> retcode 1, stdout
  ``"<cmd> : Timed out after <timeout> seconds"``, stderr empty); without one, the call
  would hang forever: it is recorded as an I8 violation (``adapter.hangs``) and raises
  :class:`HungForever` (a BaseException: no ``except Exception`` in the product can hide it).

A Salt job killed between two spawns is ``adapter.kill_after = N``: the (N+1)th spawn
raises :class:`JobKilled` before it runs (nothing of it reaches the kernel).
"""
from __future__ import annotations

import io
import itertools
import json
import os
import time

from ngsim import state as ngstate
from ngsim import tool as ngtool

_PIDS = itertools.count(40000)


class JobKilled(BaseException):
    """The Salt job was killed here (SIGKILL of the minion's job process)."""


class HungForever(BaseException):
    """A spawn of a hung binary without a time bound: the real job would never return."""


def hung(root: str) -> list[str]:
    """The binaries of host ``root`` that hang (state.json key ``hang``)."""
    with ngstate.locked(root):
        return list(ngstate.load(root).get("hang") or [])


def set_hang(root: str, binary: str, on: bool = True) -> None:
    """What ``python -m ngsim hang ROOT BINARY [--off]`` does (the same state key), done
    in-process: the simulation flips it at every few steps."""
    with ngstate.locked(root):
        st = ngstate.load(root)
        names = [b for b in (st.get("hang") or []) if b != binary]
        if on:
            names.append(binary)
        if names:
            st["hang"] = names
        else:
            st.pop("hang", None)
        ngstate.save(root, st)


def timed_out(cmd, timeout) -> dict:
    """cmd.run_all's return when its ``timeout`` expired (salt/modules/cmdmod.py, _run:
    ``except TimedProcTimeoutError``; the message is salt/utils/timed_subprocess.py's)."""
    return {"pid": next(_PIDS), "retcode": 1, "stdout": "{} : Timed out after {} seconds".format(cmd, str(timeout)),
            "stderr": ""}


class KernelAdapter:
    """``cmd.run_all`` for the emulated host under ``root`` (callable with its signature)."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.bindir = os.path.join(self.root, "bin")
        self.calls: list[dict] = []  # every spawn: argv, timeout, retcode, seconds
        self.hangs: list[str] = []  # I8: spawns of a hung binary with no time bound
        self.kill_after: int | None = None  # JobKilled at spawn number kill_after + 1
        self.other: list[list] = []  # argv that were not an emulated binary (a bug of the test set-up)

    def __call__(self, cmd, cwd=None, stdin=None, timeout=None, **kwargs) -> dict:
        argv = [str(a) for a in cmd] if isinstance(cmd, (list, tuple)) else str(cmd).split()
        binary = os.path.basename(argv[0]) if argv else ""
        if not argv or os.path.dirname(argv[0]) != self.bindir or binary not in ngtool.BINARIES:
            self.other.append(argv)
            return {"pid": next(_PIDS), "retcode": 127, "stdout": "", "stderr": f"{argv[:1]}: not found"}
        if self.kill_after is not None:
            if self.kill_after <= 0:
                self.kill_after = None
                raise JobKilled(" ".join(argv))
            self.kill_after -= 1
        if stdin is not None and not kwargs.get("stdin_raw_newlines", False):
            stdin = stdin.replace("\\n", "\n")  # as salt.utils.timed_subprocess.TimedProc does
        record = {"argv": argv, "timeout": timeout, "stdin": stdin}
        self.calls.append(record)
        if binary in hung(self.root):
            if not timeout:
                self.hangs.append(" ".join(argv))
                raise HungForever(f"{' '.join(argv)}: {binary} hangs and the spawn has no timeout")
            record["retcode"] = 1
            return timed_out(cmd, timeout)
        start = time.monotonic()
        rc, out, err = ngtool.run(binary, self.root, argv[1:], stdin=io.StringIO(stdin or ""))
        record["seconds"] = time.monotonic() - start
        if rc == ngtool.KILLED:  # what a SIGKILLed process leaves written (ngsim.tool.die)
            data = out.encode("utf-8", "surrogateescape")
            out = data[: len(data) // ngtool.STDIO_BUFSIZ * ngtool.STDIO_BUFSIZ].decode("utf-8", "surrogateescape")
        record["retcode"] = rc
        if kwargs.get("rstrip", True):
            out, err = out.rstrip(), err.rstrip()
        return {"pid": next(_PIDS), "retcode": rc, "stdout": out, "stderr": err}


def install(loaders, adapter: KernelAdapter) -> None:
    """Make ``adapter`` the ``cmd.run_all`` that every module of ``loaders`` calls through
    ``__salt__``. Salt 3008's minion_mods is two loaders: the outer one (wire dispatch) and
    an inner unfiltered one packed as every module's ``__salt__``; both get it, after cmdmod
    is loaded in each (loading it later would overwrite the entry)."""
    outer = loaders.modules
    inner = outer.pack.get("__salt__") or outer
    for loader in {id(outer): outer, id(inner): inner}.values():
        loader["cmd.run_all"]  # pylint: disable=pointless-statement
        loader._dict["cmd.run_all"] = adapter
        assert loader["cmd.run_all"].func is adapter


def log_entries(root: str) -> list[dict]:
    """ngsim's invocation log of ``root`` (ROOT/log.jsonl), read directly."""
    try:
        with open(os.path.join(root, "log.jsonl"), encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []
