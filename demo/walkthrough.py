#!/usr/bin/env python3
"""Replay the seed's walkthrough on an emulated FreeBSD host and print the graph after each step.

Usage: python demo/walkthrough.py [ROOT]   (default: a fresh .demo/walkthrough under the repo)

Each step runs through ROOT/bin/ngctl (or kldload) as a separate process, like a shell
script would; after it the demo prints `ngctl list`, `ngctl show em0:` and the link state
of em0 from `ngsim links` (pass: frames flow; blackhole: ng_ether drops them).
"""
from __future__ import annotations

import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from ngsim.testing import Host  # noqa: E402

STEPS = [
    ["kldload", "netgraph", "ng_ether", "ng_netflow", "ng_ksocket"],
    ["ngctl", "mkpeer", "em0:", "netflow", "lower", "iface0"],
    ["ngctl", "name", "em0:lower", "netflow"],
    ["ngctl", "connect", "em0:", "netflow:", "upper", "out0"],
    ["ngctl", "mkpeer", "netflow:", "ksocket", "export9", "inet/dgram/udp"],
    ["ngctl", "name", "netflow:export9", "nfsock"],
    ["ngctl", "msg", "nfsock:", "connect", "inet/192.0.2.1:4444"],
]


def main(argv: list[str]) -> int:
    root = argv[1] if len(argv) > 1 else os.path.join(REPO, ".demo", "walkthrough")
    if os.path.exists(root):
        shutil.rmtree(root)
    host = Host.create(root, ifaces=("em0", "em1"))
    print("Emulated host %s: interfaces em0, em1; only the kernel loaded.\n" % root)
    for n, argv_ in enumerate(STEPS, 1):
        print("=" * 72)
        print("step %d: %s" % (n, " ".join(argv_)))
        r = host.run(argv_[0], *argv_[1:])
        sys.stdout.write(r.stdout)
        sys.stdout.write(r.stderr)
        if r.returncode != 0:
            print("exit status %d" % r.returncode)
            return 1
        print("-" * 72)
        for cmd in (["list"], ["show", "em0:"]):
            print("$ ngctl %s" % " ".join(cmd))
            sys.stdout.write(host.ngctl(*cmd).stdout)
        state = host.links()["em0"]
        note = "frames flow" if state == "pass" else "ng_ether drops em0's traffic"
        print("link state of em0: %s (%s)\n" % (state, note))
    print("Spawns logged by the emulator: %d" % len(host.log()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
