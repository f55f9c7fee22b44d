"""Both install routes, through salt-call --local on an emulated FreeBSD host:

1. the Salt extension: the wheel built from this tree, installed into a temporary
   target, found by Salt's loader through the ``salt.loader`` entry point alone (no
   ``module_dirs``, ``utils_dirs`` or file_roots pointing at the repository);
2. file_roots: ``formula/`` alone as the file root (it serves ``salt://netflow`` and,
   through its ``_modules``/``_states``/``_utils`` links, the custom modules), and
   ``saltutil.sync_all``.

The development venv does not have the project installed (see the Makefile), so the
control case (no PYTHONPATH, no file_roots) shows the modules are really absent without
the extension.

The wheel itself is read too: the ``salt.loader`` entry point, no emulator (``ngsim``) in
it, the LICENSE, ``prometheus_client`` only under the ``metrics`` extra, and
``netflow.metrics`` naming that extra when prometheus_client cannot be imported.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

from ngsim.testing import Host

REPO = pathlib.Path(__file__).resolve().parents[3]
SALT_CALL = str(pathlib.Path(sys.executable).with_name("salt-call"))
C1 = {"host": "192.0.2.10", "port": 2055}


@pytest.fixture(scope="module")
def wheel_target(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    str(REPO), "-w", str(out / "dist")], check=True, capture_output=True, text=True)
    (whl,) = (out / "dist").glob("saltext_netgraph-*.whl")
    target = out / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(whl)],
                   check=True, capture_output=True, text=True)
    return target


def _config(tmp_path: pathlib.Path, host: Host, extra: dict) -> pathlib.Path:
    conf = tmp_path / "conf"
    conf.mkdir()
    empty = tmp_path / "empty_root"
    empty.mkdir()
    bindir = pathlib.Path(host.root) / "bin"
    opts = {
        "id": "fw1", "file_client": "local", "root_dir": str(tmp_path / "root"),
        "file_roots": {"base": [str(empty)]}, "grains_cache": True, "enable_fqdns_grains": False,
        "netflow": {"lock_file": str(tmp_path / "netflow.lock"), "boot_dir": str(tmp_path / "boot")},
        **{f"netgraph.{tool}": str(bindir / tool) for tool in ("ngctl", "kldload", "kldstat", "ipfw")},
    }
    opts.update(extra)
    (conf / "minion").write_text(json.dumps(opts))
    return conf


def salt_call(conf: pathlib.Path, *args: str, pythonpath: pathlib.Path | str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([SALT_CALL, "--local", "-c", str(conf), "--out=json", *args],
                          env=env, text=True, capture_output=True, cwd="/")


def _local(proc: subprocess.CompletedProcess):
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)["local"]


def _state(conf, **kw):
    args = ["state.single", "netflow.exporter_present", "name=lan", "interfaces=[em0]",
            f"collectors={json.dumps([C1])}"]
    return salt_call(conf, *args, **kw)


def test_the_wheel_packages_the_tree_files_themselves(wheel_target):
    pkg = wheel_target / "saltext_netgraph"
    files = [src for kind in ("_modules", "_states", "_utils", "_beacons", "_runners")
             for src in (REPO / kind).rglob("*.py")]
    assert any(src.parent.name == "netgraph_core" for src in files), "positive control: the core package is seen"
    for src in files:
        rel = src.relative_to(REPO)
        assert (pkg / rel).read_bytes() == src.read_bytes(), f"{rel} differs in the wheel"
    eps = next(wheel_target.glob("saltext_netgraph-*.dist-info")) / "entry_points.txt"
    assert "[salt.loader]" in eps.read_text()


def _wheel(wheel_target: pathlib.Path) -> zipfile.ZipFile:
    (whl,) = (wheel_target.parent / "dist").glob("saltext_netgraph-*.whl")
    return zipfile.ZipFile(whl)


def _metadata(wheel_target: pathlib.Path) -> list[str]:
    with _wheel(wheel_target) as whl:
        (meta,) = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
        return whl.read(meta).decode().split("\n\n", 1)[0].splitlines()  # the headers, not the README


def test_the_wheel_has_the_loader_entry_point_and_no_emulator(wheel_target):
    with _wheel(wheel_target) as whl:
        names = whl.namelist()
        (eps,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = whl.read(eps).decode()
    assert "saltext_netgraph/_modules/netflow.py" in names, "positive control: the listing holds the modules"
    assert "[salt.loader]" in entry_points and "saltext_netgraph = saltext_netgraph.loader:get_dirs" in entry_points
    assert not [n for n in names if n.split("/")[0] == "ngsim" or "/ngsim/" in n], "the emulator is not shipped"
    assert "console_scripts" not in entry_points and "ngsim" not in entry_points
    assert not (wheel_target / "ngsim").exists() and not (wheel_target / "bin").exists()
    assert "Name: saltext-netgraph" in _metadata(wheel_target)


def test_the_wheel_carries_the_license(wheel_target):
    with _wheel(wheel_target) as whl:
        licenses = [n for n in whl.namelist() if ".dist-info/" in n and n.rsplit("/", 1)[-1] == "LICENSE"]
        assert licenses, "no LICENSE in the wheel"
        text = whl.read(licenses[0])
    assert text == (REPO / "LICENSE").read_bytes()
    assert b"BSD 2-Clause" in text and b"Copyright (c) 2026 the salt-netgraph authors" in text
    assert "License: BSD-2-Clause" in _metadata(wheel_target)


def test_prometheus_client_only_under_the_metrics_extra(wheel_target):
    headers = _metadata(wheel_target)
    requires = [h.split(":", 1)[1].strip() for h in headers if h.startswith("Requires-Dist:")]
    assert "salt>=3006" in requires, "positive control: the hard requirements are read"
    prom = [r for r in requires if r.lower().replace("_", "-").startswith("prometheus-client")]
    assert 'prometheus-client; extra == "metrics"' in [r.replace("_", "-") for r in prom]
    assert all("extra ==" in r for r in prom), f"prometheus_client required outside an extra: {prom}"
    assert "Provides-Extra: metrics" in headers
    assert "Requires-Python: >=3.10" in headers


def test_metrics_without_prometheus_client_names_the_extra(tmp_path, wheel_target):
    """prometheus_client made unimportable in salt-call's process: a package of that name
    ahead of everything on PYTHONPATH whose import raises ImportError, as a missing one does."""
    host = Host.create(str(tmp_path / "host"), ifaces=["em0"], loaded=["ng_ether"])
    conf = _config(tmp_path, host, {})
    blocked = tmp_path / "blocked" / "prometheus_client"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text('raise ImportError("No module named prometheus_client (hidden by the test)")\n')
    assert _local(_state(conf, pythonpath=wheel_target))
    shown = salt_call(conf, "netflow.metrics", pythonpath=wheel_target)
    assert shown.returncode == 0 and "netflow_exporter_health" in _local(shown), "positive control: metrics with it"
    proc = salt_call(conf, "netflow.metrics", pythonpath=os.pathsep.join([str(blocked.parent), str(wheel_target)]))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "salt-pip install 'saltext-netgraph[metrics]'" in out and "Traceback" not in out, out


def test_without_the_extension_salt_has_no_netgraph(tmp_path):
    host = Host.create(str(tmp_path / "host"), ifaces=["em0"], loaded=["ng_ether"])
    conf = _config(tmp_path, host, {})
    assert _local(salt_call(conf, "sys.doc", "netgraph")) == {}


def test_entry_point_alone_gives_salt_the_modules_and_the_state(tmp_path, wheel_target):
    host = Host.create(str(tmp_path / "host"), ifaces=["em0", "em1"], loaded=["ng_ether"])
    conf = _config(tmp_path, host, {})
    doc = _local(salt_call(conf, "sys.doc", "netgraph", pythonpath=wheel_target))
    assert "netgraph.show" in doc and "netgraph.batch" in doc
    assert not any(k.startswith("netgraph.parse") for k in doc), "pure parsers are not Salt functions"
    nodes = _local(salt_call(conf, "netgraph.list", pythonpath=wheel_target))
    assert {n["name"] for n in nodes} >= {"em0", "em1"}
    ret = _local(_state(conf, pythonpath=wheel_target))
    (result,) = ret.values()
    assert result["result"] is True, result["comment"]
    assert result["changes"]["exporter"] == "created" and "name em0:lower lan_nf" in result["changes"]["ngctl"]
    assert host.links() == {"em0": "pass", "em1": "pass"}
    (again,) = _local(_state(conf, pythonpath=wheel_target)).values()
    assert again["result"] is True and again["changes"] == {}


MASTER_RUNNERS = """
import json, sys
import salt.config, salt.loader
opts = salt.config.master_config(None)
opts.update({"cachedir": sys.argv[1], "extension_modules": sys.argv[1] + "/extmods", "runner_dirs": []})
runners = salt.loader.runner(opts, utils=salt.loader.utils(opts))
found = "netflow.verify" in runners
print(json.dumps({"verify": found, "file": sys.modules[runners["netflow.verify"].__module__].__file__ if found else None,
                  "core": sys.modules.get("netgraph_core.nf_verify").__file__ if found else None}))
"""


def test_entry_point_gives_the_master_the_runner(tmp_path, wheel_target):
    """salt.loader.runner (what salt-run loads from) finds netflow.verify through the entry
    point's ``runners`` directory, and the runner imports the core from the wheel;
    control: without the extension on the path there is no such runner."""
    def runners(pythonpath):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update({"PYTHONPATH": str(pythonpath)} if pythonpath else {})
        proc = subprocess.run([sys.executable, "-c", MASTER_RUNNERS, str(tmp_path / "cache")], env=env, cwd="/",
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    assert runners(None)["verify"] is False
    found = runners(wheel_target)
    assert found["verify"] is True, found
    assert found["file"].startswith(str(wheel_target / "saltext_netgraph" / "_runners")), found
    assert found["core"].startswith(str(wheel_target / "saltext_netgraph" / "_utils")), found


def test_file_roots_route_formula_root_alone_and_sync_all(tmp_path):
    host = Host.create(str(tmp_path / "host"), ifaces=["em0"], loaded=["ng_ether"])
    conf = _config(tmp_path, host, {"file_roots": {"base": [str(REPO / "formula")]}})
    synced = _local(salt_call(conf, "saltutil.sync_all"))
    assert "modules.netflow" in synced["modules"] and "states.netflow" in synced["states"]
    assert "utils.netgraph_core.nf_model" in synced["utils"], "sync_all keeps the core package whole"
    (result,) = _local(_state(conf)).values()
    assert result["result"] is True, result["comment"]
    assert host.links() == {"em0": "pass"}
