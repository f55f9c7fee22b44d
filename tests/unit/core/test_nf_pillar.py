"""nf_pillar.decide: the formula's decisions from pillar netflow (pure). A pillar is taken
whole or refused whole: any error and nothing is applied or removed (issue 19 class 1)."""
from __future__ import annotations

import copy

from netgraph_core import nf_pillar
import pytest

LAN = {"interfaces": ["em0"], "collectors": [{"host": "192.0.2.10", "port": 2055}]}
UPLINK = {"interfaces": {"em1": {}}, "collectors": [{"host": "198.51.100.5", "port": 9996, "version": 5}],
          "persist": False}
GOOD = {"persist": True, "exporters": {"lan": LAN, "uplink": UPLINK}}


def decide(pillar, persisted=("lan", "uplink", "old"), config=None):
    return nf_pillar.decide(pillar, None, config or {}, list(persisted))


def test_a_good_pillar_is_decided():
    out = decide(GOOD)
    assert out["errors"] == []
    assert out["exporters"] == [["lan", {**LAN, "persist": True}], ["uplink", UPLINK]]
    assert out["absent"] == ["old"], "persisted and no longer declared: removed"
    assert out["persisted"] == ["lan", "old", "uplink"]
    assert out["host_state"] is True
    assert out["mapdata"]["boot_dir"] == "/usr/local/etc/netflow" and out["mapdata"]["persist"] is True
    assert out["metrics"] == {**nf_pillar.METRICS_DEFAULTS, "path": "/var/tmp/node_exporter/netflow.prom"}


@pytest.mark.parametrize("edit, named", [
    (lambda p: p["exporters"]["lan"].update(colectors=p["exporters"]["lan"].pop("collectors")), '"colectors"'),
    (lambda p: p["exporters"]["lan"].update(persist="yes"), 'netflow:exporters:"lan":persist: "yes"'),
    (lambda p: p["exporters"].update(lan=[{"interfaces": ["em0"]}]), "its parameters must be a mapping"),
    (lambda p: p.update(exporter=p.pop("exporters")), 'netflow: unknown key "exporter"'),
    (lambda p: p.update(persist="yes"), 'netflow:persist: "yes" is not true or false'),
    (lambda p: p["exporters"]["lan"].update(timeouts=[1800, 15]), "timeouts: expected a mapping"),
    (lambda p: p["exporters"]["lan"].update(interfaces={"em0": ["egress"]}), "options must be a mapping"),
    (lambda p: p["exporters"]["lan"].pop("collectors"), "collectors: required"),
    (lambda p: p.update(lookup={"rc_scirpt": "/x"}), 'netflow:lookup: unknown key "rc_scirpt"'),
    (lambda p: p.update(lookup={"boot_dir": "/x"}), "set it at the top level (netflow:boot_dir)"),
    (lambda p: p.update(ngctl="/usr/sbin/ngctl"), 'netflow: unknown key "ngctl"'),
    (lambda p: p.update(metrics={"enabeld": True}), 'netflow:metrics: unknown key "enabeld"'),
    (lambda p: p.update(tofs={"files": {}}), 'netflow:tofs: unknown key "files"'),
    (lambda p: p.update(exporters=["lan"]), "netflow:exporters: must be a mapping"),
], ids=["colectors", "persist-yes", "params-list", "top-level-exporter", "top-persist", "timeouts-list",
        "options-list", "no-collectors", "lookup-typo", "lookup-boot_dir", "top-ngctl", "metrics-typo", "tofs-typo",
        "exporters-list"])
def test_one_error_refuses_the_whole_pillar(edit, named):
    pillar = copy.deepcopy(GOOD)
    edit(pillar)
    out = decide(pillar)
    assert any(named in e["comment"] for e in out["errors"]), out["errors"]
    assert out["exporters"] == [] and out["absent"] == [], "nothing applied, nothing removed"
    assert out["host_state"] is False


def test_every_error_is_reported_not_only_the_first():
    pillar = copy.deepcopy(GOOD)
    pillar["exporters"]["lan"]["mtu"] = 5
    pillar["exporters"]["uplink"]["colectors"] = []
    pillar["persit"] = True
    comments = " | ".join(e["comment"] for e in decide(pillar)["errors"])
    assert 'netflow:exporters:"lan": mtu' in comments and '"colectors"' in comments and '"persit"' in comments


def test_keys_are_named_as_tojson_writes_them():
    key = "lan\nevil:\n  cmd.run: x<'&>"
    out = decide({"exporters": {key: LAN}})
    assert out["errors"][0]["key"] == 'netflow:exporters:"lan\\nevil:\\n  cmd.run: x\\u003c\\u0027\\u0026\\u003e"'
    assert "\n" not in out["errors"][0]["comment"]
    assert nf_pillar.tojson(123) == '"123"'


def test_paths_come_from_config_then_lookup_then_defaults():
    config = {"boot_dir": "/b", "ngctl": "/n/ngctl", "rc_script": None}
    out = decide({"lookup": {"rc_script": "/r", "ngctl": "/ignored"}, "exporters": {}}, config=config)
    assert out["errors"] == []
    m = out["mapdata"]
    assert (m["boot_dir"], m["ngctl"], m["rc_script"], m["lockf"]) == ("/b", "/n/ngctl", "/r", "/usr/bin/lockf")
    bad = decide({"exporters": {}}, config={"boot_dir": "/usr/local/etc/net flow"})
    assert [e["key"] for e in bad["errors"]] == ["netflow:boot_dir"] and bad["absent"] == []


def test_no_pillar_and_odd_shapes_never_raise():
    assert decide(None)["errors"] == [] and decide({})["exporters"] == []
    assert decide({}, persisted=())["host_state"] is False, "nothing declared nor to remove: no host state"
    assert decide({}, persisted=["old"])["host_state"] is True, "only something to remove: a host state"
    assert decide({"exporters": None, "metrics": None, "tofs": None})["errors"] == []
    assert decide("on")["errors"][0]["key"] == "netflow"
    assert decide({"exporters": {}}, persisted=["ok", "not ok", "../x"])["absent"] == ["ok"]


def test_boot_files_of_every_exporter_declared_or_persisted(tmp_path):
    out = decide(GOOD, config={"boot_dir": "/b"})
    assert out["boot_files"] == {n: [f"/b/{n}.ngctl"] for n in ("lan", "old", "uplink")}, \
        "the older format's .modules/.ipfw are not listed where they do not exist"
    (tmp_path / "old.modules").write_text("ng_netflow\n")
    (tmp_path / "lan.ipfw").write_text("add 1000 ngtee 1000 ip from any to any via tun0\n")
    out = decide(GOOD, config={"boot_dir": str(tmp_path)})
    assert out["boot_files"] == {"lan": [f"{tmp_path}/lan.ngctl", f"{tmp_path}/lan.ipfw"],
                                 "old": [f"{tmp_path}/old.ngctl", f"{tmp_path}/old.modules"],
                                 "uplink": [f"{tmp_path}/uplink.ngctl"]}, "leftovers of the older format are removed"
    pillar = copy.deepcopy(GOOD)
    pillar["persit"] = True
    refused = decide(pillar)
    assert refused["boot_files"] == {} and refused["rc_conf"] is None, "a refused pillar removes and writes nothing"


def test_rc_conf_names_every_path_single_quoted():
    out = decide(GOOD, config={"boot_dir": "/b", "ngctl": "/n/ngctl"})
    lines = out["rc_conf"].splitlines()
    assert out["rc_conf"].endswith("\n") and lines[:3] == list(nf_pillar.RC_CONF_HEAD)
    assert lines[3:] == ["netflow_boot_dir='/b'", "netflow_ngctl='/n/ngctl'", "netflow_kldload='/sbin/kldload'",
                         "netflow_kldstat='/sbin/kldstat'", "netflow_ipfw='/sbin/ipfw'", "netflow_sha256='/sbin/sha256'",
                         "netflow_lockf='/usr/bin/lockf'", "netflow_lock='/var/run/netflow.lock'",
                         "netflow_script='/usr/local/etc/rc.d/netflow'"]
    with pytest.raises(ValueError):  # never quoted blindly, even if called with an unchecked path
        nf_pillar.rc_conf({**out["mapdata"], "ngctl": "/x'; reboot; '"})


def test_tofs_lookup_skips_switch_values_that_are_not_one_segment():
    values = {"id": "fw1", "os_family": "FreeBSD", "roles": ["edge", "../x", "a b", "core"], "bad": "x/y"}
    tofs = {"files_switch": ["id", "roles", "bad", "os_family", "missing", "id"]}
    out = decide({"tofs": tofs}, config={})
    assert out["tofs"]["dirs"] == ["netflow/files/default"], "no config.get given: only the default folder"
    out = nf_pillar.decide({"tofs": tofs}, None, {}, [], values.get, "myflow")
    assert out["tofs"] == {"dirs": ["myflow/files/fw1", "myflow/files/edge", "myflow/files/core",
                                    "myflow/files/FreeBSD", "myflow/files/default"], "source_files": {}}
    given = {"path_prefix": "site/nf", "dirs": {"files": "f", "default": "base"}, "source_files": {"x": ["a.rc"]}}
    out = nf_pillar.decide({"tofs": given}, None, {}, [], values.get)
    assert out["tofs"] == {"dirs": ["site/nf/f/fw1", "site/nf/f/FreeBSD", "site/nf/f/base"],
                           "source_files": {"x": ["a.rc"]}}
    assert nf_pillar.decide({"tofs": {}}, None, {}, [], values.get, "../up")["errors"][0]["key"] == \
        "netflow:tofs:path_prefix"
