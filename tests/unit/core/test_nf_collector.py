"""nf_collector: pillar netflow:collector checked whole, and what collector_present renders
from it (nfcapd's argv, the systemd unit, rc.conf.d/nfcapd and its rc.d script, nfexpire's
limits). Pure: no Salt, nothing spawned but sh -n and shellcheck on the rc.d script."""
from __future__ import annotations

import copy
import shutil
import subprocess

import pytest
from netgraph_core import nf_collector, nf_pillar

GOOD = {"host": "192.0.2.1", "port": 2055, "storage": "/var/db/flows", "rotation": 300, "user": "nfcapd",
        "expire": {"max_life_hours": 720, "max_size_mb": 10240},
        "sources": {"fw2": {"host": "192.0.2.20", "dir": "/srv/flows/fw2"}, "fw1": {"host": "192.0.2.10"}}}


def refused(raw) -> list[str]:
    with pytest.raises(nf_collector.CollectorError) as caught:
        nf_collector.validate(raw)
    return [e["key"] for e in caught.value.errors]


def test_argv_has_one_source_per_exporter_in_ident_order():
    cfg = nf_collector.validate(GOOD)
    assert nf_collector.nfcapd_argv(cfg) == [
        "/usr/bin/nfcapd", "-b", "192.0.2.1", "-p", "2055", "-t", "300", "-u", "nfcapd", "-e",
        "-n", "fw1,192.0.2.10,/var/db/flows/fw1", "-n", "fw2,192.0.2.20,/srv/flows/fw2"]
    assert nf_collector.directories(cfg) == ["/var/db/flows/fw1", "/srv/flows/fw2"]


def test_argv_without_sources_writes_the_storage_directory_and_ipv6_listens_with_6():
    cfg = nf_collector.validate({"host": "::", "port": 9995})
    assert nf_collector.nfcapd_argv(cfg) == ["/usr/bin/nfcapd", "-b", "::", "-p", "9995", "-t", "300", "-6",
                                             "-w", "/var/cache/nfdump/netflow"]
    assert nf_collector.validate({})["host"] == "0.0.0.0", "defaults: IPv4, any address"
    assert nf_collector.validate({}, "freebsd")["nfcapd"] == "/usr/local/bin/nfcapd"


def test_the_unit_runs_exactly_the_argv():
    cfg = nf_collector.validate(GOOD)
    unit = nf_collector.systemd_unit(cfg).splitlines()
    assert f"ExecStart={' '.join(nf_collector.nfcapd_argv(cfg))}" in unit
    assert "Type=simple" in unit and "WantedBy=multi-user.target" in unit
    assert not any(ch in "".join(unit[1:]) for ch in "$%\\\"'"), "nothing for systemd to expand or unquote"


def test_rc_conf_and_rc_script_of_freebsd(tmp_path):
    cfg = nf_collector.validate(GOOD, "freebsd")
    conf = nf_collector.rc_conf(cfg)
    assert 'nfcapd_enable="YES"' in conf and "nfcapd_program='/usr/local/bin/nfcapd'" in conf
    assert f"nfcapd_flags='{' '.join(nf_collector.nfcapd_argv(cfg)[1:])}'" in conf
    script = tmp_path / "nfcapd"
    script.write_text(nf_collector.rc_script(cfg))
    assert subprocess.run(["sh", "-n", str(script)]).returncode == 0
    conf_file = tmp_path / "rc.conf.d.nfcapd"
    conf_file.write_text(conf)
    out = subprocess.run(["sh", "-c", f". {conf_file}; printf '%s' \"$nfcapd_flags\""], capture_output=True, text=True)
    assert out.stdout.split() == nf_collector.nfcapd_argv(cfg)[1:], "sh reads back the very argv"
    if shutil.which("shellcheck"):
        bad = tmp_path / "bad"  # control: shellcheck does report a problem here
        bad.write_text("#!/bin/sh\necho $1\n")
        assert subprocess.run(["shellcheck", str(bad)], capture_output=True).returncode != 0
        check = subprocess.run(["shellcheck", "-e", "SC1091,SC2034", str(script)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout


def test_plan_per_platform():
    linux = nf_collector.plan(GOOD, "systemd")
    assert [f[0] for f in linux["files"]] == ["/etc/systemd/system/nfcapd-netflow.service"]
    assert linux["service"] == "nfcapd-netflow"
    assert linux["expire"][0] == ["/var/db/flows/fw1", ["/usr/bin/nfexpire", "-u", "/var/db/flows/fw1", "-t", "720H",
                                                        "-s", "10240m"]]
    bsd = nf_collector.plan({**GOOD, "service": False}, "freebsd")
    assert [(f[0], f[2]) for f in bsd["files"]] == [("/etc/rc.conf.d/nfcapd", "0644"),
                                                    ("/usr/local/etc/rc.d/nfcapd", "0555")]
    assert bsd["service"] is None, "service: false runs nothing"
    assert nf_collector.plan({}, "systemd")["expire"] == [], "no expire: nfexpire never runs"
    assert nf_collector.platform_of("FreeBSD") == "freebsd" and nf_collector.platform_of("Debian") == "systemd"


def test_nfexpire_limits_read_back_as_declared():
    text = ("First:     2026-12-07 14:07:00\nMax Size:  10737418240 = 10.0 GB\n"
            "Max Life:  2592000 = 4.3 weeks\nWatermark: 0%\n")
    assert nf_collector.limits(text) == {"max_life": 2592000, "max_size": 10737418240}
    assert nf_collector.limits("Max Size:  <none>\nMax Life:  <none>\n") == {"max_life": None, "max_size": None}
    cfg = nf_collector.validate({"expire": {"max_life_hours": 720, "max_size_mb": 10240}})
    assert nf_collector.wanted_limits(cfg) == {"max_life": 2592000, "max_size": 10737418240}


def _src(ident="fw1", **params) -> dict:
    return {"sources": {ident: {"host": "192.0.2.10", **params}}}


_TOP = "netflow:collector"
_FW1 = f"{_TOP}:sources:'fw1'"
# the key a message must name -> values of that key (or whole changes) that are refused
_BAD = {
    _TOP: [{"colectors": 1}],
    f"{_TOP}:host": ["collector.example.com", "192.0.2.1 ", "010.0.0.1", 3221225985],
    f"{_TOP}:port": [0, 65536, "2055", True],
    f"{_TOP}:rotation": [59],
    f"{_TOP}:storage": ["var/db/flows", "/var/db/../etc", "/var/db//flows", "/var/db/./flows", "/var/db/flows/",
                        "/var/db/fl ows", "/var/db/$(reboot)", "/"],
    f"{_TOP}:unit_file": ["/etc/systemd/system/x.service\nExecStartPre=/bin/sh"],
    f"{_TOP}:nfcapd": ["nfcapd"],
    f"{_TOP}:user": ["root;id", "Nfcapd"],
    f"{_TOP}:service": ["yes"],
    f"{_TOP}:expire:max_life_hours": [{"expire": {"max_life_hours": 0}}],
    f"{_TOP}:expire": [{"expire": {"max_lifetime": 3}}, {"expire": "30d"}],
    f"{_TOP}:sources": [{"sources": ["fw1"]}],
    f"{_FW1}:host": [_src(host="fw1.example.com"), _src(host="2001:db8::1")],
    f"{_FW1}:dir": [_src(dir="/srv/../etc")],
    _FW1: [_src(dri="/srv"), {"sources": {"fw1": "192.0.2.10"}}],
    f"{_TOP}:sources:'fw2':host": [{"sources": {"fw1": {"host": "192.0.2.10"}, "fw2": {"host": "192.0.2.10"}}}],
    f"{_TOP}:sources:'fw2':dir": [{"sources": {"fw1": {"host": "192.0.2.10", "dir": "/srv/x"},
                                               "fw2": {"host": "192.0.2.11", "dir": "/srv/x"}}}],
}
_BAD_IDENTS = ["fw 1", "fw1,x", "fw1\n", "../fw1", "f" * 26, 1]
CASES = [(v if isinstance(v, dict) else {k.rsplit(":", 1)[1]: v}, k) for k, vs in _BAD.items() for v in vs]
CASES += [(_src(ident), f"{_TOP}:sources:{ident!r}") for ident in _BAD_IDENTS]


@pytest.mark.parametrize("change, key", CASES)
def test_hostile_collector_refused_naming_the_key(change, key):
    raw = {**copy.deepcopy(GOOD), **change}
    assert key in refused(raw)
    nf_collector.validate(GOOD)  # control: the pillar it was made from is accepted


def test_a_collector_that_is_not_a_mapping_is_refused():
    for raw in (None, [], "port: 2055", 2055):
        assert refused(raw) == ["netflow:collector"]


def test_nf_pillar_accepts_the_collector_key_and_refuses_the_whole_pillar_on_its_error():
    exporters = {"lan": {"interfaces": ["em0"], "collectors": [{"host": "192.0.2.10", "port": 2055}]}}
    out = nf_pillar.decide({"exporters": exporters, "collector": GOOD}, None, {}, [])
    assert out["errors"] == [] and out["collector"] is True and [n for n, _ in out["exporters"]] == ["lan"]
    assert nf_pillar.decide({"exporters": exporters}, None, {}, [])["collector"] is False
    out = nf_pillar.decide({"exporters": exporters, "collector": {**GOOD, "port": 0}}, None, {}, ["lan"])
    assert [e["key"] for e in out["errors"]] == ["netflow:collector:port"]
    assert out["exporters"] == [] and out["absent"] == [], "refused whole: nothing applied or removed"
