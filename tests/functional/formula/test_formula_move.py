"""The formula converges the host as one unit (issue 19 class 7, issue 21), end to end with
`salt-call --local state.apply netflow` against an emulated FreeBSD host (ngsim).

The defect: exporter.sls rendered one ``exporter_present`` per exporter in name order, so
a pillar change moving em0 from exporter ``zzz`` to ``aaa`` failed (``aaa`` ran first and
found em0 held by ``zzz``) while the reverse move succeeded: the result depended on the
exporters' names. The formula now renders one ``netflow.exporters_present`` for the host:
either move is one run, one mutating ngctl spawn (the batch), every interface passing.
"""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
import yaml

from ngsim.testing import load_file

REPO = pathlib.Path(__file__).resolve().parents[3]
demo = load_file(REPO / "demo" / "run.py", "netflow_demo_run_move")

IFACES = ("em0", "em1", "em2")
HOST_STATE = "netflow-exporter-netflow-exporters_present"


def pillar(**ifaces) -> dict:
    """netflow pillar: exporter name -> its interfaces, one collector port each."""
    return {"netflow": {"persist": True, "exporters": {
        name: {"interfaces": i, "collectors": [{"host": "192.0.2.10", "port": 2055 + n}]}
        for n, (name, i) in enumerate(sorted(ifaces.items()))}}}


class Host:
    def __init__(self, base: pathlib.Path, first: dict):
        self.host = demo.make_host(base / "host", ifaces=IFACES)
        self.salt = base / "salt"
        self.confdir = demo.write_minion_config(self.salt, self.host, first)
        self.pillar_file = self.salt / "pillar" / "netflow.sls"

    def set_pillar(self, data: dict) -> None:
        self.pillar_file.write_text(yaml.safe_dump(data, default_flow_style=False))

    def apply(self) -> tuple[int, dict, str]:
        proc = demo.salt_call(self.confdir, "state.apply", "netflow", "--out=json", capture=True)
        try:
            out = json.loads(proc.stdout)["local"]
        except (ValueError, KeyError):
            raise AssertionError(f"state.apply -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}") from None
        assert isinstance(out, dict), out
        return proc.returncode, {v["__id__"]: v for v in out.values()}, proc.stdout + proc.stderr

    def ngsim(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, check=True, capture_output=True,
                              text=True).stdout

    def mutating(self) -> list[dict]:
        """Mutating invocations since the last call (and clear the log)."""
        lines = self.ngsim("log", str(self.host), "--clear").splitlines()
        return [e for e in map(json.loads, filter(str.strip, lines)) if e["mutating"]]

    def owners(self) -> dict:
        """interface -> the netflow node both its ng_ether hooks feed (None: detached)."""
        out = {}
        for iface in IFACES:
            show = subprocess.run([str(self.host / "bin" / "ngctl"), "show", f"{iface}:"], capture_output=True,
                                  text=True, check=True).stdout
            peers = {w[1] for w in (line.split() for line in show.splitlines())
                     if len(w) >= 3 and w[0] in ("lower", "upper")}
            assert len(peers) <= 1, (iface, show)
            out[iface] = peers.pop() if peers else None
        return out


@pytest.mark.parametrize("gainer,loser", [("aaa", "zzz"), ("zzz", "aaa")])
def test_moving_an_interface_between_exporters_is_one_change_whatever_the_names(tmp_path, gainer, loser):
    before = pillar(**{loser: ["em0", "em1"], gainer: ["em2"]})
    host = Host(tmp_path, before)
    rc, result, text = host.apply()
    assert rc == 0, text
    assert host.owners() == {"em0": f"{loser}_nf", "em1": f"{loser}_nf", "em2": f"{gainer}_nf"}
    host.mutating()

    host.set_pillar(pillar(**{loser: ["em1"], gainer: ["em0", "em2"]}))
    rc, result, text = host.apply()
    failed = {sid: r["comment"] for sid, r in result.items() if r["result"] is False}
    assert rc == 0 and not failed, failed or text
    muts = host.mutating()
    assert len(muts) == 1 and muts[0]["argv"][1] == "-f", ("one mutating ngctl spawn: the batch", muts)
    changes = result[HOST_STATE]["changes"]
    assert changes[loser]["interfaces"] == {"em0": "removed"}
    assert changes[gainer]["interfaces"]["em0"].startswith("added")
    assert host.owners() == {"em0": f"{gainer}_nf", "em1": f"{loser}_nf", "em2": f"{gainer}_nf"}
    links = json.loads(host.ngsim("links", str(host.host)))
    assert links == dict.fromkeys(IFACES, "pass")

    rc, result, text = host.apply()
    assert rc == 0, text
    assert {sid: r["changes"] for sid, r in result.items() if r["changes"]} == {}
    assert host.mutating() == []
