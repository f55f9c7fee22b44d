"""Per-host store: ROOT/state.json guarded by an fcntl lock on ROOT/lock, and ROOT/log.jsonl.

Every emulated binary holds the lock for its whole run (load, run, save, log), so
concurrent invocations on one host serialize like the kernel serializes them.
"""
from __future__ import annotations

import fcntl
import json
import os
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any

STATE_VERSION = 1


def state_path(root: str) -> str:
    return os.path.join(root, "state.json")


def log_path(root: str) -> str:
    return os.path.join(root, "log.jsonl")


def fresh_state(ifaces: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """A freshly booted host: only the kernel loaded, no netgraph nodes."""
    st: dict[str, Any] = {
        "version": STATE_VERSION,
        "ifaces": [],  # list of {"name", "kind", "index", "mac", "ng_detached"}
        "next_ifindex": 1,
        "next_id": 1,
        "id_hmask": 15,
        "id_buckets": [[] for _ in range(16)],
        "name_hmask": 15,
        "name_buckets": [[] for _ in range(16)],
        "named": 0,
        "nodes": {},
        "types": [],  # registered netgraph types, newest first
        "klds": [],  # loaded kernel files, in load order
        "next_kld_id": 1,
        "next_mod_id": 1,
        "next_kld_addr": 0,
        "ipfw_rules": [],
        "fail": None,
    }
    for name, kind in ifaces or []:
        add_iface(st, name, kind)
    return st


def add_iface(st: dict[str, Any], name: str, kind: str) -> dict[str, Any]:
    """Record an interface (no netgraph side effects)."""
    idx = st["next_ifindex"]
    st["next_ifindex"] = idx + 1
    h = 5381
    for c in name.encode():
        h = (h * 33 + c) & 0xFFFFFFFF
    mac = "00:1b:21:%02x:%02x:%02x" % ((h >> 16) & 0xFF, (h >> 8) & 0xFF, h & 0xFF)
    rec = {"name": name, "kind": kind, "index": idx, "mac": mac}
    st["ifaces"].append(rec)
    return rec


def load(root: str) -> dict[str, Any]:
    with open(state_path(root), encoding="utf-8") as f:
        return json.load(f)


def save(root: str, st: dict[str, Any]) -> None:
    tmp = state_path(root) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        # dumps, not dump: json.dump streams through the pure-Python encoder, ~10x slower
        # at 1,000 interfaces, and every spawn saves the whole state (the same text)
        f.write(json.dumps(st, separators=(",", ":"), sort_keys=False))
    os.replace(tmp, state_path(root))


def append_log(root: str, entry: dict[str, Any]) -> None:
    with open(log_path(root), "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


class locked:
    """``with locked(root):`` holds the host's exclusive flock for the whole block."""

    def __init__(self, root: str):
        self.root = root
        self.fd = -1

    def __enter__(self) -> "locked":
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"ngsim: no emulated host at {self.root}")
        self.fd = os.open(os.path.join(self.root, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
