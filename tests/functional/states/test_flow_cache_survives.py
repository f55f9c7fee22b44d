"""The flow cache survives a collector change: flows accounted before an apply that
re-points the collector (and changes the timeouts) are exported, whole, to the new
collector afterwards. Real datagrams on 127.0.0.1, decoded with ngsim's v5 decoder.
"""
from __future__ import annotations

import json
import pathlib
import socket

import pytest

from ngsim.export import decode_v5
from ngsim.testing import loopback_udp_sockets

REPO = pathlib.Path(__file__).resolve().parents[3]

from tests.support import nghost as _conf  # noqa: E402 - after REPO, as before

FLOWS = 30  # ng_netflow sends a v5 datagram when it holds 30 records (netflow.c)


@pytest.fixture
def sockets():
    with loopback_udp_sockets(2, timeout=0.2) as socks:
        yield socks


def received(sock) -> list[dict]:
    out = []
    while True:
        try:
            data, _ = sock.recvfrom(65535)
        except socket.timeout:
            return out
        out.append(decode_v5(data))


def test_flows_accounted_before_a_collector_change_reach_the_new_collector(ng_loaders, ng_host, sockets):
    old, new = sockets
    params = {"name": "lan", "interfaces": ["em0"], "collectors": [{"host": "127.0.0.1", "port": old.getsockname()[1], "version": 5}]}
    assert ng_loaders.states.netflow.exporter_present(**params).result is True
    nf_id = ng_host.ngctl("show", "-n", "lan_nf:").stdout.split("ID: ")[1].split()[0]

    summary = json.loads(_conf.run_ngsim(
        "traffic", str(ng_host.root), "em0", "--src", "198.51.100.7", "--dst", "192.0.2.1", "--proto", "tcp",
        "--sport", "40000", "--dport", "443", "--packets", "2", "--bytes", "300", "--flows", str(FLOWS), "--direction", "in"))
    assert summary, "traffic summary"

    params["collectors"] = [{"host": "127.0.0.1", "port": new.getsockname()[1], "version": 5}]
    params["timeouts"] = {"inactive": 10, "active": 300}
    ret = ng_loaders.states.netflow.exporter_present(**params)
    assert ret.result is True, ret.comment
    assert not any(c.startswith("shutdown") for c in ret.changes["ngctl"])
    assert ng_host.ngctl("show", "-n", "lan_nf:").stdout.split("ID: ")[1].split()[0] == nf_id

    _conf.run_ngsim("tick", str(ng_host.root), "30")  # past the inactive timeout
    assert received(old) == []
    datagrams = received(new)
    records = [r for d in datagrams for r in d["records"]]
    assert len(records) == FLOWS, datagrams
    assert sorted(r["sport"] for r in records) == list(range(40000, 40000 + FLOWS))
    assert all((r["src"], r["dst"], r["dport"], r["proto"], r["packets"], r["bytes"]) ==
               ("198.51.100.7", "192.0.2.1", 443, 6, 2, 300) for r in records)
