"""_utils/nf_status.py (an exporter in the pillar's terms, zero-filled counters, health,
the flow table's filters) and _utils/nf_metrics.py (Prometheus text through
prometheus_client). Views are built from real reads of an ngsim host (no Salt)."""
from __future__ import annotations

import ipaddress
import pathlib
import re
import sys

import pytest

from netgraph_core import nf_metrics
from netgraph_core import nf_model
from netgraph_core import nf_settings
from netgraph_core import nf_flows
from netgraph_core import nf_status
from ngsim.testing import Host, ngsim

REPO = pathlib.Path(__file__).resolve().parents[3]
from tests.support import watched as _watch  # noqa: E402
PARAMS = {"interfaces": ["em0", "em1"], "collectors": [{"host": "127.0.0.1", "port": 2055}]}

# ng_netflow.h (FreeBSD 14): NG_NETFLOW_INFO_TYPE and NG_NETFLOW_IFINFO_TYPE, in order.
NG_PARSE_INFO = ["IPv4 bytes", "IPv4 packets", "IPv6 bytes", "IPv6 packets", "IPv4 skipped bytes",
                 "IPv4 skipped packets", "IPv6 skipped bytes", "IPv6 skipped packets", "Active expiries",
                 "Inactive expiries", "IPv4 records used", "IPv6 records used", "Failed allocations",
                 "V5 failed exports", "V9 failed exports", "mbuf reallocations", "fibs allocated",
                 "Inactive timeout", "Active timeout"]
NG_PARSE_IFINFO = ["packets", "data link type", "index", "conf"]


def view_of(host: Host, cfg: dict | None, name: str = "lan") -> dict:
    graph = _watch.read(host, {})["graph"]  # the graph alone
    queries = nf_settings.settings_queries(graph, name)
    replies = [{"ok": True, "reply": r} for r in _replies(host, queries)]
    settings = nf_settings.settings_from_replies(queries, replies)
    return nf_status.exporter_view(name, graph, settings, nf_status.raw_replies(queries, replies), cfg)


def _replies(host: Host, queries: list) -> list:
    from netgraph_core.ng_text import split_replies

    run = host.ngctl("-f", "-", stdin="".join(" ".join(["msg", *q]) + "\n" for q in queries))
    assert run.returncode == 0, run.stderr
    return split_replies(run.stdout)


@pytest.fixture
def lan(tmp_path):
    return _watch.build(tmp_path / "h")


def test_tables_are_the_kernel_structs():
    assert [f[0] for f in nf_status.INFO_FIELDS] == NG_PARSE_INFO
    assert [f[0] for f in nf_status.IFINFO_FIELDS] == NG_PARSE_IFINFO
    keys = [f[1] for f in nf_status.INFO_FIELDS]
    assert len(set(keys)) == 19 and all(re.fullmatch(r"[a-z0-9_]+", k) for k in keys)
    assert set(nf_metrics.INFO_METRICS) == set(keys), "every info counter has a metric"


def test_zero_filled():
    assert nf_status.zero_filled(None) == {f[1]: 0 for f in nf_status.INFO_FIELDS}
    got = nf_status.zero_filled({"IPv4 packets": 10, "Active timeout": 1800})
    assert got["ipv4_packets"] == 10 and got["active_timeout"] == 1800 and got["v9_failed_exports"] == 0
    assert nf_status.zero_filled({"data link type": 1}, nf_status.IFINFO_FIELDS) == {
        "packets": 0, "dlt": 1, "index": 0, "conf": 0}


@pytest.mark.parametrize("args", [None, {}, "not a struct", {"data link type": 1}, {"packets": 7, "conf": 3},
                                  {"packets": 12, "data link type": 1, "index": 4, "conf": 0x0b}, {"conf": 0x08}])
def test_interface_entry_counters_are_the_zero_filled_ifinfo(args):
    """_iface_entry writes zero_filled out for speed: the same counters, direction and
    once flag; with no iface index (not attached) nothing of the reply is taken."""
    want = nf_status.zero_filled(args, nf_status.IFINFO_FIELDS)
    entry = nf_status._iface_entry(2, args)
    assert {k: entry[k] for k in want} == want and list(entry)[-4:] == list(want)
    assert entry["direction"] == nf_status.direction(want["conf"]) and entry["once"] == bool(want["conf"] & nf_model.CONF_THISONCE)
    detached = nf_status._iface_entry(None, args)
    assert {k: detached[k] for k in want} == {k: 0 for k in want} and detached["attached"] is False


def test_known_traffic_counted_on_its_interface_and_zeros_elsewhere(lan):
    host, cfg = lan
    ngsim("traffic", host.root, "em0", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--packets", "10",
          "--bytes", "1000", "--direction", "in")
    view = view_of(host, cfg)
    assert view["interfaces"]["em0"]["packets"] == 10 and view["interfaces"]["em1"]["packets"] == 0
    assert view["interfaces"]["em0"] == {"iface": 0, "attached": True, "half_attached": False, "direction": "both",
                                         "once": True, "packets": 10,
                                         "dlt": 1, "index": 0, "conf": 11, "attach": "ether", "node": "em0",
                                         "declared": True}
    assert view["counters"]["ipv4_packets"] == 10 and view["counters"]["ipv4_bytes"] == 1000
    assert view["counters"]["v9_failed_exports"] == 0 and len(view["counters"]) == 19
    assert view["collectors"] == [{"host": "127.0.0.1", "port": 2055, "version": 9, "family": "inet",
                                   "carries": ["IPv4", "IPv6"], "connected": True, "node": "lan_v9",
                                   "declared": True, "source": "127.0.0.1", "source_port": 10000,
                                   "declared_source": None}]
    # no flow expired yet: the node keeps the template it was made with (time=1, so its
    # first v9 datagram carries the templates; nf_model.start_template), and that is ok
    assert view["settings"] == {"timeouts": {"inactive": 15, "active": 1800},
                                "template": {"time": 1, "packets": 500}, "mtu": 1500}
    assert view["declaration"]["template"] == {"time": 600, "packets": 500}
    assert view["health"] == "ok" and view["reasons"] == [] and view["nodes"] == ["lan_nf", "lan_v9"]


def test_health_verdicts(lan):
    host, cfg = lan
    host.ngctl("rmhook", "em1:", "lower")
    view = view_of(host, cfg)
    assert view["health"] == "degraded" and view["interfaces"]["em1"]["attached"] is False
    assert view["reasons"] == ["interface em1 is half attached (only one of em1's lower/upper hooks goes to lan_nf: "
                               "one direction of its traffic is dropped)"]
    host.ngctl("rmhook", "em1:", "upper")
    assert view_of(host, cfg)["reasons"] == ["interface em1 is detached (no hook from em1 to lan_nf)"]
    host.ngctl("msg", "lan_v9:", "connect", "inet/127.0.0.1:9999")
    view = view_of(host, cfg)
    assert "collector 127.0.0.1:2055 (v9) has no connected socket" in view["reasons"]
    assert "lan_v9 sends to 127.0.0.1:9999 (v9), which is not a declared collector" in view["reasons"]
    host.ngctl("shutdown", "lan_v9:")
    assert view_of(host, cfg)["health"] == "down"
    host.ngctl("shutdown", "lan_nf:")
    view = view_of(host, cfg)
    assert view["health"] == "down" and view["reasons"] == ["netflow node lan_nf is missing"]
    assert view["present"] is False and view["counters"]["ipv4_packets"] == 0


def test_settings_against_the_declaration(lan):
    host, cfg = lan
    host.ngctl("msg", "lan_nf:", "settimeouts", "{ inactive=20 active=60 }")
    view = view_of(host, cfg)
    assert view["reasons"] == ["timeouts is {'inactive': 20, 'active': 60}, declared {'inactive': 15, 'active': 1800}"]
    assert view_of(host, None)["health"] == "ok", "without a declaration nothing to compare with"


def test_rising_counters_with_two_reads(lan):
    host, cfg = lan
    first = view_of(host, cfg)
    second = view_of(host, cfg)
    second["counters"] = {**second["counters"], "v5_failed_exports": 2}
    second["interfaces"]["em0"] = {**second["interfaces"]["em0"], "packets": 7}
    assert nf_status.health(second, first) == {"health": "degraded", "reasons": [
        "2 V5 exports failed since the last read",
        "interface em0 has traffic (7 packets) but nothing was accounted"]}
    assert nf_status.health(first, first) == {"health": "ok", "reasons": []}


def test_view_without_declaration_names_what_the_graph_shows(tmp_path):
    host, _ = _watch.build(tmp_path / "h", params={"interfaces": ["vlan0.100"], "collectors": PARAMS["collectors"]},
                           ifaces=("em0", "vlan0.100"))
    view = view_of(host, None)
    assert list(view["interfaces"]) == ["vlan0_100"] and view["interfaces"]["vlan0_100"]["declared"] is False
    assert view["collectors"][0]["declared"] is False and view["health"] == "ok"
    assert nf_status.exporter_names({"nodes": {"lan_nf": {"type": "netflow"}, "x_nf": {"type": "ether"},
                                               "bad name_nf": {"type": "netflow"}}}) == ["lan"]


# ------------------------------------------------------------------ the flow table
FLOWCTL = """SrcIf          SrcIPaddress    DstIf          DstIPaddress    Pr TOS Flgs  Pkts
Port Msk AS                    Port Msk AS    NextHop              B/Pk  Active
em0            10.0.0.1        (null)         192.0.2.7        6   0   18     10
9c40 /0  0                     01bb /0  0     0.0.0.0               150        0

em1            198.51.100.5    em0            10.0.0.9        17   0    0     40
14e9 /0  0                     0035 /0  0     0.0.0.0                90        0

"""


def test_flow_table_and_filters():
    table = nf_status.flow_table(nf_flows.parse_flowctl(FLOWCTL)["flows"], nf_status.check_flow_filters())
    assert table["total"] == table["matched"] == 2
    assert table["flows"][0] == {"src": "198.51.100.5", "dst": "10.0.0.9", "sport": 5353, "dport": 53, "proto": 17,
                                 "interface": "em1", "interface_out": "em0", "packets": 40, "bytes": 3600, "tos": 0,
                                 "tcp_flags": 0, "first": None, "last": None}
    flows = nf_flows.parse_flowctl(FLOWCTL)["flows"]
    pick = lambda **kw: [f["src"] for f in nf_status.flow_table(flows, nf_status.check_flow_filters(**kw))["flows"]]  # noqa: E731
    assert pick(interface="em0") == ["198.51.100.5", "10.0.0.1"]
    assert pick(interface="em1") == ["198.51.100.5"]
    assert pick(address="192.0.2.7") == ["10.0.0.1"]
    assert pick(address="10.0.0.0/24") == ["198.51.100.5", "10.0.0.1"]
    assert pick(address="2001:db8::/32") == []
    assert pick(limit=1) == ["198.51.100.5"]
    assert nf_status.check_flow_filters(address="10.0.0.1/8")["network"] == ipaddress.ip_network("10.0.0.0/8")


@pytest.mark.parametrize("kw", [{"interface": "em0;x"}, {"interface": 5}, {"address": "host.example"},
                                {"address": 10}, {"limit": -1}, {"limit": "5"}, {"limit": True}])
def test_flow_filters_refused(kw):
    with pytest.raises(ValueError, match=f"^{next(iter(kw))}: "):
        nf_status.check_flow_filters(**kw)


# ------------------------------------------------------------------ metrics
def test_metrics_text(lan):
    from prometheus_client.parser import text_string_to_metric_families

    host, cfg = lan
    ngsim("traffic", host.root, "em0", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--packets", "10", "--direction", "in")
    gone = nf_status.exporter_view("wan", {"nodes": {}}, {}, {}, nf_model.validate({**PARAMS, "name": "wan"}))
    text = nf_metrics.render([view_of(host, cfg), gone])
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert samples[("netflow_interface_packets_total", (("exporter", "lan"), ("interface", "em0")))] == 10
    assert samples[("netflow_interface_packets_total", (("exporter", "lan"), ("interface", "em1")))] == 0
    assert samples[("netflow_accounted_packets_total", (("exporter", "lan"), ("ip", "4")))] == 10
    assert samples[("netflow_failed_exports_total", (("exporter", "lan"), ("version", "9")))] == 0
    assert samples[("netflow_collector_connected", (("collector", "127.0.0.1:2055"), ("exporter", "lan"),
                                                    ("version", "9")))] == 1
    assert samples[("netflow_exporter_health", (("exporter", "wan"), ("netflow_exporter_health", "down")))] == 1
    assert samples[("netflow_exporter_present", (("exporter", "wan"),))] == 0
    assert not any(k[0].startswith("netflow_accounted") and ("exporter", "wan") in k[1] for k in samples)
    names = {fam.name for fam in text_string_to_metric_families(text)}
    assert {"netflow_" + m[0] for m in nf_metrics.INFO_METRICS.values()} <= names


def test_metrics_without_prometheus_client_say_how_to_install_the_extra(monkeypatch):
    assert nf_metrics.render([]) is not None, "positive control: renders with prometheus_client"
    for mod in [m for m in list(sys.modules) if m.split(".")[0] == "prometheus_client"]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import raises ImportError
    with pytest.raises(ValueError, match=re.escape("salt-pip install 'saltext-netgraph[metrics]'")):
        nf_metrics.render([])


def test_metrics_path_check():
    assert nf_metrics.check_path("/var/tmp/node_exporter/netflow.prom")
    for bad in ("netflow.prom", "/tmp/x.txt", "/tmp/../etc/x.prom", "/tmp/a b.prom", None, "/tmp/x.prom\n"):
        with pytest.raises(ValueError):
            nf_metrics.check_path(bad)
