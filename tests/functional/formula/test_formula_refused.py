"""A bad pillar fails naming its key, on whatever Salt runs this file (`make test` on
Salt 3008; `make test-salts` on 3006, 3007 and 3008, each from its own venv).

Salt 3006's `test.configurable_test_state` rejects `allow_test_mode_failure` ("an invalid
keyword argument"), which once hid every key the formula refused; the formula now fails with
`netflow.refused`. Each case runs the real `salt-call --local state.apply netflow,netflow.clean`
(init.sls: exporter, boot and metrics; and clean.sls) on a fresh emulated FreeBSD host, for
real and with test=True, and must give: a non-zero exit, only failing states, one from each
SLS, every comment naming the key, no Salt error text, no mutating spawn, no file written.
The positive control applies a good pillar with the same harness and sees it change the host.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from ngsim.testing import load_file

from tests.support.nghost import run_ngsim

REPO = pathlib.Path(__file__).resolve().parents[3]
demo = load_file(REPO / "demo" / "run.py", "netflow_demo_run_refused")

GOOD = {"interfaces": ["em0"], "collectors": [{"host": "192.0.2.10", "port": 2055}]}
# Three mistakes in one pillar (one salt-call per mode): each SLS must refuse each by its key.
BAD = {"exporter": {"lan": GOOD},  # netflow:exporters misspelt
       "exporters": {"9lan": GOOD,  # a name must start with a letter
                     "wan": {"interfaces": ["em0"], "colectors": GOOD["collectors"]}}}
NAMED = ('unknown key "exporter"', 'netflow:exporters:"9lan"', 'netflow:exporters:"wan": unknown parameter key(s) "colectors"')
SLS_PREFIXES = ("netflow-exporter-", "netflow-boot-", "netflow-metrics-", "netflow-clean-")
SALT_ERRORS = ("allow_test_mode_failure", "invalid keyword argument", "Traceback", "Rendering SLS")


def _minion(base: pathlib.Path, netflow: dict) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """A fresh host (em0) and a `salt-call --local` config for it: (host, confdir, etc)."""
    host = demo.make_host(base / "host", ifaces=("em0",))
    confdir = demo.write_minion_config(base / "salt", host, {"netflow": netflow})
    return host, confdir, base / "salt" / "etc"


def _apply(confdir: pathlib.Path, sls: str, *args: str) -> tuple[int, object, str]:
    proc = demo.salt_call(confdir, "state.apply", sls, *args, "--out=json", capture=True)
    try:
        out = json.loads(proc.stdout)["local"]
    except (ValueError, KeyError):
        out = None
    return proc.returncode, out, proc.stdout + proc.stderr


def _mutating(host: pathlib.Path) -> list[dict]:
    lines = run_ngsim("log", str(host)).splitlines()
    return [e for e in map(json.loads, filter(str.strip, lines)) if e["mutating"]]


def test_the_salt_series_asked_for_runs_this_file():
    """Under `make test-salts` (NETFLOW_SALT_SERIES set), the salt-call these tests spawn is
    that series' Salt; otherwise whatever Salt the venv has."""
    proc = subprocess.run([demo.salt_call_exe(), "--version"], capture_output=True, text=True, check=True)
    import salt.version

    assert proc.stdout.split()[1] == salt.version.__version__, proc.stdout
    series = os.environ.get("NETFLOW_SALT_SERIES")
    if series:
        assert salt.version.__version__.startswith(series + "."), (series, salt.version.__version__)


@pytest.mark.parametrize("mode", [(), ("test=True",)], ids=["real", "test"])
def test_a_bad_pillar_fails_naming_each_key_in_each_sls(tmp_path, mode):
    host, confdir, etc = _minion(tmp_path, BAD)
    rc, out, text = _apply(confdir, "netflow,netflow.clean", *mode)
    assert rc != 0, text
    assert isinstance(out, dict) and out, text
    assert not [e for e in SALT_ERRORS if e in text], text
    for key, ret in out.items():
        assert key.startswith("netflow_|-") and key.endswith("_|-refused") and "-refused-" in ret["__id__"], (key, ret)
        assert ret["result"] is False and ret["changes"] == {} and ret["comment"].startswith("refused"), ret
    for prefix in SLS_PREFIXES:
        comments = [r["comment"] for r in out.values() if r["__id__"].startswith(prefix)]
        assert all(any(named in c for c in comments) for named in NAMED), (prefix, comments)
    assert _mutating(host) == []
    assert not etc.exists() or not [p for p in etc.rglob("*") if p.is_file()]


def test_positive_control_a_good_pillar_applies(tmp_path):
    """The same harness with a good pillar: every state passes, the host changes, boot
    files are written (so the checks above could see a change)."""
    host, confdir, etc = _minion(tmp_path, {"persist": True, "exporters": {"lan": GOOD}})
    rc, out, text = _apply(confdir, "netflow")
    assert rc == 0 and isinstance(out, dict), text
    assert all(r["result"] is True for r in out.values()), text
    assert _mutating(host), "nothing mutating ran"
    assert (etc / "netflow" / "lan.ngctl").is_file()
