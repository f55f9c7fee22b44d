"""What ``netflow.mine`` publishes for a declared exporter before it is applied is what it
publishes once the apply made it (Salt's loader, pillar ``netflow:exporters``, the
emulated host in process): a collector wired from the declaration keeps the same source
after the apply, so nfcapd's sources do not change under it. The source a declaration
without ``source`` gets from the host's routing is the one the kernel's ksocket takes on
``connect`` (ngsim follows in_pcbladdr: 127.0.0.1 towards the loopback).
"""
from __future__ import annotations

from tests.support import nghost
from tests.support.nfcapd import free_udp_port

def loaders_with(tmp_path, exporters: dict):
    from saltfactories.utils.functional import Loaders

    host = nghost.NgHost(tmp_path / "fw1").init(ifaces=("em0", "em1"))
    opts = nghost.minion_opts_for(host.root, tmp_path / "salt")
    opts["netflow"] = {"boot_dir": str(tmp_path / "boot"), "lock_file": str(tmp_path / "netflow.lock")}
    opts["pillar"] = {"netflow": {"persist": False, "exporters": exporters}}
    loaders = Loaders(opts)
    nghost.install_inprocess(loaders, host.root)
    return loaders


def without_state(published: dict) -> dict:
    return {name: {k: v for k, v in entry.items() if k not in ("applied", "health")}
            for name, entry in published.items()}


def test_what_is_published_before_the_apply_is_what_is_published_after_it(tmp_path):
    port = free_udp_port()
    lan = {"interfaces": ["em0", "em1"], "timeouts": {"active": 1800, "inactive": 15},
           "collectors": [{"host": "127.0.0.1", "port": port, "version": 9},
                          {"host": "127.0.0.1", "port": port + 1, "version": 5, "source": "127.0.0.2"}]}
    loaders = loaders_with(tmp_path, {"lan": lan})
    before = loaders.modules.netflow.mine()
    assert before["lan"]["applied"] is False and before["lan"]["health"] is None
    assert sorted(before["lan"]["sources"]) == ["127.0.0.1", "127.0.0.2"], before
    assert before["lan"]["ifindex"] == {"1": "em0", "2": "em1"}, "the kernel's indexes, asked before any node is ours"
    ret = loaders.states.netflow.exporter_present(name="lan", **lan)
    assert ret.result is True and ret.changes, ret
    after = loaders.modules.netflow.mine()
    assert after["lan"]["applied"] is True
    assert without_state(after) == without_state(before)


def test_an_exporter_the_pillar_no_longer_declares_is_published_only_while_applied(tmp_path):
    lan = {"interfaces": ["em0"], "collectors": [{"host": "127.0.0.1", "port": free_udp_port(), "version": 9}]}
    loaders = loaders_with(tmp_path, {})
    assert loaders.modules.netflow.mine() == {}, "nothing declared, nothing applied"
    assert loaders.states.netflow.exporter_present(name="lan", **lan).result is True
    assert loaders.modules.netflow.mine()["lan"]["applied"] is True, "applied by hand: published from the kernel"
