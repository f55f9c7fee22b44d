"""Exporters as Prometheus metrics (pure; no Salt): the views of ``nf_status`` in the text
exposition format, built with ``prometheus_client`` (a CollectorRegistry of our own and
``generate_latest``, so nothing leaks into or out of the process-wide default registry).

Labels: ``exporter`` on every sample, ``interface`` on per-interface samples (the
interface's name as declared), ``collector`` (``host:port``) on per-collector samples;
``ip``, ``kind`` and ``version`` where a counter of ng_netflow comes in several flavours.
Every field of ng_netflow's ``info`` reply has a metric (:data:`INFO_METRICS`), zero when
the kernel left it out. ``prometheus_client`` is imported when metrics are rendered, so
the rest of salt-netgraph runs without it.
"""
from __future__ import annotations

import re

from .nf_status import HEALTH

PREFIX = "netflow_"
# prometheus_client is the extension's `metrics` extra, not a dependency of the rest
MISSING = ("metrics need the Python package prometheus_client, which the extension's metrics extra installs: "
           "salt-pip install 'saltext-netgraph[metrics]' (a minion with its own Python: "
           "pip install 'saltext-netgraph[metrics]'; FreeBSD packages: pkg install py311-prometheus-client)")
# nf_status counter key -> (metric name without prefix, "counter" | "gauge", extra labels, help)
INFO_METRICS = {
    "ipv4_bytes": ("accounted_bytes", "counter", {"ip": "4"}, "Bytes accounted (ng_netflow info: IPv4/IPv6 bytes)"),
    "ipv6_bytes": ("accounted_bytes", "counter", {"ip": "6"}, None),
    "ipv4_packets": ("accounted_packets", "counter", {"ip": "4"},
                     "Packets accounted (ng_netflow info: IPv4/IPv6 packets)"),
    "ipv6_packets": ("accounted_packets", "counter", {"ip": "6"}, None),
    "ipv4_skipped_bytes": ("skipped_bytes", "counter", {"ip": "4"},
                           "Bytes passed on without accounting (ng_netflow info: skipped bytes)"),
    "ipv6_skipped_bytes": ("skipped_bytes", "counter", {"ip": "6"}, None),
    "ipv4_skipped_packets": ("skipped_packets", "counter", {"ip": "4"},
                             "Packets passed on without accounting (ng_netflow info: skipped packets)"),
    "ipv6_skipped_packets": ("skipped_packets", "counter", {"ip": "6"}, None),
    "active_expiries": ("expiries", "counter", {"kind": "active"}, "Flows expired (ng_netflow info: expiries)"),
    "inactive_expiries": ("expiries", "counter", {"kind": "inactive"}, None),
    "ipv4_records_used": ("cache_records", "gauge", {"ip": "4"}, "Flow cache records in use"),
    "ipv6_records_used": ("cache_records", "gauge", {"ip": "6"}, None),
    "failed_allocations": ("failed_allocations", "counter", {}, "Flow records that could not be allocated"),
    "v5_failed_exports": ("failed_exports", "counter", {"version": "5"}, "Export datagrams that failed to go out"),
    "v9_failed_exports": ("failed_exports", "counter", {"version": "9"}, None),
    "mbuf_reallocations": ("mbuf_reallocations", "counter", {}, "mbufs reallocated by m_pullup"),
    "fibs_allocated": ("fibs_allocated", "gauge", {}, "FIBs the node has export state for"),
    "inactive_timeout": ("timeout_seconds", "gauge", {"kind": "inactive"}, "Flow timeouts (settimeouts)"),
    "active_timeout": ("timeout_seconds", "gauge", {"kind": "active"}, None),
}


def check_path(path) -> str:
    """A textfile collector file: an absolute path of safe characters ending in ``.prom``
    (node_exporter reads only ``*.prom``; the temp file written first is hidden)."""
    if not isinstance(path, str) or not re.fullmatch(r"/[A-Za-z0-9_./+-]{0,1000}\.prom", path) or ".." in path.split("/"):
        raise ValueError(f"path: {path!r} is not a safe absolute path ending in .prom")
    return path


def _help(metric: str) -> str:
    return next(h for name, _, _, h in INFO_METRICS.values() if name == metric and h)


def families(views: list[dict]) -> list:
    """The metric families of the exporters' views (``nf_status.exporter_view``)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, StateSetMetricFamily

    fams: dict[str, object] = {}

    def family(name: str, kind: str, text: str, labels: list[str]):
        if name not in fams:
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            fams[name] = cls(PREFIX + name, text, labels=labels)
        return fams[name]

    health = StateSetMetricFamily(PREFIX + "exporter_health", "Health verdict of netflow.status", labels=["exporter"])
    for view in views:
        name = view["name"]
        family("exporter_present", "gauge", "1 when the exporter's netflow node exists",
               ["exporter"]).add_metric([name], 1 if view["present"] else 0)
        health.add_metric([name], {state: view["health"] == state for state in HEALTH})
        family("exporter_problems", "gauge", "Number of health reasons", ["exporter"]).add_metric(
            [name], len(view["reasons"]))
        if not view["present"]:
            continue
        for key, value in view["counters"].items():
            metric, kind, extra, _ = INFO_METRICS[key]
            fam = family(metric, kind, _help(metric), ["exporter", *extra])
            fam.add_metric([name, *extra.values()], value)
        for ifname, entry in sorted(view["interfaces"].items()):
            family("interface_attached", "gauge", "1 when the interface feeds the exporter",
                   ["exporter", "interface"]).add_metric([name, ifname], 1 if entry["attached"] else 0)
            family("interface_packets", "counter", "Packets that reached the exporter from the interface (ifinfo)",
                   ["exporter", "interface"]).add_metric([name, ifname], entry["packets"])
        for c in view["collectors"]:
            family("collector_connected", "gauge", "1 when a connected socket sends to the collector",
                   ["exporter", "collector", "version"]).add_metric(
                [name, f"{c['host']}:{c['port']}", str(c["version"])], 1 if c["connected"] else 0)
    return [*fams.values(), health]


def render(views: list[dict]) -> str:
    """The Prometheus text exposition of ``views``."""
    try:
        from prometheus_client import CollectorRegistry, generate_latest
    except ImportError:
        raise ValueError(MISSING) from None

    class _Views:
        def collect(self):
            return families(views)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Views())
    return generate_latest(registry).decode("utf-8")
