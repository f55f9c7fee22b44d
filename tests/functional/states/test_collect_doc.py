"""docs/collect.md's "Collect the flows" block, run as written: an exporter applied through
Salt's loader on an emulated host sends NetFlow v9 to 127.0.0.1:PORT, where the block's own
nfcapd listens, and the block's nfdump shows the flows. The test sets only the block's
variables: ``FLOWS`` (a temporary directory), ``COLLECTOR`` (127.0.0.1: the emulator sends
real UDP only to loopback) and ``PORT`` (a free port). The README carries the same block
once it has the markers, and is then run too.

Also the page's claim that one flow alone sends nothing: it ends, and its record waits in
the kernel's partly filled datagram.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

from tests.support.nfcapd import free_udp_port, needs_nfdump, port_taken
from tests.support.nghost import run_ngsim

REPO = pathlib.Path(__file__).resolve().parents[3]
MARKED = re.compile(r"<!-- collect-flows:begin -->\n```sh\n(.*?)```\n<!-- collect-flows:end -->", re.S)
DOCS = [p for p in (REPO / "docs" / "collect.md", REPO / "README.md") if MARKED.search(p.read_text())]

pytestmark = needs_nfdump


def ngsim(*args: str) -> dict:
    out = run_ngsim(*args)
    return json.loads(out) if out.strip().startswith("{") else {}


def block(doc: pathlib.Path) -> str:
    found = MARKED.findall(doc.read_text())
    assert len(found) == 1, f"{doc}: one collect-flows block"
    return found[0]


def test_docs_collect_md_has_the_block():
    """The positive control of the parametrization below: the page exists and has it."""
    assert REPO / "docs" / "collect.md" in DOCS
    assert set(re.findall(r"\$\{?([A-Z_]+)", block(REPO / "docs" / "collect.md"))) == {"FLOWS", "COLLECTOR", "PORT"}


@pytest.fixture
def exporter(tmp_path):
    """An emulated host whose exporter lan (em0, v9) sends to 127.0.0.1:PORT."""
    import salt.config
    from saltfactories.utils.functional import Loaders

    root, base, port = tmp_path / "fw1", tmp_path / "salt", free_udp_port()
    ngsim("init", str(root), "--iface", "em0", "--loaded", "ng_ether")
    bindir = root / "bin"
    opts = salt.config.minion_config(None)
    opts.update({
        "id": "fw1", "file_client": "local", "root_dir": str(base), "cachedir": str(base / "cache"),
        "pki_dir": str(base / "pki"), "sock_dir": str(base / "sock"), "grains_cache": False,
        "module_dirs": [str(REPO / "_modules")], "utils_dirs": [str(REPO / "_utils")],
        "states_dirs": [str(REPO / "_states")], "netflow": {"boot_dir": str(base / "boot")},
        **{f"netgraph.{b}": str(bindir / b) for b in ("ngctl", "kldload", "kldstat", "ipfw", "ifconfig")},
    })
    ret = Loaders(opts).states.netflow.exporter_present(
        name="lan", interfaces=["em0"], collectors=[{"host": "127.0.0.1", "port": port}])
    assert ret.result is True, ret.comment
    ngsim("tick", str(root), "700")  # up past the v9 template time: the datagrams carry templates
    return root, port


def flows(root: pathlib.Path, src: str, n: int) -> None:
    r = ngsim("traffic", str(root), "em0", "--src", src, "--dst", "10.0.0.10", "--proto", "udp", "--sport", "40000",
              "--dport", "53", "--packets", "1", "--bytes", "80", "--flows", str(n), "--direction", "in")
    assert r["accounted_by"] == ["lan_nf"], r


@pytest.mark.parametrize("doc", DOCS, ids=[p.name for p in DOCS])
def test_the_collect_block_runs_as_written_and_shows_the_flows(exporter, tmp_path, doc):
    root, port = exporter
    store = tmp_path / "collector"
    env = {**os.environ, "FLOWS": str(store), "COLLECTOR": "127.0.0.1", "PORT": str(port)}
    run = subprocess.Popen(["sh", "-ec", block(doc)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        deadline = time.time() + 30
        while not port_taken(port):  # the block's nfcapd is listening
            assert run.poll() is None and time.time() < deadline, run.communicate()
            time.sleep(0.1)
        flows(root, "198.51.100.7", 1)
        t = ngsim("tick", str(root), "17")  # 17 > 15 s inactive: the flow ends ...
        assert t["expired"] == {"lan_nf": 1} and t["datagrams"] == [], t  # ... and no datagram goes
        assert t["pending"]["lan_nf"]["v9 records"] == 1, t
        flows(root, "203.0.113.5", 44)
        # 45 records: two full v9 datagrams, each with the templates (21 records): a node an
        # apply made starts on the 1-second template interval (nf_model.start_template)
        t = ngsim("tick", str(root), "17")
        assert sorted(d["records"] for d in t["datagrams"]) == [21, 21], t
        assert all(d["templates"] for d in t["datagrams"]), t
        assert all(s.get("real") for d in t["datagrams"] for s in d["sent"]), t
        out, err = run.communicate(timeout=180)  # nfcapd closes its file at the next minute
        assert run.returncode == 0, err
        assert sorted(p.name for p in store.iterdir()) == ["capture", "nfcapd.pid"]
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
        pidfile = store / "nfcapd.pid"
        if pidfile.exists():
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
    lines = [ln for ln in out.splitlines() if "UDP" in ln]
    assert lines and all("10.0.0.10:53" in ln for ln in lines), out
    assert any("198.51.100.7:40000" in ln for ln in lines), "the first flow arrived with the others"
