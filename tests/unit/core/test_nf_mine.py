"""The mine between exporters and collectors: what an exporter publishes (nf_mine.published,
netflow.mine's return) and what a collector renders from it (``sources: mine``: nfcapd's
sources, exporters.csv, akvorado's static metadata). Mine data is another minion's word:
hostile ids, names, addresses and indexes are skipped with a reason and never rendered,
each case next to a positive control that the good entry beside it is rendered.
"""
from __future__ import annotations

import copy

import pytest
import yaml
from netgraph_core import nf_collector, nf_mine

VIEW = {"present": True, "health": "ok",
        "interfaces": {"em0": {"attach": "ether", "node": "em0", "index": 0},
                       "em1": {"attach": "ether", "node": "em1", "index": 7},
                       "ipfw:1000": {"attach": "ipfw", "node": "ipfw", "index": 0}},
        "collectors": [{"host": "192.0.2.10", "port": 2055, "version": 9, "connected": True, "declared": True,
                        "source": "198.51.100.1", "declared_source": None},
                       {"host": "192.0.2.11", "port": 2055, "version": 5, "connected": True, "declared": True,
                        "source": "198.51.100.1", "declared_source": None}]}


def entry(source="198.51.100.1", host="192.0.2.10", port=2055, ifindex=None) -> dict:
    return {"sources": [source], "versions": [9], "domain_id": 0, "health": "ok",
            "collectors": [{"host": host, "port": port, "version": 9, "source": source}],
            "ifindex": {"1": "em0", "2": "em1"} if ifindex is None else ifindex}


def test_published_names_sources_versions_and_the_ifindex_map():
    out = nf_mine.published({"lan": VIEW, "gone": {"present": False}}, {"em0": 1, "em1": 2})
    assert list(out) == ["lan"], "an exporter not in the kernel is not published"
    lan = out["lan"]
    assert lan["sources"] == ["198.51.100.1"] and lan["versions"] == [5, 9] and lan["domain_id"] == 0
    assert lan["collectors"][0] == {"host": "192.0.2.10", "port": 2055, "version": 9, "source": "198.51.100.1"}
    # em1's declared index (setifindex) wins over the kernel's; an ipfw attachment is not mapped
    assert lan["ifindex"] == {"1": "em0", "7": "em1"}


def test_sources_from_the_mine_one_per_exporter_that_sends_here():
    data = {"fw1.example.com": {"lan": entry("198.51.100.1"), "wan": entry("198.51.100.2", host="192.0.2.99")},
            "fw2": {"lan": entry("198.51.100.3")}}
    got = nf_mine.collector_sources(data, {"192.0.2.10"}, 2055, 4, "/srv/flows")
    assert got["sources"] == [{"ident": "fw1_example_com_lan", "host": "198.51.100.1",
                               "dir": "/srv/flows/fw1_example_com_lan"},
                              {"ident": "fw2_lan", "host": "198.51.100.3", "dir": "/srv/flows/fw2_lan"}]
    assert got["skipped"] == [], "fw1's wan sends elsewhere: not ours, not an error"
    assert nf_mine.collector_sources(data, {"192.0.2.10"}, 2056, 4, "/s")["sources"] == [], "another port"


def test_one_source_address_for_two_exporters_keeps_the_first_and_says_why():
    data = {"fw1": {"lan": entry("198.51.100.1"), "wan": entry("198.51.100.1")}}
    got = nf_mine.collector_sources(data, {"192.0.2.10"}, 2055, 4, "/s")
    assert [s["ident"] for s in got["sources"]] == ["fw1_lan"]
    assert got["skipped"] == ["fw1: exporter wan: source 198.51.100.1 is also fw1_lan's (nfcapd tells sources "
                              "apart by address)"]


@pytest.mark.parametrize("data, why", [
    ({"fw*": {"lan": entry()}}, "minion 'fw*'"),
    ({"fw1\nx": {"lan": entry()}}, "minion 'fw1\\nx'"),
    ({"fw1": ["lan"]}, "minion 'fw1'"),
    ({"fw1": {"lan;rm": entry()}}, "exporter 'lan;rm'"),
    ({"fw1": {"lan": "entry"}}, "exporter 'lan'"),
    ({"a" * 61: {"lan": entry()}}, "longer than 64"),
])
def test_hostile_mine_entries_are_skipped_with_their_reason(data, why):
    good = {"fw9": {"lan": entry("198.51.100.9")}}
    got = nf_mine.collector_sources({**good, **data}, {"192.0.2.10"}, 2055, 4, "/s")
    assert any(why in s for s in got["skipped"]), got["skipped"]
    assert [s["ident"] for s in got["sources"]] == ["fw9_lan"], "control: the good minion's exporter is rendered"


@pytest.mark.parametrize("source", ["198.51.100.1,/etc", "0.0.0.0", "2001:db8::1", "198.051.100.1", None, 7])
def test_a_source_that_is_not_a_plain_address_of_our_family_is_not_a_source(source):
    got = nf_mine.collector_sources({"fw1": {"lan": entry(source)}}, {"192.0.2.10"}, 2055, 4, "/s")
    assert got["sources"] == []
    assert nf_mine.collector_sources({"fw1": {"lan": entry()}}, {"192.0.2.10"}, 2055, 4, "/s")["sources"], "control"


def test_the_map_files_render_checked_values_only():
    bad_names = {"1": "em0", "2": "em1,\"x", "x": "em2", "3": ["em3"], "99999999999": "em4"}
    got = nf_mine.collector_sources({"fw1": {"lan": entry(ifindex=bad_names)}}, {"192.0.2.10"}, 2055, 4, "/s")
    assert got["rows"][0]["ifindex"] == {1: "em0"}
    csv = nf_mine.exporters_csv(got["rows"])
    assert csv == "ident,minion,exporter,source,ifindex,ifname\nfw1_lan,fw1,lan,198.51.100.1,1,em0\n"
    meta = yaml.safe_load(nf_mine.akvorado_yaml(got["rows"]))
    assert meta == [{"type": "static", "exporters": {"198.51.100.1": {
        "name": "fw1_lan", "skip-missing-interfaces": True,
        "ifindexes": {1: {"name": "em0", "description": "em0 of fw1"}}}}}]
    assert yaml.safe_load(nf_mine.akvorado_yaml([])) == [{"type": "static", "exporters": {}}]


def collector(**over) -> dict:
    return {"host": "0.0.0.0", "port": 2055, "storage": "/srv/flows", "sources": "mine", **over}


def test_sources_mine_renders_argv_and_the_map_files_in_storage():
    mine = {"published": {"fw1": {"lan": entry()}}, "own": ["192.0.2.10", "127.0.0.1"]}
    plan = nf_collector.plan(collector(), "systemd", mine)
    assert plan["argv"][-2:] == ["-n", "fw1_lan,198.51.100.1,/srv/flows/fw1_lan"]
    files = {path: text for path, text, _mode in plan["files"]}
    assert files["/srv/flows/exporters.csv"].endswith("fw1_lan,fw1,lan,198.51.100.1,2,em1\n")
    assert "198.51.100.1" in files["/srv/flows/akvorado-metadata.yaml"]
    # a collector listening on one address takes only the exporters that send to it
    assert nf_collector.plan(collector(host="192.0.2.11"), "systemd", mine)["argv"][-2:] == ["-w", "/srv/flows"]
    # a check (no mine data) accepts it and renders no source
    assert nf_collector.validate(collector())["sources"] == []


def test_a_collector_with_sources_mine_is_still_checked_whole():
    with pytest.raises(nf_collector.CollectorError) as err:
        nf_collector.plan(collector(port=0), "systemd", {"published": {"fw1": {"lan": entry()}}, "own": []})
    assert [e["key"] for e in err.value.errors] == ["netflow:collector:port"]
    with pytest.raises(nf_collector.CollectorError, match="or mine"):
        nf_collector.validate(collector(sources="Mine"))
    data = copy.deepcopy({"published": {"fw1": {"lan": entry()}}, "own": ["192.0.2.10"]})
    assert nf_collector.plan(collector(), "freebsd", data)["argv"][-1].startswith("fw1_lan,"), "control"


def test_read_asks_the_ether_indexes_in_one_query():
    asked = []

    def query(reqs):
        asked.append(reqs)
        return [{"ok": True, "reply": {"args": 3}}, {"ok": False, "error": "No such file"}]

    out = nf_mine.read({"lan": VIEW}, query)
    assert asked == [[["em0:", "getifindex"], ["em1:", "getifindex"]]]
    assert out["lan"]["ifindex"] == {"3": "em0", "7": "em1"}, "em1's failed read: its declared index stays"


def test_an_ipv6_collector_takes_the_ipv6_sources_of_exporters_sending_to_one_of_its_addresses():
    v6 = entry("2001:db8:1::1", host="2001:db8::10")
    data = {"fw1": {"lan": v6, "wan": entry("198.51.100.2", host="2001:db8::10")}}
    mine = {"published": data, "own": ["192.0.2.10", "2001:db8::10", "fe80::1"]}
    plan = nf_collector.plan(collector(host="::"), "systemd", mine)
    assert "-6" in plan["argv"] and plan["argv"][-2:] == ["-n", "fw1_lan,2001:db8:1::1,/srv/flows/fw1_lan"]
    assert plan["config"]["mine"]["skipped"] == [], "wan's IPv4 source is not a source of an IPv6 collector"
