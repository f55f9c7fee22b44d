"""Removal next to foreign nodes, and rollback that puts foreign links back (issue 19,
classes 2 and 3), through Salt's own loader against ngsim hosts, nothing mocked:

* an ng_tee tap (or a foreign netflow node) spliced between an interface and our netflow
  node: ``exporter_absent`` (and an apply that drops the interface) re-joins the foreign
  chain on the line after our node goes, or refuses naming the foreign node when it
  cannot, and a fault at every line of that batch is rolled back with every interface
  passing; ``test=True`` shows the re-join and runs nothing;
* a takeover batch that fails after its ``rmhook``s puts the foreign exporter's links
  back: the graph is the one read before the batch, every interface passes.

The rig (shims in front of the host's binaries, Salt's loader bound to them) is
test_hardening_plan's.
"""
from __future__ import annotations

import pathlib

import pytest

from ngsim.testing import script_lines

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
from tests.support import faultrig as _hp  # noqa: E402
C1 = _hp.C1


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    return _hp.Rig(tmp_path_factory.mktemp("splice"))


def links(rig) -> dict:
    return rig.host.links()


def wiring(rig) -> dict:
    """Every node but ngctl's own sockets: type and hooks (what a rollback must restore)."""
    return {k: (v["type"], {h: (p["peer"], p["peer_hook"]) for h, p in v["hooks"].items()})
            for k, v in _hp.graph(rig).items() if v["type"] != "socket"}


# Splices made after exporter lan is built on em0 (and em1): an ng_tee between the
# interface and lan_nf on the inbound side, the outbound side, or both.
SPLICES = {
    "lower": ["rmhook em0: lower", "mkpeer em0: tee lower right", "name em0:lower tap",
              "connect tap: lan_nf: left iface0"],
    "upper": ["rmhook em0: upper", "mkpeer em0: tee upper left", "name em0:upper tap",
              "connect tap: lan_nf: right out0"],
    "both": ["rmhook em0: lower", "mkpeer em0: tee lower right", "name em0:lower tap",
             "connect tap: lan_nf: left iface0", "rmhook em0: upper", "mkpeer em0: tee upper left",
             "name em0:upper tap2", "connect tap2: lan_nf: right out0"],
}
REJOIN = {"lower": "connect tap: em0: left upper", "upper": "connect em0: tap: lower right",
          "both": "connect tap: tap2: left right"}


def spliced(rig, splice: str, interfaces=("em0",)):
    host = rig.fresh()
    assert rig.present(interfaces=list(interfaces), collectors=[C1]).result is True
    host.run("kldload", "ng_tee")
    host.ngctl("-f", "-", stdin="\n".join(SPLICES[splice]) + "\n")
    assert set(links(rig).values()) == {"pass"}, links(rig)  # the tap itself passes traffic
    host.mark()
    return host


def assert_taps_kept(rig, splice: str) -> None:
    nodes = wiring(rig)
    assert "tap" in nodes and nodes["em0"][1]["lower" if splice != "upper" else "upper"][0] in ("tap", "tap2")


# ------------------------------------------------------------------ class 2: removal re-joins
@pytest.mark.parametrize("splice", list(SPLICES))
def test_absent_with_a_tee_spliced_rejoins_it_and_keeps_the_interface_passing(rig, splice):
    """The old removal shut down lan_nf and stopped: tap's freed hook went nowhere, em0
    was blackholed and the state said "removed". Now the re-join is previewed, then made
    on the line after the shutdown, and em0 passes through the tap."""
    host = spliced(rig, splice)
    preview = rig.absent(test=True)
    assert preview.result is None and host.mutating() == []
    assert preview.changes["ngctl"] == ["shutdown lan_nf:", REJOIN[splice]], preview.changes
    assert preview.changes["rejoined"], preview.changes
    ret = rig.absent()
    assert ret.result is True, ret.comment
    assert set(links(rig).values()) == {"pass"}, (links(rig), ret.changes)
    assert "lan_" not in host.listing()
    assert_taps_kept(rig, splice)
    assert rig.absent().changes == {}


@pytest.mark.parametrize("splice", list(SPLICES))
def test_absent_fault_at_every_line_leaves_every_interface_passing(rig, splice):
    host = spliced(rig, splice)
    count = len(rig.loaders.modules.netflow.absent_plan("lan")["commands"])
    assert count == 2
    for k in range(1, count + 1):
        host = spliced(rig, splice)
        host.fail_at(k)
        ret = rig.absent()
        assert ret.result is False and f"line {k}" in ret.comment and "rolled back" in ret.comment, (k, ret.comment)
        assert set(links(rig).values()) == {"pass"}, (k, links(rig), ret.comment)
        again = rig.absent()
        assert again.result is True and set(links(rig).values()) == {"pass"}, (k, again.comment)
        assert_taps_kept(rig, splice)


def test_dropping_a_spliced_interface_rejoins_it(rig):
    """em0 and em1 declared, a tap spliced on em1's inbound side, then em1 dropped from
    the pillar: the old plan cut lan_nf's iface1/out1 and left em1 blackholed."""
    host = rig.fresh()
    assert rig.present(interfaces=["em0", "em1"], collectors=[C1]).result is True
    host.run("kldload", "ng_tee")
    host.ngctl("-f", "-", stdin="rmhook em1: lower\nmkpeer em1: tee lower right\nname em1:lower tap\n"
               "connect tap: lan_nf: left iface1\n")
    assert set(links(rig).values()) == {"pass"}
    for k in (2, 3, None):  # a fault after each cut, then the real thing
        if k:
            host.fail_at(k)
        ret = rig.present(interfaces=["em0"], collectors=[C1])
        assert set(links(rig).values()) == {"pass"}, (k, links(rig), ret.comment)
        if k:
            assert ret.result is False and f"line {k}" in ret.comment, (k, ret.comment)
            assert wiring(rig)["lan_nf"][1]["iface1"] == ("tap", "left"), "rollback puts em1 back on lan_nf"
    assert ret.result is True and ret.changes["rejoined"] == ["tap:left <-> em1:upper"], ret.changes
    nodes = wiring(rig)
    assert nodes["em1"][1] == {"lower": ("tap", "right"), "upper": ("tap", "left")}
    assert rig.present(interfaces=["em0"], collectors=[C1]).changes == {}


@pytest.mark.parametrize("test", [True, False], ids=["test", "apply"])
def test_a_splice_that_cannot_be_rejoined_is_refused_naming_the_foreign_node(rig, test):
    """em0 reaches lan_nf through a foreign netflow node ``xf`` on both sides (xf:out0 ->
    lan_nf:iface0, lan_nf:out0 -> xf:iface1): its two freed hooks are on one node, which
    no link re-joins. Refused, xf named, nothing run, em0 still passing."""
    host = rig.fresh()
    assert rig.present(interfaces=["em0"], collectors=[C1]).result is True
    host.ngctl("-f", "-", stdin="rmhook em0: lower\nrmhook em0: upper\nmkpeer em0: netflow lower iface0\n"
               "name em0:lower xf\nconnect xf: lan_nf: out0 iface0\nconnect xf: lan_nf: iface1 out0\n"
               "connect xf: em0: out1 upper\n")
    assert set(links(rig).values()) == {"pass"}
    before = wiring(rig)
    host.mark()
    ret = rig.absent(test=test)
    assert ret.result is False and "xf (netflow)" in ret.comment and "em0" in ret.comment, ret.comment
    assert host.mutating() == [] and wiring(rig) == before


# ------------------------------------------------------------------ class 3: takeover rollback
OPNSENSE = script_lines(REPO / "tests" / "data" / "opnsense_rc_netflow.ngctl")[1:]  # its shutdown fails here
HAND_BUILT = script_lines(REPO / "tests" / "data" / "hand_built_exporter.ngctl")
SEEDS = {"opnsense": OPNSENSE, "hand_built": HAND_BUILT}


def seeded(rig, seed: str):
    host = rig.fresh()
    for line in SEEDS[seed]:  # one ngctl per line, as the rc.d scripts run them
        host.ngctl(*line.split())
    host.mark()
    return host


@pytest.mark.parametrize("seed", list(SEEDS))
def test_a_failed_takeover_puts_the_foreign_exporter_back(rig, seed):
    """A takeover failing at any line after its first ``rmhook``: the old rollback shut
    down what the batch made and left the foreign exporter detached (em0 passing, but no
    exporter accounting it). Now the host is as it was before the batch: same nodes, same
    links, every interface passing; the next apply still takes over."""
    params = {"interfaces": ["em0"], "collectors": [C1], "takeover": True}
    seeded(rig, seed)
    before = wiring(rig)
    plan = rig.plan(**params)["commands"]
    first = next(i for i, line in enumerate(plan, 1) if line.startswith("rmhook"))
    assert plan[first - 1] == "rmhook em0: lower"
    for k in range(first + 1, len(plan) + 1):
        seeded(rig, seed)
        rig.host.fail_at(k)
        ret = rig.present(**params)
        assert ret.result is False and f"line {k}" in ret.comment, (k, ret.comment)
        assert set(links(rig).values()) == {"pass"}, (k, links(rig), ret.comment)
        assert wiring(rig) == before, (k, plan[k - 1], ret.comment)
        assert not rig.journal().exists()
    _hp.assert_converges(rig, **params)
