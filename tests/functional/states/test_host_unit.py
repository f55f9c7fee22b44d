"""The host is the unit (issue 19, class 7), through Salt's own loader against ngsim,
nothing mocked: ``netflow.exporters_present`` / ``netflow.converge_host`` converge every
exporter of a host in one read, one plan, ONE ngctl batch, one rollback, one verification.

The defect: moving an interface between exporters in one pillar change (em0 from one
exporter to another) succeeded or failed depending on the exporters' names, because the
formula applied one ``exporter_present`` per exporter in name order: when the gaining
exporter came first it found em0 held by the other and refused (the losing one then
released em0, leaving it attached to no exporter). Exporters are named ``aaa`` and
``zzz`` so both orders are exercised.
"""
from __future__ import annotations

import json
import subprocess

import pytest


from tests.support import nghost as _conf
ngsim = _conf.run_ngsim

IFACES = ["em0", "em1", "em2", "tun0"]
C1 = {"host": "192.0.2.10", "port": 2055}
C2 = {"host": "192.0.2.11", "port": 2055}


class Host(_conf.NgHost):
    """The conftest's host with a log mark: ``mutating()`` counts what happened since ``mark()``."""

    def init(self, loaded=("ng_ether",)) -> "Host":
        super().init(ifaces=IFACES, loaded=loaded)
        self.mark()
        return self

    def mark(self) -> None:
        self._mark = len(self.log())

    def since(self) -> list[dict]:
        return self.log()[self._mark:]

    def mutating(self) -> list[dict]:
        return [e for e in self.since() if e["mutating"]]

    def links(self) -> dict:
        return json.loads(ngsim("links", str(self.root)))

    def ngctl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return super().ngctl(*args, stdin=stdin, check=False)


host_root, loaders = _conf.netflow_fixtures("hostunit", Host, inprocess=True)


@pytest.fixture
def host(host_root, loaders) -> Host:
    h = Host(host_root).init()
    loaders.reset_state()
    return h


def exporters(**ifaces) -> dict:
    """name -> parameters, one collector each (different ports, so nothing else moves)."""
    return {name: {"interfaces": i, "collectors": [{**C1, "port": 2055 + n}]}
            for n, (name, i) in enumerate(sorted(ifaces.items()))}


def host_state(loaders, decl: dict, test: bool = False, absent=None):
    return loaders.states.netflow.exporters_present(name="netflow-exporters", exporters=decl, absent=absent, test=test)


def topology(loaders) -> dict:
    """The graph as nodes -> (type, hooks -> peer): what a rollback must put back."""
    nodes = loaders.modules.netgraph.graph()["nodes"]
    return {k: (v["type"], {h: (p["peer"], p["peer_hook"]) for h, p in v["hooks"].items()}) for k, v in nodes.items()}


def owner(loaders, iface: str) -> str | None:
    """The netflow node both hooks of ``iface``'s ng_ether node feed (None: detached)."""
    hooks = loaders.modules.netgraph.graph()["nodes"][iface]["hooks"]
    peers = {p["peer"] for p in hooks.values()}
    assert len(peers) <= 1 and (not hooks or set(hooks) == {"lower", "upper"}), (iface, hooks)
    return peers.pop() if peers else None


def assert_accounted(loaders, host: Host, decl: dict) -> None:
    """Every interface passes traffic and every declared one is on its exporter."""
    assert set(host.links().values()) == {"pass"}, host.links()
    for name, params in decl.items():
        for iface in params["interfaces"]:
            assert owner(loaders, iface) == f"{name}_nf", (iface, name)


# ------------------------------------------------------------------ moving an interface
@pytest.mark.parametrize("gainer,loser", [("aaa", "zzz"), ("zzz", "aaa")])
def test_moving_an_interface_converges_in_one_batch_whatever_the_names(loaders, host, gainer, loser):
    before = exporters(**{loser: ["em0", "em1"], gainer: ["em2"]})
    assert host_state(loaders, before).result is True
    assert_accounted(loaders, host, before)
    host.mark()
    after = exporters(**{loser: ["em1"], gainer: ["em2", "em0"]})
    ret = host_state(loaders, after)
    assert ret.result is True, ret.comment
    muts = host.mutating()
    assert len(muts) == 1 and muts[0]["argv"][1] == "-f", "one mutating ngctl spawn: the batch"
    assert_accounted(loaders, host, after)
    assert ret.changes[loser]["interfaces"] == {"em0": "removed"}
    assert ret.changes[gainer]["interfaces"]["em0"].startswith("added")
    # detach from the old netflow node and attach to the new one: adjacent lines
    lines = [line for line in muts[0]["script"].splitlines() if line.strip()]
    at = lines.index("rmhook em0: lower")
    assert lines[at:at + 4] == ["rmhook em0: lower", "rmhook em0: upper",
                                f"connect em0: {gainer}_nf: lower iface1", f"connect em0: {gainer}_nf: upper out1"]
    host.mark()
    again = host_state(loaders, after)
    assert again.result is True and again.changes == {}, again.changes
    assert host.mutating() == []
    ngctl = [e for e in host.since() if e.get("binary", e["argv"][0].rsplit("/", 1)[-1]) == "ngctl"]
    assert len(ngctl) == 1 and ngctl[0]["argv"][1:] == ["-f", "-"], \
        "one read of the whole host: the graph and every exporter's settings in one ngctl -f -"
    assert f"msg {gainer}_nf: ifinfo 1" in ngctl[0]["stdin"] and f"msg {loser}_nf: ifinfo 1" in ngctl[0]["stdin"]


def test_the_per_exporter_states_in_name_order_fail_where_the_host_state_succeeds(loaders, host):
    """The old formula's way (one exporter_present per exporter, in name order): the
    gaining ``aaa`` comes first and is refused; the host state does the same change."""
    before = exporters(zzz=["em0"], aaa=["em1"])
    assert host_state(loaders, before).result is True
    after = exporters(zzz=["em1"], aaa=["em0"])
    host.mark()
    first = loaders.states.netflow.exporter_present(name="aaa", **after["aaa"])
    assert first.result is False and "belongs to exporter zzz" in first.comment
    assert host.mutating() == []
    ret = host_state(loaders, after)
    assert ret.result is True, ret.comment
    assert_accounted(loaders, host, after)


def test_the_per_exporter_path_still_refuses_to_steal_an_interface(loaders, host):
    decl = exporters(zzz=["em0"])
    assert host_state(loaders, decl).result is True
    host.mark()
    for test in (True, False):
        ret = loaders.states.netflow.exporter_present(name="aaa", interfaces=["em0"], collectors=[C2],
                                                      takeover=True, test=test)
        assert ret.result is False and "exporter zzz" in ret.comment and "interface em0" in ret.comment
    assert host.mutating() == [] and owner(loaders, "em0") == "zzz_nf"


def test_swapping_two_interfaces_between_two_exporters(loaders, host):
    before = exporters(aaa=["em0"], zzz=["em1"])
    assert host_state(loaders, before).result is True
    host.mark()
    after = exporters(aaa=["em1"], zzz=["em0"])
    ret = host_state(loaders, after)
    assert ret.result is True, ret.comment
    assert len(host.mutating()) == 1
    assert_accounted(loaders, host, after)
    assert host_state(loaders, after).changes == {}


def test_moving_to_a_new_exporter_and_removing_the_old_one(loaders, host):
    assert host_state(loaders, exporters(aaa=["em0", "em1"])).result is True
    host.mark()
    after = exporters(zzz=["em0", "em1"])
    ret = host_state(loaders, after, absent=["aaa"])
    assert ret.result is True, ret.comment
    assert ret.changes["aaa"]["exporter"] == "removed" and ret.changes["zzz"]["exporter"] == "created"
    assert len(host.mutating()) == 1
    assert_accounted(loaders, host, after)
    assert "aaa_nf" not in host.ngctl("list").stdout


def test_test_mode_writes_nothing(loaders, host):
    before = exporters(aaa=["em0"], zzz=["em1"])
    assert host_state(loaders, before).result is True
    was = topology(loaders)
    host.mark()
    ret = host_state(loaders, exporters(aaa=["em1"], zzz=["em0"]), test=True)
    assert ret.result is None, ret.comment
    assert set(ret.changes) == {"aaa", "zzz"} and ret.changes["aaa"]["ngctl"]
    assert host.mutating() == [] and topology(loaders) == was


# ------------------------------------------------------------------ validation of the whole host
@pytest.mark.parametrize("decl,words", [
    ({"aaa": {"interfaces": ["em0"], "collectors": [C1]}, "zzz": {"interfaces": ["em0"], "collectors": [C2]}},
     ["interface em0", "exporters aaa and zzz"]),
    ({"aaa": {"interfaces": {"tun0": {"attach": "ipfw", "ipfw_hook": 1000}}, "collectors": [C1]},
      "zzz": {"interfaces": {"tun1": {"attach": "ipfw", "ipfw_hook": 1000, "ipfw_rule": 2000}}, "collectors": [C2]}},
     ["ipfw_hook 1000", "exporters aaa and zzz"]),
    ({"aaa": {"interfaces": {"tun0": {"attach": "ipfw", "ipfw_hook": 1000}}, "collectors": [C1]},
      "zzz": {"interfaces": {"tun1": {"attach": "ipfw", "ipfw_hook": 1001, "ipfw_rule": 1000}}, "collectors": [C2]}},
     ["ipfw_rule 1000", "exporters aaa and zzz"]),
    ({"aaa": {"interfaces": ["em0"], "collectors": [C1]}, "zzz": {"interfaces": ["em0"], "colectors": [C2]}},
     ["exporters.zzz", "colectors"]),
])
def test_a_host_declaration_in_conflict_is_refused_before_anything_runs(loaders, host, decl, words):
    host.mark()
    ret = host_state(loaders, decl)
    assert ret.result is False and all(w in ret.comment for w in words), ret.comment
    assert "Traceback" not in ret.comment
    assert host.mutating() == []
    assert positive_control_mutates(loaders, host)


def positive_control_mutates(loaders, host) -> bool:
    """The same call with a valid declaration does spawn a mutating ngctl (so an empty
    mutating log above means refused, not "nothing ran anyway")."""
    host.mark()
    return host_state(loaders, exporters(aaa=["em0"])).result is True and len(host.mutating()) == 1


# ------------------------------------------------------------------ rollback of the move
@pytest.mark.parametrize("gainer,loser", [("aaa", "zzz"), ("zzz", "aaa")])
def test_a_failure_at_every_line_of_the_move_rolls_back_to_the_previous_graph(loaders, host, gainer, loser):
    before = exporters(**{loser: ["em0", "em1"], gainer: ["em2"]})
    after = exporters(**{loser: ["em1"], gainer: ["em2", "em0"]})
    assert host_state(loaders, before).result is True
    was = topology(loaders)
    count = len(loaders.modules.netflow.converge_host(exporters=after, test=True)["plan"]["commands"])
    assert count >= 4
    for k in range(1, count + 1):
        host.fail_at(k)
        ret = host_state(loaders, after)
        assert ret.result is False and f"line {k}" in ret.comment, (k, ret.comment)
        assert set(host.links().values()) == {"pass"}, (k, host.links(), ret.comment)
        assert topology(loaders) == was, (k, ret.comment)
        assert_accounted(loaders, host, before)
    ok = host_state(loaders, after)
    assert ok.result is True, ok.comment
    assert_accounted(loaders, host, after)


def test_an_ipfw_attached_interface_moves_with_its_rule(loaders, host):
    """tun0 (ngtee into ng_ipfw hook 1000, rule 1000) moves from zzz to aaa: the rule is
    one host-level diff, so it is neither deleted (as zzz's stale rule) nor added twice."""
    host.run("kldload", "ipfw")  # rc.d/ipfw with firewall_type=open
    host.run("ipfw", "-q", "add", "65000", "allow", "ip", "from", "any", "to", "any")
    tun = {"tun0": {"attach": "ipfw", "ipfw_hook": 1000}}
    before = {"aaa": {"interfaces": {"em0": None}, "collectors": [C1]},
              "zzz": {"interfaces": {"em1": None, **tun}, "collectors": [C2]}}
    assert host_state(loaders, before).result is True
    after = {"aaa": {"interfaces": {"em0": None, **tun}, "collectors": [C1]},
             "zzz": {"interfaces": {"em1": None}, "collectors": [C2]}}
    ret = host_state(loaders, after)
    assert ret.result is True, ret.comment
    rules = [line for line in host.run("ipfw", "list").stdout.splitlines() if "ngtee 1000" in line]
    assert len(rules) == 1, rules
    assert loaders.modules.netgraph.graph()["nodes"]["ipfw"]["hooks"]["1000"]["peer"] == "aaa_nf"
    assert host_state(loaders, after).changes == {}
