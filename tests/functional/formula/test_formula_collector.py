"""The formula's netflow.collector SLS applied in this process (tests/support/localminion.py):
a hostile pillar netflow:collector renders only failing states naming the key (nothing
installed, written or run, no payload executed), on an exporter host (checked by
netflow.mapdata, the whole pillar) and on a collector-only host (no netgraph: checked by
nfcapd.check); a good one installs nfdump and applies collector_present."""
from __future__ import annotations

import pathlib
import shutil

import pytest

from tests.support.localminion import LocalMinion

PWN = "@PWN@"


def good(base: pathlib.Path) -> dict:
    return {"host": "127.0.0.1", "port": 2055, "storage": str(base / "etc" / "flows"), "service": False,
            "unit_file": str(base / "etc" / "nfcapd-netflow.service"), "sources": {"fw1": {"host": "127.0.0.2"}}}


CASES = [  # (id, change to the good collector, the key the comment names)
    ("ident-yaml-injection", {"sources": {f"fw1\nevil:\n  cmd.run:\n    - name: touch {PWN}": {"host": "127.0.0.2"}}},
     "netflow:collector:sources:"),
    ("ident-jinja", {"sources": {"{{ salt['cmd.run']('touch " + PWN + "') }}": {"host": "127.0.0.2"}}},
     "netflow:collector:sources:"),
    ("ident-comma", {"sources": {"fw1,127.0.0.9,/tmp": {"host": "127.0.0.2"}}}, "netflow:collector:sources:"),
    ("host-name", {"sources": {"fw1": {"host": f"fw1.example.com;touch {PWN}"}}}, "netflow:collector:sources:"),
    ("dir-dotdot", {"sources": {"fw1": {"host": "127.0.0.2", "dir": "/var/db/../../etc"}}},
     "netflow:collector:sources:"),
    ("storage-dollar-paren", {"storage": f"/tmp/$(touch {PWN})"}, "netflow:collector:storage"),
    ("unit-newline", {"unit_file": "/etc/systemd/system/x.service\nExecStartPre=/bin/touch /tmp/x"},
     "netflow:collector:unit_file"),
    ("port-string", {"port": f"2055 -x touch {PWN}"}, "netflow:collector:port"),
    ("typo", {"sorces": {}}, "netflow:collector"),
]


@pytest.fixture(scope="module", params=["exporter-host", "collector-host"])
def minion(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(request.param)
    extra = {} if request.param == "exporter-host" else {"netgraph.ngctl": None}
    sim = LocalMinion(base, minion=extra)
    # control: the collector-only host really has no netflow execution module (nfcapd.check decides)
    assert ("netflow.mapdata" in sim.loaders.modules) is (request.param == "exporter-host")
    assert "nfcapd.check" in sim.loaders.modules
    return sim


def sub(obj, mark: str):
    if isinstance(obj, str):
        return obj.replace(PWN, mark)
    if isinstance(obj, dict):
        return {sub(k, mark): sub(v, mark) for k, v in obj.items()}
    return obj


@pytest.mark.parametrize("test", [True, False], ids=["test", "apply"])
@pytest.mark.parametrize("cid, change, key", CASES, ids=[c[0] for c in CASES])
def test_hostile_collector_renders_only_refusals(minion, cid, change, key, test):
    mark = minion.salt / "PWNED"
    collector = sub({**good(minion.salt), **change}, str(mark))
    minion.apply_pillar({"netflow": {"collector": collector}})
    rc, out = minion.state_apply("netflow.collector", test=test)
    assert rc == 2, out
    assert out and all("netflow-collector-netflow-refused-" in sid for sid in out), list(out)
    assert any(key in r["comment"] for r in out.values()), [r["comment"] for r in out.values()]
    assert not mark.exists()
    assert minion.written() == [], "nothing written"


@pytest.mark.skipif(not shutil.which("nfcapd"), reason="the nfdump package is not installed")
def test_a_good_collector_installs_nfdump_and_writes_the_unit(minion):
    """Control of the cases above: the same SLS and pillar without the hostile change
    applies (pkg.installed finds nfdump installed) and writes the unit and the directory."""
    minion.apply_pillar({"netflow": {"collector": good(minion.salt)}})
    rc, out = minion.state_apply("netflow.collector", test=True)
    assert rc == 0 and minion.written() == [], out
    rc, out = minion.state_apply("netflow.collector")
    assert rc == 0, out
    assert [r["__id__"] for r in sorted(out.values(), key=lambda r: r["__run_num__"])] == [
        "netflow-collector-pkg-installed-nfdump", "netflow-collector-netflow-collector_present"]
    assert minion.written() == ["flows", "flows/fw1", "nfcapd-netflow.service"]
    assert "-n fw1,127.0.0.2," in (minion.etc / "nfcapd-netflow.service").read_text()
    (minion.etc / "nfcapd-netflow.service").unlink()
    shutil.rmtree(minion.etc / "flows")


def test_no_collector_in_pillar_renders_nothing(minion):
    minion.apply_pillar({"netflow": {"exporters": {}}})
    rc, out = minion.state_apply("netflow.collector")
    assert (rc, minion.written()) == (0, []), out
