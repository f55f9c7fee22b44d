"""The collector side of the integration tests with a real salt-master
(tests/integration/test_verify.py, test_pipeline.py): ngsim hosts as exporter minions, the
real nfcapd run with the argv the collector state rendered, v9 datagrams injected, and
``salt-run netflow.verify``."""
from __future__ import annotations

import json
import pathlib
import shutil
import signal
import subprocess
import sys
import time

from tests.support.nfcapd import port_taken

REPO = pathlib.Path(__file__).resolve().parents[2]


def ngsim(*args: str) -> dict | str:
    proc = subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"ngsim {args}: {proc.stderr}"
    return json.loads(proc.stdout) if proc.stdout.startswith("{") else proc.stdout


def flows(folder: pathlib.Path) -> list[str]:
    """The source addresses of every flow in ``folder``'s closed files."""
    out = []
    for f in sorted(p for p in folder.glob("nfcapd.*") if ".current." not in p.name):
        text = subprocess.run(["nfdump", "-r", str(f), "-q", "-o", "fmt:%sa"], capture_output=True, text=True,
                              timeout=60).stdout
        out += [line.strip() for line in text.splitlines() if line.strip() and line.strip()[0].isdigit()]
    return out  # a file of an interval without flows says "No matching flows": not a flow


class Rig:
    """``exporters``: ``{minion: (ident, source address, flow source address)}``; the
    collector minion ``collector``; ``tgt`` a glob of all of them."""

    def __init__(self, master, cli, roots: dict, storage: pathlib.Path, port: int, exporters: dict,
                 collector: str, tgt: str):
        self.master, self.cli, self.roots, self.storage, self.port = master, cli, roots, storage, port
        self.exporters, self.collector, self.tgt = exporters, collector, tgt

    def nfcapd(self, log: pathlib.Path) -> subprocess.Popen:
        """The real nfcapd with the argv the collector state rendered (nfcapd.argv)."""
        ret = self.cli.run("nfcapd.argv", minion_tgt=self.collector)
        assert ret.returncode == 0 and isinstance(ret.data, list), ret.stdout
        proc = subprocess.Popen(ret.data, stdout=log.open("a"), stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not port_taken(self.port):
            assert proc.poll() is None and time.time() < deadline, log.read_text()
            time.sleep(0.05)
        return proc

    def datagrams(self, minion: str, lose_second: bool = False) -> list:
        """Three full v9 datagrams from ``minion``'s exporter, 21 flows each: a node made by
        an apply is on its boot template (1 s, docs/DESIGN-NOTES.md) until a converge after
        its first export restores the declared one, so every datagram carries the templates
        (21 records at MTU 1500). With ``lose_second`` the second is lost on the way."""
        root, (_, _, src) = str(self.roots[minion]), self.exporters[minion]
        ngsim("tick", root, "700")
        sent = []
        for i in range(3):
            if i == 1 and lose_second:
                ngsim("lose", root, "--next", "1")
            r = ngsim("traffic", root, "em0", "--src", src, "--dst", "192.0.2.80", "--proto", "udp", "--sport",
                      str(7000 + 100 * i), "--dport", "53", "--flows", "21", "--direction", "in")
            assert r["pass"] and r["accounted_by"] == ["lan_nf"], r
            sent += ngsim("tick", root, "20")["datagrams"]
        assert [(d["records"], d["templates"]) for d in sent] == [(21, True)] * 3, sent
        return sent

    def capture(self, log: pathlib.Path, lose: str | None = None) -> dict:
        """nfcapd running while every exporter sends its three datagrams (``lose``: that
        minion's second is lost on the way), then stopped: SIGTERM makes it close its files,
        so their counters are written. ``{minion: datagrams sent}``."""
        proc = self.nfcapd(log)
        try:
            sent = {mid: self.datagrams(mid, lose_second=mid == lose) for mid in self.exporters}
            time.sleep(0.3)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        return sent

    def verify(self):
        return self.master.salt_run_cli(timeout=120).run("netflow.verify", f"tgt={self.tgt}", "window=600",
                                                         "details=True")

    def sync_runner(self) -> None:
        """The runner and the core from file_roots into the master's extension_modules, as
        a master without the wheel gets them (the sync lists only what it changed: another
        module of the package may have synced first, so the files are what is checked)."""
        ext = pathlib.Path(self.master.config["extension_modules"])
        for side in ("runners", "utils"):
            synced = self.master.salt_run_cli(timeout=120).run(f"saltutil.sync_{side}")
            assert synced.returncode == 0, synced.stdout
        assert (ext / "runners" / "netflow.py").is_file() and (ext / "utils" / "netgraph_core" / "nf_verify.py").is_file()


def exporter_pillar(root: pathlib.Path, collector: dict) -> dict:
    """Pillar of an exporter minion on ngsim host ``root``: exporter lan on em0 sending to
    ``collector`` (an entry of ``collectors``), its boot files and rc.d paths under the host."""
    etc = root / "etc"
    return {"netflow": {
        "boot_dir": str(etc / "netflow"),
        "lookup": {"rc_script": str(etc / "rc.d" / "netflow"), "rc_conf_d": str(etc / "rc.conf.d" / "netflow")},
        "exporters": {"lan": {"interfaces": ["em0"], "timeouts": {"active": 1800, "inactive": 15},
                              "collectors": [collector]}}}}


def collector_pillar(base: pathlib.Path, port: int, sources) -> dict:
    """Pillar of the collector minion: the real nfcapd on 127.0.0.1:``port``, files under
    ``base``, no service (no systemd here: the test runs nfcapd with the unit's argv)."""
    return {"netflow": {"collector": {
        "host": "127.0.0.1", "port": port, "storage": str(base / "flows"), "rotation": 60, "service": False,
        "unit_file": str(base / "etc" / "nfcapd-netflow.service"),
        "nfcapd": shutil.which("nfcapd"), "nfexpire": shutil.which("nfexpire") or "/usr/bin/nfexpire",
        "sources": sources}}}
