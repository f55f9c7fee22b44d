"""Check that Salt's loader gives our custom modules the _utils/ core, on any Salt
installed in the interpreter that runs this script (used once per Salt series; see
docs/DESIGN-NOTES.md, "Layers").

    /path/to/venv-with-salt/bin/python bench/salt_versions.py

Three routes, each with salt-call --local on a fresh ngsim host:
  1. utils_dirs/module_dirs pointing at the repository (what the tests use);
  2. file_roots serving formula/ alone, `saltutil.sync_all`, then nothing but the synced
     extmods (what a master's file_roots route gives a minion);
  3. the wheel built from this tree installed into a temporary target on PYTHONPATH,
     nothing else (the salt.loader entry point, as `salt-pip install` gives a minion).
Prints one line per route and exits non-zero if any fails.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, text=True, capture_output=True, **kw)


def main() -> int:
    import salt.version

    salt_call = str(pathlib.Path(sys.executable).with_name("salt-call"))
    work = pathlib.Path(tempfile.mkdtemp(prefix="saltver-"))
    host = work / "host"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ngsim_py = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
    run([ngsim_py, "-m", "ngsim", "init", str(host), "--iface", "em0", "--loaded", "ng_ether"], cwd=REPO, env=env, check=True)
    failures = 0
    dist, site = work / "dist", work / "site"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO), "-w", str(dist)], check=True)
    run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), *map(str, dist.glob("*.whl"))],
        check=True)
    for route in ("utils_dirs", "sync_all", "extension"):
        conf = work / route
        conf.mkdir()
        opts = {"id": "fw1", "file_client": "local", "root_dir": str(conf / "root"),
                "netgraph.ngctl": str(host / "bin" / "ngctl"), "netgraph.kldload": str(host / "bin" / "kldload"),
                "netgraph.kldstat": str(host / "bin" / "kldstat"), "netgraph.ipfw": str(host / "bin" / "ipfw"),
                "netflow": {"lock_file": str(conf / "netflow.lock"), "boot_dir": str(conf / "boot")}}
        if route == "utils_dirs":
            opts.update({"module_dirs": [str(REPO / "_modules")], "utils_dirs": [str(REPO / "_utils")],
                         "states_dirs": [str(REPO / "_states")]})
        elif route == "sync_all":
            opts["file_roots"] = {"base": [str(REPO / "formula")]}
        (conf / "minion").write_text(json.dumps(opts))
        base = [salt_call, "--local", "-c", str(conf), "--out=json"]
        call_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if route == "extension":
            call_env["PYTHONPATH"] = str(site)
        if route == "sync_all":
            run(base + ["saltutil.sync_all"], check=True, env=call_env)
        proc = run(base + ["netflow.plan", "lan", "interfaces=[em0]", 'collectors=[{"host": "192.0.2.10", "port": 2055}]'],
                   env=call_env, cwd="/")
        ok = proc.returncode == 0 and "mkpeer em0: netflow lower iface0" in proc.stdout
        failures += not ok
        print(f"salt {salt.version.__version__} {route}: {'ok' if ok else 'FAILED: ' + (proc.stderr or proc.stdout)[-300:]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
