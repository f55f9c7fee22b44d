"""An exporter the pillar declares is in the mine before it is applied (nf_mine.declared_view,
nf_args.declared_for_mine): a collector applied in the same ``state.apply`` as its exporters
finds them. Its source is the declared one, else the one this host's routing gives; a
collector named by minion is matched by the collector minion's own id while the exporter
could not resolve it, and only then. Each case beside a control that the path ran.
"""
from __future__ import annotations

import socket

import pytest
from netgraph_core import nf_args, nf_mine, nf_model

STORAGE = "/srv/flows"


def cfg(collectors, interfaces=("em0",)) -> dict:
    return nf_model.validate({"name": "lan", "interfaces": list(interfaces), "collectors": collectors})


def no_query(reqs):
    return [{"ok": False, "error": "No such file or directory"} for _ in reqs]


def test_a_declared_exporter_is_published_before_it_is_applied():
    view = nf_mine.declared_view(cfg([{"host": "192.0.2.10", "port": 2055, "source": "198.51.100.1"}]))
    out = nf_mine.read({}, no_query, {"lan": view})
    assert out["lan"]["applied"] is False and out["lan"]["sources"] == ["198.51.100.1"]
    assert out["lan"]["collectors"] == [{"host": "192.0.2.10", "port": 2055, "version": 9, "source": "198.51.100.1"}]
    assert nf_mine.read({}, no_query, {}) == {}, "control: nothing declared, nothing applied, nothing published"


def test_without_a_declared_source_the_routing_gives_it():
    asked = []

    def route(family, address, port):
        asked.append((family, address, port))
        return "198.51.100.7"

    view = nf_mine.declared_view(cfg([{"host": "192.0.2.10", "port": 2055}]), route)
    assert asked == [("inet", "192.0.2.10", 2055)]
    assert view["collectors"][0]["declared_source"] == "198.51.100.7"
    declared = nf_mine.declared_view(cfg([{"host": "192.0.2.10", "port": 2055, "source": "198.51.100.1"}]), route)
    assert len(asked) == 1 and declared["collectors"][0]["declared_source"] == "198.51.100.1", "declared: not asked"


def test_route_source_is_what_a_udp_connect_is_given():
    # the loopback: the source a connected UDP socket gets here, as the kernel's ksocket would
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.5", 2055))
        expected = s.getsockname()[0]
    assert nf_mine.route_source("inet", "127.0.0.5", 2055) == expected
    assert nf_mine.route_source("inet", "not-an-address", 2055) is None, "no route, no source"


def test_ifindex_of_a_declared_interface_is_the_kernels_or_the_declared_one():
    view = nf_mine.declared_view(cfg([{"host": "192.0.2.10", "port": 2055, "source": "198.51.100.1"}],
                                     ["em0", "em1"]))
    out = nf_mine.read({}, lambda reqs: [{"ok": True, "reply": {"args": 4}}, {"ok": False}], {"lan": view})
    assert out["lan"]["ifindex"] == {"4": "em0"}, "em1's node did not answer: no index invented"


def test_a_live_exporter_gains_the_collectors_the_pillar_added_since():
    live = {"present": True, "health": "ok", "interfaces": {},
            "collectors": [{"host": "192.0.2.10", "port": 2055, "version": 9, "connected": True,
                            "source": "198.51.100.1", "declared_source": None}]}
    declared = nf_mine.declared_view(cfg([{"host": "192.0.2.10", "port": 2055, "source": "198.51.100.9"},
                                          {"host": "192.0.2.20", "port": 2055, "source": "198.51.100.1"}]))
    out = nf_mine.read({"lan": live}, no_query, {"lan": declared})["lan"]
    assert out["applied"] is True
    # the reached collector keeps the kernel's source (the live one), the new one is added
    assert [(c["host"], c["source"]) for c in out["collectors"]] == [("192.0.2.10", "198.51.100.1"),
                                                                     ("192.0.2.20", "198.51.100.1")]
    assert nf_mine.read({"lan": live}, no_query)["lan"]["collectors"][0]["source"] == "198.51.100.1", "control"


def minion_entry(host=None, source="198.51.100.1") -> dict:
    return {"lan": {"collectors": [{"host": host, "minion": "cap1", "port": 2055, "version": 9, "source": source}],
                    "ifindex": {}}}


def test_a_collector_named_by_minion_is_matched_by_that_minions_id_while_unresolved():
    got = nf_mine.collector_sources({"fw1": minion_entry()}, {"192.0.2.10"}, 2055, 4, STORAGE, "cap1")
    assert got["sources"] == [{"ident": "fw1_lan", "host": "198.51.100.1", "dir": f"{STORAGE}/fw1_lan"}]
    assert nf_mine.collector_sources({"fw1": minion_entry()}, {"192.0.2.10"}, 2055, 4, STORAGE, "cap2")["sources"] == []
    assert nf_mine.collector_sources({"fw1": minion_entry()}, {"192.0.2.10"}, 2056, 4, STORAGE, "cap1")["sources"] == []


def test_a_resolved_address_elsewhere_is_not_ours_even_by_id():
    elsewhere = minion_entry(host="192.0.2.99")
    assert nf_mine.collector_sources({"fw1": elsewhere}, {"192.0.2.10"}, 2055, 4, STORAGE, "cap1")["sources"] == []
    here = minion_entry(host="192.0.2.10")
    assert len(nf_mine.collector_sources({"fw1": here}, {"192.0.2.10"}, 2055, 4, STORAGE, "cap1")["sources"]) == 1


@pytest.mark.parametrize("host", [["192.0.2.10"], {"a": 1}, 7])
def test_a_hostile_collector_host_in_the_mine_is_no_match_and_no_traceback(host):
    got = nf_mine.collector_sources({"fw1": minion_entry(host=host)}, {"192.0.2.10"}, 2055, 4, STORAGE, "cap1")
    assert got["sources"] == []


def decided(exporters, errors=()) -> dict:
    return {"errors": list(errors), "exporters": [[n, kw] for n, kw in exporters.items()]}


def test_declared_for_mine_keeps_unresolved_minions_and_leaves_refused_exporters_out():
    exporters = {"lan": {"interfaces": ["em0"], "collectors": [{"minion": "cap1", "port": 2055, "source": "10.0.0.1"}]},
                 "bad": {"interfaces": ["em0;"], "collectors": [{"host": "192.0.2.1", "port": 2055}]}}
    out = nf_args.declared_for_mine(decided(exporters), None, lambda *a, **k: {})
    assert list(out) == ["lan"], "the refused exporter is left out"
    assert out["lan"]["collectors"][0]["host"] is None and out["lan"]["collectors"][0]["minion"] == "cap1"
    mine = {"cap1": {"ip4_interfaces": {"eth0": ["192.0.2.10"]}}}
    resolved = nf_args.declared_for_mine(decided(exporters), None, lambda *a, **k: mine)
    assert resolved["lan"]["collectors"][0]["host"] == "192.0.2.10", "control: the mine resolves it"


def test_a_refused_pillar_publishes_no_declaration():
    exporters = {"lan": {"interfaces": ["em0"], "collectors": [{"host": "192.0.2.1", "port": 2055}]}}
    assert nf_args.declared_for_mine(decided(exporters, [{"key": "netflow:x", "comment": "bad"}]), None) == {}
    assert list(nf_args.declared_for_mine(decided(exporters), None)) == ["lan"], "control"
