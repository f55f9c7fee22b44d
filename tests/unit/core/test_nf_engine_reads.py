"""The host is the unit: one ngctl read spawn per plan (graph, types and every settings
query in one ``ngctl -f -``), the verification after a batch in one more, whatever the
number of exporters; and a read whose guess is wrong is still the same read (the
settings are those the graph asks for), only one spawn dearer.

Counted on the engine over ngsim (tests/support/engine.py): ``adapter.calls`` is every
spawn, the same record for the in-process and the real-process adapters."""
from __future__ import annotations

import json
import os

import pytest

from tests.support.engine import EngineHost

C1 = {"host": "192.0.2.10", "port": 2055}
C2 = {"host": "192.0.2.11", "port": 2055}
IFACES = tuple(f"em{i}" for i in range(8))


@pytest.fixture(params=["in-process", "subprocess"])
def host(tmp_path, request):
    h = EngineHost(tmp_path, ifaces=IFACES, spawn=request.param)
    assert h.run("kldload", "ng_ether")[0] == 0  # as on a host that already runs ng_ether
    return h


def ngctl_spawns(host: EngineHost, since: int) -> list[str]:
    """The ngctl spawns after ``since`` calls: "read" (``-f -``) or "batch" (``-f FILE``)."""
    calls = [c for c in host.adapter.calls[since:] if os.path.basename(c["argv"][0]) == "ngctl"]
    return ["read" if c["argv"][1:] == ["-f", "-"] else "batch" if c["argv"][1] == "-f" else " ".join(c["argv"][1:])
            for c in calls]


def spawns_of(host: EngineHost, exporters: dict, absent=()) -> tuple[dict, list[str]]:
    mark = len(host.adapter.calls)
    out = host.converge(exporters, absent)
    assert out["result"] is True, out["comment"]
    return out, ngctl_spawns(host, mark)


def three(a: str = "lan", b: str = "dmz", c: str = "wan", moved: bool = False) -> dict:
    """Three exporters over em0..em5; ``moved``: em1 goes from the first to the second."""
    return {a: {"interfaces": ["em0"] + ([] if moved else ["em1"]), "collectors": [C1]},
            b: {"interfaces": ["em2", "em3"] + (["em1"] if moved else []), "collectors": [C2]},
            c: {"interfaces": ["em4", "em5"], "collectors": [C1, C2]}}


def test_create_no_change_and_change_cost_three_one_and_three_spawns(host):
    lan = {"interfaces": ["em0", "em1", "em2"], "collectors": [C1]}
    out, spawns = spawns_of(host, {"lan": lan})
    assert out["changes"]["lan"]["exporter"] == "created"  # control: a batch ran and was counted
    assert spawns == ["read", "batch", "read"], "read, batch, verify"
    out, spawns = spawns_of(host, {"lan": lan})
    assert out["changes"] == {} and spawns == ["read"]
    out, spawns = spawns_of(host, {"lan": {**lan, "timeouts": {"inactive": 5, "active": 60}}})
    assert out["changes"]["lan"]["exporter"] == "updated" and spawns == ["read", "batch", "read"]
    out, spawns = spawns_of(host, {"lan": {**lan, "collectors": [C2]}})
    assert out["changes"]["lan"]["collectors"] and spawns == ["read", "batch", "read"]


def test_loading_ng_ether_first_costs_one_more_read(tmp_path):
    host = EngineHost(tmp_path, ifaces=IFACES)
    out, spawns = spawns_of(host, {"lan": {"interfaces": ["em0"], "collectors": [C1]}})
    assert out["plan"]["modules"] == ["ng_ether"]
    assert spawns == ["read", "read", "batch", "read"], "the graph read again once ng_ether made its nodes"


def test_three_exporters_cost_what_one_does(host):
    out, spawns = spawns_of(host, three())
    assert set(out["changes"]) == {"lan", "dmz", "wan"} and spawns == ["read", "batch", "read"]
    out, spawns = spawns_of(host, three())
    assert out["changes"] == {} and spawns == ["read"]


@pytest.mark.parametrize("names", [("alpha", "zulu", "mid"), ("zulu", "alpha", "mid")], ids=["a-to-z", "z-to-a"])
def test_an_interface_moved_between_exporters_is_one_batch_whatever_their_names(host, names):
    spawns_of(host, three(*names))
    out, spawns = spawns_of(host, three(*names, moved=True))
    assert set(out["changes"]) == set(names[:2]) and spawns == ["read", "batch", "read"]
    assert host.graph()["nodes"]["em1"]["hooks"]["lower"]["peer"] == f"{names[1]}_nf"
    assert all(v == "pass" for v in host.links().values())


def test_a_wrong_guess_reads_the_same_settings_in_one_more_spawn(host):
    spawns_of(host, three())
    names = ["dmz", "lan", "wan"]
    mark = len(host.adapter.calls)
    right = host.engine.read(names, host.engine._declared_guess({n: host.config(n, p) for n, p in three().items()}))
    assert ngctl_spawns(host, mark) == ["read"]
    assert right["settings"]["lan_nf"]["ifaces"] and right["settings"]["wan_v9"]["config"]  # control: settings read
    mark = len(host.adapter.calls)
    none = host.engine.read(names, [])
    assert ngctl_spawns(host, mark) == ["read", "read"], "graph, then the settings it asks for"
    mark = len(host.adapter.calls)
    # a guess that fails at its first line (no such node) and asks about a foreign node
    wrong = host.engine.read(names, [["nosuch_nf:", "info"], ["em0:", "getifname"]])
    assert ngctl_spawns(host, mark) == ["read", "read"]
    assert right["settings"] == none["settings"] == wrong["settings"]
    assert "em0" not in wrong["settings"] and "nosuch_nf" not in wrong["settings"]


def test_after_changes_the_last_apply_s_reads_keep_the_read_to_one_spawn(host):
    """A graph converged through changes keeps each interface's iface index, so its hooks
    are not those the declaration alone numbers (em2 keeps iface2): the queries of the
    graph the last apply made (nf_reads, beside the record) are sent instead. Without
    them the missed ifinfo replies come in a second spawn, and the plan is the same."""
    spawns_of(host, {"lan": {"interfaces": ["em0", "em1", "em2"], "collectors": [C1]}})
    out, spawns = spawns_of(host, {"lan": {"interfaces": ["em2"], "collectors": [C1]}})
    assert out["changes"]["lan"] and spawns == ["read", "batch", "read"]
    assert "iface2" in host.graph()["nodes"]["lan_nf"]["hooks"]  # the declaration alone would say iface0
    out, spawns = spawns_of(host, {"lan": {"interfaces": ["em2"], "collectors": [C1]}})
    assert out["changes"] == {} and spawns == ["read"]
    hint = os.path.join(host.cachedir, "netflow", "lan.reads")
    assert ["lan_nf:", "ifinfo", "2"] in json.loads(open(hint, encoding="utf-8").read())
    os.unlink(hint)  # control: without it the declaration's guess (ifinfo 0) fails
    out, spawns = spawns_of(host, {"lan": {"interfaces": ["em2"], "collectors": [C1]}})
    assert out["changes"] == {} and spawns == ["read", "read"]
    assert os.path.exists(hint), "a successful run writes it again"


def test_a_hostile_or_stale_hint_changes_nothing_but_the_spawn_count(host):
    lan = {"interfaces": ["em0", "em1"], "collectors": [C1]}
    spawns_of(host, {"lan": lan})
    hint = os.path.join(host.cachedir, "netflow", "lan.reads")
    for text in ('[["em0:", "getifname"]]', '[["lan_nf:", "setdlt", "0 1"]]', "not json", '[["lan_nf:", "info"]]'):
        with open(hint, "w", encoding="utf-8") as fh:
            fh.write(text)
        out, spawns = spawns_of(host, {"lan": lan})
        assert out["changes"] == {}, text
        assert spawns in (["read"], ["read", "read"]), text
        assert not any(c["argv"][1:] != ["-f", "-"] and "getifname" in (c.get("stdin") or "") for c in host.adapter.calls)
    assert all("getifname" not in (c.get("stdin") or "") and "setdlt" not in (c.get("stdin") or "") for c in host.adapter.calls)
    out, spawns = spawns_of(host, {}, absent=["lan"])
    assert out["changes"]["lan"]["exporter"] == "removed" and not os.path.exists(hint), "removed with its exporter"


@pytest.mark.parametrize("query, kept", [
    (["lan_nf:", "ifinfo", "12"], True),             # control: a query of its own node
    (["lan_v9_2:", "getpeername"], True),
    (["lan_nf:", "ifinfo", "123456"], False),        # more than 5 digits
    (["lan_nf:", "info", "0"], False),               # an argument info does not take
    (["lan_nf:", "setdlt", "0 1"], False),           # not a read-only settings query
    (["lan2_nf:", "info"], False),                   # another exporter's node
    (["lan_nf", "info"], False),                     # not a path
    (["lan_NF:", "info"], False),
])
def test_a_hint_is_kept_only_when_every_query_is_of_the_exporter_s_own_nodes(tmp_path, query, kept):
    from netgraph_core import nf_reads

    hints = {"lan": [["lan_nf:", "info"], query], "lan2": [["lan2_nf:", "info"]]}
    for name, queries in hints.items():
        with open(nf_reads.path(str(tmp_path), name), "w", encoding="utf-8") as fh:
            json.dump(queries, fh)
    got = nf_reads.load(str(tmp_path), ["lan", "lan2"])
    assert got.get("lan") == (hints["lan"] if kept else None)
    assert got["lan2"] == hints["lan2"]  # each exporter's hint judged by its own name
