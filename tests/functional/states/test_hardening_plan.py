"""Hardening of the planner and of apply/rollback (issue 12), through Salt's own loader and
ngsim hosts, nothing mocked:

* ipfw: only our rules (``ngtee N``/``netgraph N`` into our hooks) are ever deleted or
  replaced, takeover or not; ``test=True`` shows every deletion with its text; a failed
  batch or a failed ipfw step puts every deleted rule back, exactly;
* one interface belongs to one exporter, takeover or not;
* ownership by name AND type AND position (an interface called ``lan_v9_0`` is not ours);
* a batch killed after every N lines (``ngsim die``), with Salt surviving (rollback) and
  with the whole job killed (the next apply repairs, helped by the journal).

Faults ngsim injects itself: ``ngsim fail`` (a failing ngctl command) and ``ngsim die``
(ngctl killed after N lines). ngsim has no knob for a failing ``ipfw``, and ``die`` hits
the NEXT ``ngctl -f`` whatever it is (the apply's graph reads are ``ngctl -f -`` too), so
the minion's ``netgraph.ngctl``/``netgraph.ipfw`` point at a small shim in front of the
host's binaries: it passes every call through unchanged, except that when armed it makes
the Nth ``ipfw add``/``delete`` fail as FreeBSD's ipfw reports a kernel error (exit 69,
no effect), arms ``ngsim die`` just before the apply's batch (``ngctl -f FILE``), and can
SIGKILL the whole Salt job right after that ngctl dies.
"""
from __future__ import annotations

import pathlib

import pytest

from ngsim.testing import script_lines

from tests.support.faultrig import C1, C2, C5, IFACES, TUN, Host, Rig, assert_converges, graph, unnamed

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def rig(tmp_path_factory) -> Rig:
    return Rig(tmp_path_factory.mktemp("hardening"))


# ------------------------------------------------------------------ 3. ipfw: only our rules
@pytest.mark.parametrize("takeover", [True, False], ids=["takeover", "no-takeover"])
@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_the_firewalls_own_rule_is_never_replaced(rig, takeover, test):
    """``ipfw_rule: 65000`` where the firewall has ``65000 allow ip from any to any``: with
    takeover the old code deleted it for a non-terminal ngtee and the default deny cut the
    host off. Refused, the rule named, nothing run (not even kldload ng_ipfw)."""
    host = rig.fresh(firewall=True)
    before = host.ipfw_list()
    ret = rig.present(test=test, takeover=takeover, interfaces={"em0": None, "tun0": {**TUN, "ipfw_rule": 65000}})
    assert ret.result is False
    assert "ipfw rule 65000" in ret.comment and "allow ip from any to any" in ret.comment, ret.comment
    assert host.mutating() == []
    assert host.ipfw_list() == before and set(host.links().values()) == {"pass"}


def test_a_rule_number_shared_with_another_rule_is_never_deleted(rig):
    """``ipfw delete N`` deletes every rule numbered N: when our stale rule shares its
    number with someone else's, the apply refuses instead of deleting theirs too."""
    host = rig.fresh(firewall=True)
    assert rig.present(interfaces={"em0": None, "tun0": TUN}).result is True
    host.run("ipfw", "-q", "add", "1000", "count", "ip", "from", "any", "to", "any", "via", "em1")
    before = host.ipfw_list()
    host.mark()
    ret = rig.present(interfaces={"em0": None, "tun0": {**TUN, "ipfw_rule": 1100}})
    assert ret.result is False and "1000" in ret.comment and "count ip from any to any via em1" in ret.comment
    assert host.mutating() == [] and host.ipfw_list() == before


def test_test_mode_shows_every_ipfw_deletion_with_its_text(rig):
    host = rig.fresh(firewall=True)
    assert rig.present(interfaces={"em0": None, "tun0": TUN}).result is True
    host.mark()
    ret = rig.present(test=True, interfaces={"em0": None, "tun0": {**TUN, "direction": "ingress"}})
    assert ret.result is None and host.mutating() == []
    assert ret.changes["ipfw"] == {"delete": [1000], "delete_rules": ["1000 ngtee 1000 ip from any to any via tun0"],
                                   "add": ["1000 ngtee 1000 ip from any to any in via tun0"]}
    gone = rig.absent(test=True)
    assert gone.changes["ipfw"] == {"delete": [1000], "delete_rules": ["1000 ngtee 1000 ip from any to any via tun0"]}


# ------------------------------------------------------------------ 3b. ipfw: the hook's real owner
def test_a_hook_of_another_exporter_is_refused_naming_that_exporter(rig):
    """Exporter a tees tun0 into hook 1000; exporter b declares hook 1000 for em1. The old
    message said "interface em1 (ipfw:1000) belongs to exporter a" (em1 is not a's)."""
    host = rig.fresh(firewall=True)
    assert rig.present(name="a", interfaces={"tun0": TUN}).result is True
    rules = host.ipfw_list()
    host.mark()
    for test in (True, False):
        ret = rig.present(name="b", test=test, interfaces={"em1": {**TUN, "ipfw_rule": 1100}}, collectors=[C2])
        assert ret.result is False
        assert "ipfw hook 1000" in ret.comment and "exporter a's netflow node a_nf" in ret.comment, ret.comment
        assert "interface em1" in ret.comment, ret.comment
    assert host.mutating() == [] and host.ipfw_list() == rules


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_a_rule_left_by_another_exporter_is_never_deleted_or_fed_to_us(rig, test):
    """Exporter a's netflow node was shut down by hand; its rule 1000 (ngtee 1000 via tun0)
    stays. Exporter b declaring hook 1000 at rule 1100: the old apply deleted a's rule and
    took the hook. Refused, naming rule 1000, nothing run."""
    host = rig.fresh(firewall=True)
    assert rig.present(name="a", interfaces={"tun0": TUN}).result is True
    host.ngctl("shutdown", "a_nf:")
    rules = host.ipfw_list()
    assert "01000 ngtee 1000 ip from any to any via tun0" in rules  # positive control: a's rule is there
    host.mark()
    ret = rig.present(name="b", test=test, interfaces={"tun0": {**TUN, "ipfw_rule": 1100}}, collectors=[C2])
    assert ret.result is False and "fed by ipfw rule 1000" in ret.comment, ret.comment
    assert host.mutating() == [] and host.ipfw_list() == rules and "b_nf" not in host.listing()


def test_a_hook_held_by_a_foreign_node_is_never_taken_over(rig):
    """A hand-built ng_netflow node on ipfw:1000 fed by the firewall's rule 500 (the
    rc.d/ipfw_netflow pattern). With takeover the old apply deleted rule 500 and took the
    hook. Refused, naming the node, takeover or not; nothing run."""
    host = rig.fresh(firewall=True)
    host.run("kldload", "ng_ipfw")
    host.ngctl("-f", "-", stdin="mkpeer ipfw: netflow 1000 iface0\nname ipfw:1000 netflow\n")
    host.run("ipfw", "-q", "add", "500", "ngtee", "1000", "ip", "from", "any", "to", "any", "via", "tun0")
    rules, nodes = host.ipfw_list(), graph(rig)
    host.mark()
    for takeover in (False, True):
        ret = rig.present(takeover=takeover, interfaces={"tun0": TUN})
        assert ret.result is False
        assert "connected to node netflow (netflow) hook iface0" in ret.comment, ret.comment
    assert host.mutating() == [] and host.ipfw_list() == rules and graph(rig) == nodes


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_a_tee_after_the_firewalls_allow_all_is_refused(rig, test):
    """``ipfw_rule: 65100`` after the firewall's ``65000 allow ip from any to any``: ipfw
    stops at 65000 for every packet, so the tee would account nothing (the old apply added
    it and reported success). Refused, naming rule 65000, nothing run."""
    host = rig.fresh(firewall=True)
    rules = host.ipfw_list()
    ret = rig.present(test=test, interfaces={"em0": None, "tun0": {**TUN, "ipfw_rule": 65100}})
    assert ret.result is False, ret.comment
    assert "rule 65100 would come after ipfw rule 65000 'allow ip from any to any'" in ret.comment, ret.comment
    assert host.mutating() == [] and host.ipfw_list() == rules
    assert rig.present(test=test, interfaces={"em0": None, "tun0": {**TUN, "ipfw_rule": 64000}}).result is not False


# ------------------------------------------------------------------ 4. ipfw rollback
def test_a_failed_batch_puts_the_deleted_ipfw_rule_back(rig):
    """A direction change on tun0 (ipfw) deletes rule 1000 before the batch; the batch
    fails at its first line: the old code left rule 1000 gone ("rolled back with 0
    command(s)"). Now the rule is back with its exact text, and the comment says so."""
    host = rig.fresh(firewall=True)
    assert rig.present(interfaces={"em0": None, "tun0": TUN}).result is True
    before = host.ipfw_list()
    after = {"interfaces": {"em0": {"direction": "egress"}, "tun0": {**TUN, "direction": "ingress"}}}
    host.fail_at(1)
    ret = rig.present(**after)
    assert ret.result is False and "line 1" in ret.comment
    assert "ipfw: add 1000 ngtee 1000 ip from any to any via tun0" in ret.comment, ret.comment
    assert host.ipfw_list() == before
    assert_converges(rig, **after)
    assert "01000 ngtee 1000 ip from any to any in via tun0" in host.ipfw_list()


FW_SCENARIOS = {
    # name: (before, after, takeover); after None = exporter_absent
    "create": (None, {"interfaces": {"em0": None, "tun0": TUN}, "collectors": [C1, C2]}, False),
    "modify": ({"interfaces": {"em0": None, "tun0": TUN}, "collectors": [C1]},
               {"interfaces": {"em0": {"direction": "egress"}, "em1": None, "tun0": {**TUN, "direction": "ingress"}},
                "collectors": [C1, C5], "timeouts": {"active": 60, "inactive": 5}}, False),
    "rehook": ({"interfaces": {"em0": None, "tun0": TUN}, "collectors": [C1]},
               {"interfaces": {"em0": None, "tun0": {"attach": "ipfw", "ipfw_hook": 2000}}, "collectors": [C1]}, False),
    "remove": ({"interfaces": {"em0": None, "tun0": TUN}, "collectors": [C1]},
               {"interfaces": {"em0": None}, "collectors": [C1]}, False),
    "takeover": ("seed", {"interfaces": {"em0": None, "tun0": TUN}, "collectors": [C1]}, True),
    "absent": ({"interfaces": {"em0": None, "tun0": TUN}, "collectors": [C1, C5]}, None, False),
}
SEED = script_lines(REPO / "tests" / "data" / "hand_built_exporter.ngctl")


def _fw_setup(rig: Rig, before) -> Host:
    host = rig.fresh(firewall=True)
    if before == "seed":
        host.ngctl("-f", "-", stdin="\n".join(SEED) + "\n")
    elif before:
        assert rig.present(**before).result is True
    host.mark()
    return host


def _fw_steps(rig: Rig, before, after, takeover) -> list[tuple]:
    """Every fault position of the scenario: ("ngctl", k) per batch line, ("ipfw", k) per
    ipfw add/delete, read from the plan on a host set up as for the run."""
    _fw_setup(rig, before)
    planned = (rig.loaders.modules.netflow.plan("lan", load_modules=True, takeover=takeover, **after) if after
               else rig.loaders.modules.netflow.absent_plan("lan"))
    ipfw = len(planned["ipfw"]["delete"]) + len(planned["ipfw"]["add"])
    return [("ngctl", k) for k in range(1, len(planned["commands"]) + 1)] + [("ipfw", k) for k in range(1, ipfw + 1)]


@pytest.mark.parametrize("scenario", list(FW_SCENARIOS))
def test_ipfw_exporters_fault_at_every_ngctl_line_and_ipfw_step(rig, scenario):
    """tun0 through ipfw (and em0): a fault at every line of the batch and at every ipfw
    add/delete. Each time the apply fails and says so, every interface passes, the ipfw
    rules are exactly what they were, and the next apply converges."""
    before, after, takeover = FW_SCENARIOS[scenario]
    steps = _fw_steps(rig, before, after, takeover)
    assert any(kind == "ipfw" for kind, _ in steps) and any(kind == "ngctl" for kind, _ in steps)
    for kind, k in steps:
        host = _fw_setup(rig, before)
        rules = host.ipfw_list()
        if kind == "ngctl":
            host.fail_at(k)
        else:
            rig.arm(ipfw_fail=k)
        ret = rig.present(takeover=takeover, **after) if after else rig.absent()
        where = f"{scenario}@{kind}{k}"
        assert ret.result is False, f"{where}: the fault went unreported"
        assert (f"line {k}" if kind == "ngctl" else "No buffer space available") in ret.comment, (where, ret.comment)
        assert "rolled back" in ret.comment, (where, ret.comment)
        assert set(host.links().values()) == {"pass"}, (where, host.links(), ret.comment)
        assert host.ipfw_list() == rules, (where, ret.comment)
        assert not rig.journal().exists(), where
        if after:
            assert_converges(rig, takeover=takeover, **after)
        else:
            assert rig.absent().result is True and "lan_" not in host.listing()
            assert not [r for r in host.ipfw_list() if "ngtee" in r] and set(host.links().values()) == {"pass"}


def test_takeover_fault_at_every_line_leaves_no_interface_half_attached(rig):
    """Takeover of a hand-built exporter on em0 and em1 (the seed's rc.d nodes): a fault
    between ``rmhook em0: lower`` and ``rmhook em0: upper`` left em0 with only its upper
    hook on the foreign node, and the old rollback cut only hooks to our nodes: em0
    blackholed. The rollback detaches what is left of an interface this batch frees."""
    seed = SEED[:3] + ["connect em1: netflow: lower iface1", "connect em1: netflow: upper out1"] + SEED[3:]
    after = {"interfaces": ["em0", "em1"], "collectors": [C1], "takeover": True}
    rig.fresh().ngctl("-f", "-", stdin="\n".join(seed) + "\n")
    count = len(rig.plan(**after)["commands"])
    for k in range(1, count + 1):
        host = rig.fresh()
        host.ngctl("-f", "-", stdin="\n".join(seed) + "\n")
        host.fail_at(k)
        ret = rig.present(**after)
        assert ret.result is False and f"line {k}" in ret.comment
        assert set(host.links().values()) == {"pass"}, (k, host.links(), ret.comment)
        assert_converges(rig, **after)
        # the foreign node that served em0/em1 may stay behind, serving no interface: it
        # is not ours, and only the batch that takes an interface from it retires it
        nodes = graph(rig)
        assert {nodes["em0"]["hooks"]["lower"]["peer"], nodes["em1"]["hooks"]["upper"]["peer"]} == {"lan_nf"}


# ------------------------------------------------------------------ 9. one interface, one exporter
@pytest.mark.parametrize("attach", ["ether", "ipfw"])
def test_an_interface_of_another_exporter_is_never_taken_over(rig, attach):
    """Two exporters with takeover: true on one interface took it from each other at every
    apply (the flow cache lost each time, both "succeeding"). The second is refused,
    naming both exporters and the interface, and the first keeps it untouched."""
    host = rig.fresh(firewall=attach == "ipfw")
    ifs = {"em0": None} if attach == "ether" else {"tun0": TUN}
    iface = "em0" if attach == "ether" else "tun0"
    assert rig.present(name="a", interfaces=ifs, collectors=[C1], takeover=True).result is True
    host.mark()
    for test in (True, False):
        ret = rig.present(name="b", interfaces=ifs, collectors=[C2], takeover=True, test=test)
        assert ret.result is False, ret.comment
        assert "exporter a" in ret.comment and "exporter b" in ret.comment and f"interface {iface}" in ret.comment
    assert host.mutating() == []
    assert rig.present(name="a", interfaces=ifs, collectors=[C1], takeover=True).changes == {}
    assert "b_nf" not in host.listing() and set(host.links().values()) == {"pass"}


# ------------------------------------------------------------------ 10. ownership by name AND type
def test_an_interface_named_like_our_node_is_never_ours(rig):
    """An interface ``lan_v9_0`` (its ng_ether node has the name exporter lan gives its
    first fan-out ksocket) carries exporter ``other``. Exporter lan's apply, status,
    rollback and removal never touch it (the old apply shut it down as lan's)."""
    host = rig.fresh(ifaces=IFACES + ["lan_v9_0"])
    other = {"name": "other", "interfaces": ["lan_v9_0"], "collectors": [C2]}
    assert rig.present(**other).result is True
    ret = rig.present(interfaces=["em0"], collectors=[C1])
    assert ret.result is True, ret.comment
    assert not any("lan_v9_0" in line for line in ret.changes["ngctl"])
    assert set(rig.loaders.modules.netflow.status("lan")["nodes"]) == {"lan_nf", "lan_v9"}
    assert rig.present(**other).changes == {}
    host.fail_at(1)
    assert rig.present(interfaces=["em0", "em1"], collectors=[C1]).result is False
    assert rig.absent().result is True
    assert rig.present(**other).changes == {}
    assert "lan_nf" not in host.listing() and set(host.links().values()) == {"pass"}
    assert rig.loaders.modules.netflow.status("lan")["present"] is False


def test_a_name_of_ours_held_by_an_interface_is_refused(rig):
    """An interface called ``lan_nf``: exporter lan cannot name its netflow node; the old
    apply shut the ng_ether node down and failed mid-batch. Refused, nothing run."""
    host = rig.fresh(ifaces=IFACES + ["lan_nf"])
    ret = rig.present(interfaces=["em0"], collectors=[C1])
    assert ret.result is False and "lan_nf (ether)" in ret.comment, ret.comment
    assert host.mutating() == []


# ------------------------------------------------------------------ 5. killed mid-apply
KILL_PLANS = {
    "one_interface": {"interfaces": ["em0"], "collectors": [C1, C2]},
    "three_interfaces": {"interfaces": ["em0", "em1", "vlan0.100"], "collectors": [C1, C2]},
}


def _kill_positions(rig: Rig, params: dict) -> int:
    rig.fresh()
    return len(rig.plan(**params)["commands"])


@pytest.mark.parametrize("plan", list(KILL_PLANS))
def test_a_batch_killed_after_every_line_is_rolled_back(rig, plan):
    """ngctl killed after N lines of the create batch (N = 0 .. all but the last), Salt
    alive: ngctl names no failing line, so the rollback goes by the run's journal (node IDs
    before the batch, the interfaces it attaches) and shuts down everything the batch
    made, named or not. Every interface passes at once; the next apply converges."""
    params = KILL_PLANS[plan]
    for n in range(_kill_positions(rig, params)):
        host = rig.fresh()
        rig.arm(die_after=n)
        ret = rig.present(**params)
        assert ret.result is False and "did not finish" in ret.comment, (n, ret.comment)
        assert set(host.links().values()) == {"pass"}, (n, host.links(), ret.comment)
        assert unnamed(rig) == {} and "lan_" not in host.listing(), (n, host.listing())
        assert not rig.journal().exists()
        assert_converges(rig, **params)


@pytest.mark.parametrize("plan", list(KILL_PLANS))
def test_a_job_killed_with_its_batch_after_every_line_is_repaired_by_the_next_apply(rig, plan):
    """The whole Salt job dies with its ngctl after N lines (no rollback runs): what the
    kill leaves is shown per N, and the NEXT apply repairs it (the journal left behind
    proves the unnamed nodes are ours), then the graph converges."""
    params = KILL_PLANS[plan]
    leaves = {}
    for n in range(_kill_positions(rig, params)):
        host = rig.fresh()
        proc = rig.killed_job(n, params)
        assert proc.returncode == -9, (n, proc.returncode, proc.stdout[-500:], proc.stderr[-3000:])
        assert rig.journal().exists(), n
        cut = sorted(k for k, v in host.links().items() if v != "pass")
        leaves[n] = (sorted(v["type"] for v in unnamed(rig).values()), cut)
        ret = rig.present(**params)
        assert ret.result is True, (n, ret.comment)
        assert set(host.links().values()) == {"pass"}, (n, host.links())
        assert unnamed(rig) == {} and not rig.journal().exists(), n
        clean = rig.present(**params)
        assert clean.result is True and clean.changes == {}, (n, clean.changes)
    print(f"\n{plan}: after N lines a killed ngctl leaves (unnamed nodes, interfaces cut off):")
    for n, (left, cut) in leaves.items():
        print(f"  N={n:2}: {left or '-'} {cut or '-'}")
    assert leaves[0] == ([], [])
    assert leaves[1] == (["netflow"], ["em0"]), "mkpeer without its name: an unnamed netflow node on em0:lower"
    assert leaves[2] == ([], ["em0"]) and leaves[3] == ([], [])


def test_a_job_killed_in_a_real_process_with_its_batch_is_repaired_by_the_next_apply(rig):
    """The matrix above kills the job in this process; here one case is a real Salt
    process SIGKILLed with its ngctl after one line (the shims, ``ngsim die``): the journal
    stays, the unnamed netflow node cuts em0 off, and the next apply repairs it."""
    params = KILL_PLANS["one_interface"]
    host = rig.fresh()
    proc = rig.killed_job(1, params, real_process=True)
    assert proc.returncode == -9, (proc.returncode, proc.stdout[-500:], proc.stderr[-3000:])
    assert rig.journal().exists()
    left = sorted(v["type"] for v in unnamed(rig).values())
    assert (left, sorted(k for k, v in host.links().items() if v != "pass")) == (["netflow"], ["em0"])
    ret = rig.present(**params)
    assert ret.result is True, ret.comment
    assert set(host.links().values()) == {"pass"} and unnamed(rig) == {} and not rig.journal().exists()
