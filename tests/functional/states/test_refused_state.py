"""netflow.refused (what the formula renders for a refused pillar) and netflow.mapdata,
through Salt's loader."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("test", [False, True], ids=["real", "test"])
def test_refused_always_fails_with_its_comment(ng_loaders, ng_host, test):
    ret = ng_loaders.states.netflow.refused(name='netflow:exporters:"lan"', comment='unknown key "colectors"',
                                           test=test)
    assert ret.result is False and ret.changes == {} and ret.comment == 'unknown key "colectors"'
    assert ng_host.log() == [], "nothing spawned"


def test_mapdata_with_no_pillar_decides_nothing_and_names_the_paths(ng_loaders, ng_host):
    out = ng_loaders.modules.netflow.mapdata()
    assert out["errors"] == [] and out["exporters"] == [] and out["absent"] == []
    assert out["mapdata"]["ngctl"] == ng_loaders.opts["netgraph.ngctl"]
    assert out["mapdata"]["boot_dir"] == "/usr/local/etc/netflow"
    assert ng_host.log() == []
