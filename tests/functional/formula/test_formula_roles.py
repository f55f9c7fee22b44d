"""``state.apply netflow`` serves both roles (formula/netflow/init.sls), applied in this
process (tests/support/localminion.py): an exporter host renders what it did before, plus
the collector where pillar netflow:collector is set; a collector-only host (no netgraph, so
no netflow execution module) renders the collector alone, and refuses (nothing installed or
written) when its pillar also declares exporters, holds a hostile collector, or declares
nothing it can apply."""
from __future__ import annotations

import pytest

from tests.functional.formula.test_formula_collector import good
from tests.support.localminion import LocalMinion

COLLECTOR_IDS = {"netflow-collector-pkg-installed-nfdump", "netflow-collector-netflow-collector_present"}
EXPORTER_IDS = {"netflow-exporter-netflow-exporters_present", "netflow-boot-file-managed-rc-script",
                "netflow-boot-file-managed-rc-conf-d"}
NOT_LOADED = "the netflow execution module is not loaded"


def exporters() -> dict:
    return {"lan": {"interfaces": ["em0"], "collectors": [{"host": "127.0.0.1", "port": 2055}]}}


@pytest.fixture(scope="module")
def exporter_host(tmp_path_factory):
    return LocalMinion(tmp_path_factory.mktemp("exporter-host"))


@pytest.fixture(scope="module")
def collector_host(tmp_path_factory):
    sim = LocalMinion(tmp_path_factory.mktemp("collector-host"), minion={"netgraph.ngctl": None})
    assert "netflow.mapdata" not in sim.loaders.modules and "nfcapd.check" in sim.loaders.modules
    return sim


def test_an_exporter_host_without_collector_renders_the_exporter_parts_alone(exporter_host):
    exporter_host.apply_pillar({"netflow": {"exporters": exporters()}})
    rc, out = exporter_host.state_apply("netflow", test=True)
    assert rc == 0 and set(out) == EXPORTER_IDS, out


def test_an_exporter_host_with_a_collector_renders_both(exporter_host):
    exporter_host.apply_pillar({"netflow": {"exporters": exporters(), "collector": good(exporter_host.salt)}})
    rc, out = exporter_host.state_apply("netflow", test=True)
    assert rc == 0 and set(out) == EXPORTER_IDS | COLLECTOR_IDS, out


def test_a_collector_only_host_renders_the_collector_alone(collector_host):
    collector_host.apply_pillar({"netflow": {"collector": good(collector_host.salt)}}, host_paths={})
    rc, out = collector_host.state_apply("netflow.exporter")  # control: the exporter parts fail here
    assert rc == 2 and all(NOT_LOADED in r["comment"] for r in out.values()), out
    rc, out = collector_host.state_apply("netflow", test=True)
    assert rc == 0 and set(out) == COLLECTOR_IDS and collector_host.written() == [], out
    rc, out = collector_host.state_apply("netflow")
    assert rc == 0 and set(out) == COLLECTOR_IDS, out
    assert "nfcapd-netflow.service" in collector_host.written()


@pytest.mark.parametrize("netflow", [
    {"exporters": exporters()},  # exporters where the module is missing: refused whole, collector too
    {},  # nothing to apply: the exporter parts say why
    {"collector": {"sorces": {}}},  # a typo in the collector
], ids=["exporters-declared", "nothing", "collector-typo"])
def test_a_collector_only_host_refuses_and_writes_nothing(collector_host, tmp_path, netflow):
    collector_host.apply_pillar({"netflow": {**netflow, **({"collector": good(tmp_path)} if "exporters" in netflow
                                                            else {})}}, host_paths={})
    rc, out = collector_host.state_apply("netflow")
    assert rc == 2 and out and all("-netflow-refused-" in sid for sid in out), out
    assert not any(sid.startswith("netflow-collector-") for sid in out) or "collector" in netflow, out
    assert not (tmp_path / "etc").exists(), "nothing written"
