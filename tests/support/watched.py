"""An ngsim host built from an exporter's boot script (no Salt), and the beacon's one-spawn
read of it, parsed as the beacon parses it: tests/unit/core/test_nf_watch.py and
test_nf_status.py."""
from __future__ import annotations

import pathlib

from netgraph_core import nf_model
from netgraph_core import nf_boot
from netgraph_core import nf_watch
from netgraph_core import ng_snapshot
from ngsim.testing import Host

PARAMS = {"interfaces": ["em0", "em1"], "collectors": [{"host": "127.0.0.1", "port": 2055}]}


def build(root: pathlib.Path, params=PARAMS, name="lan", ifaces=("em0", "em1", "em2")) -> tuple[Host, dict]:
    host = Host.create(str(root), ifaces=ifaces, loaded=("ng_ether",))
    cfg = nf_model.validate({**params, "name": name})
    script = nf_boot.build_script(cfg)
    assert host.kldload("-n", *script["modules"]).returncode == 0
    run = host.ngctl("-f", "-", stdin="\n".join(script["ngctl"]) + "\n")
    assert run.returncode == 0, run.stderr
    return host, cfg


def read(host: Host, declared: dict, state: dict | None = None) -> dict:
    reqs = nf_watch.requests(declared, (state or {}).get("graph"))
    run = host.ngctl("-f", "-", stdin=ng_snapshot.snapshot_script(reqs))
    return nf_watch.snapshot(*ng_snapshot.parse_snapshot(run.stdout, run.stderr, run.returncode, reqs), reqs)
