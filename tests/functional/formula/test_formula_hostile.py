"""The netflow formula with hostile pillar KEYS and PATHS.

Pillar keys become state IDs and parameter names, and paths land in rc.conf.d/netflow,
which sh sources as root at boot: nothing from pillar may be rendered raw. Every case runs
`state.apply netflow` with test=True and for real on an emulated FreeBSD host (ngsim) and
must give: a non-zero exit and a False result whose comment names the bad key, none of
the payloads run (their marker files never appear), zero mutating ngsim calls, and nothing
written (no boot file, no rc.conf.d, no rc.d script).

The matrix runs `state.apply` in this process (tests/support/localminion.py: the demo's
minion config and pillar files, Salt's renderers and state engine, the in-process kernel
adapter); the cases set in the minion config, one hostile key and the good pillar run
through the real `salt-call --local` on the same kind of minion.
"""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from ngsim.testing import load_file

from tests.support import kernel
from tests.support.localminion import LocalMinion, written_under

REPO = pathlib.Path(__file__).resolve().parents[3]
demo = load_file(REPO / "demo" / "run.py", "netflow_demo_run_hostile")

GOOD = {"interfaces": ["em0"], "collectors": [{"host": "192.0.2.10", "port": 2055}]}
PWN = "@PWN@"  # replaced by the path of a marker file of the case


# (id, pillar netflow:exporters, the text the failing comment must contain)
KEY_CASES = [
    ("exporter-key-yaml-injection", {f"lan\nevil:\n  cmd.run:\n    - name: touch {PWN}": GOOD}, None),
    ("param-key-yaml-injection", {"lan": {**GOOD, f"mtu: 1500\nevil:\n  cmd.run:\n    - name: touch {PWN}": 1}}, None),
    ("exporter-key-colon", {"lan:evil": GOOD}, None),
    ("exporter-key-space", {"lan evil": GOOD}, None),
    ("exporter-key-300-chars", {"l" * 300: GOOD}, None),
    ("exporter-key-integer", {123: GOOD}, None),
    ("exporter-key-jinja", {"{{ salt['cmd.run']('touch " + PWN + "') }}": GOOD}, None),
    ("exporter-key-shell", {f"lan$(touch {PWN})`touch {PWN}`'\"": GOOD}, None),
    ("exporter-key-control-chars", {"lan\x7f\u2028\x85\x00evil": GOOD}, None),
    ("param-key-colon", {"lan": {**GOOD, "mtu:evil": 1}}, None),
    ("param-key-space", {"lan": {**GOOD, "mtu evil": 1}}, None),
    ("param-key-300-chars", {"lan": {**GOOD, "m" * 300: 1}}, None),
    ("param-key-unknown", {"lan": {**GOOD, "cmd.run": f"touch {PWN}"}}, None),
    ("persist-not-a-bool", {"lan": {**GOOD, "persist": f"yes; touch {PWN}"}}, "persist"),
    ("params-not-a-mapping", {"lan": f"touch {PWN}"}, "must be a mapping"),
]

BAD_PATHS = [
    ("dollar-paren", f"/tmp/$(touch {PWN})"),
    ("relative", "relative/netflow"),
    ("space", "/usr/local/etc/net flow"),
    ("newline", f"/usr/local/etc/netflow\nnetflow_enable=YES\ntouch {PWN}"),
    ("semicolon", f"/usr/local/etc/netflow;touch {PWN}"),
    ("backtick", f"/usr/local/etc/`touch {PWN}`"),
    ("single-quote", f"/usr/local/etc/netflow'; touch {PWN}; '"),
    ("double-quote", '/usr/local/etc/netflow"x'),
    ("dotdot", "/usr/local/etc/../../tmp/netflow"),
    ("too-long", "/" + "a" * 1100),
    ("not-a-string", ["/usr/local/etc/netflow"]),
]
# (id, where the path is set, key, value). "pillar" paths go to the top level of pillar
# netflow (boot_dir, lock_file, rc_script, rc_conf_d as the state reads them), "lookup"
# to netflow:lookup, "minion" to the minion config (netgraph.<tool>, which config.get
# prefers over pillar).
PATH_CASES = [("boot_dir-" + cid, "pillar", "boot_dir", value) for cid, value in BAD_PATHS] + [
    ("rc_script-semicolon", "pillar", "rc_script", f"/usr/local/etc/rc.d/netflow;touch {PWN}"),
    ("rc_conf_d-relative", "lookup", "rc_conf_d", "etc/rc.conf.d/netflow"),
    ("rc_conf_d-newline", "pillar", "rc_conf_d", "/etc/rc.conf.d/netflow\n/etc/rc.conf"),
    ("lock_file-space", "pillar", "lock_file", "/var/run/net flow.lock"),
    ("ngctl-dollar-paren", "minion", "ngctl", f"/usr/sbin/ngctl$(touch {PWN})"),
    ("kldload-backtick", "minion", "kldload", f"/sbin/`touch {PWN}`"),
    ("kldstat-newline", "minion", "kldstat", f"/sbin/kldstat\ntouch {PWN}"),
    ("ipfw-quote", "minion", "ipfw", "/sbin/ipfw'"),
    ("sha256-dotdot", "lookup", "sha256", "/sbin/../tmp/sha256"),
    ("lockf-relative", "lookup", "lockf", "lockf"),
]


def case_data(marks: pathlib.Path, base_minion: dict, base_paths: dict, exporters: dict | None = None,
              where: str | None = None, key: str | None = None, value=None) -> tuple:
    """(marker file, minion config, host_paths pillar, netflow pillar) of one case; the
    marker directory emptied."""
    if marks.exists():
        shutil.rmtree(marks)
    marks.mkdir()
    mark = marks / "PWNED"

    def sub(obj):
        if isinstance(obj, str):
            return obj.replace(PWN, str(mark))
        if isinstance(obj, list):
            return [sub(v) for v in obj]
        if isinstance(obj, dict):
            return {sub(k): sub(v) for k, v in obj.items()}
        return obj

    minion = json.loads(json.dumps(base_minion))
    paths = json.loads(json.dumps(base_paths))
    pillar = {"netflow": {"exporters": sub(exporters) if exporters is not None else {"lan": GOOD}}}
    if where == "minion":
        minion[f"netgraph.{key}"] = sub(value)
    elif where == "lookup":
        paths["netflow"]["lookup"][key] = sub(value)
    elif where == "pillar":
        paths["netflow"][key] = sub(value)
    return mark, minion, paths, pillar


class HostileMinion:
    def __init__(self, base: pathlib.Path):
        self.base = base
        self.host = demo.make_host(base / "host")
        self.salt = base / "salt"
        self.etc = self.salt / "etc"
        self.confdir = demo.write_minion_config(self.salt, self.host, {})
        self.minion_conf = self.confdir / "minion"
        self.base_minion = yaml.safe_load(self.minion_conf.read_text())
        self.paths_file = self.salt / "pillar" / "host_paths.sls"
        self.base_paths = yaml.safe_load(self.paths_file.read_text())
        self.pillar_file = self.salt / "pillar" / "netflow.sls"
        self.marks = base / "marks"

    def setup(self, exporters: dict | None = None, where: str | None = None, key: str | None = None,
              value=None) -> pathlib.Path:
        """Write the case's pillar/minion config; return its marker file path."""
        mark, minion, paths, pillar = case_data(self.marks, self.base_minion, self.base_paths, exporters, where, key,
                                                value)
        self.minion_conf.write_text(yaml.safe_dump(minion, default_flow_style=False))
        self.paths_file.write_text(yaml.safe_dump(paths, default_flow_style=False))
        # `#!yaml`: the pillar is data, not a template (the Jinja case must reach the formula)
        self.pillar_file.write_text("#!yaml\n" + yaml.safe_dump(pillar, default_flow_style=False))
        subprocess.run([sys.executable, "-m", "ngsim", "log", str(self.host), "--clear"], cwd=REPO, check=True,
                       capture_output=True)
        return mark

    def apply(self, *args: str) -> tuple[int, object, str]:
        proc = demo.salt_call(self.confdir, "state.apply", "netflow", *args, "--out=json", capture=True)
        try:
            out = json.loads(proc.stdout)["local"]
        except (ValueError, KeyError):
            out = proc.stdout
        return proc.returncode, out, proc.stdout + proc.stderr

    def mutating(self) -> list[dict]:
        out = subprocess.run([sys.executable, "-m", "ngsim", "log", str(self.host)], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout
        return [e for e in map(json.loads, filter(str.strip, out.splitlines())) if e["mutating"]]

    def written(self) -> list[str]:
        return written_under(self.etc)


class HostileSim:
    """The same minion and cases, ``state.apply`` in this process."""

    def __init__(self, base: pathlib.Path):
        self.sim = LocalMinion(base)
        self.etc = self.sim.etc
        self.marks = base / "marks"

    def setup(self, exporters: dict | None = None, where: str | None = None, key: str | None = None,
              value=None) -> pathlib.Path:
        assert where != "minion", "a minion config case runs through salt-call"
        mark, _, paths, pillar = case_data(self.marks, {}, self.sim.host_paths(), exporters, where, key, value)
        self.sim.apply_pillar(pillar, paths)
        open(self.sim.root / "log.jsonl", "w").close()
        self.sim.adapter.other.clear()
        return mark

    def apply(self, *args: str) -> tuple[int, object, str]:
        rc, out = self.sim.state_apply("netflow", test="test=True" in args)
        assert self.sim.adapter.other == [], self.sim.adapter.other  # only emulated binaries spawned
        return rc, out, repr(out)

    def mutating(self) -> list[dict]:
        return [e for e in kernel.log_entries(str(self.sim.root)) if e["mutating"]]

    def written(self) -> list[str]:
        return self.sim.written()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return HostileMinion(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def hostile_sim(tmp_path_factory):
    return HostileSim(tmp_path_factory.mktemp("hostile-sim"))


def _check(hostile, mark: pathlib.Path, mode: tuple, named: str) -> None:
    rc, out, text = hostile.apply(*mode)
    assert rc != 0, text
    assert isinstance(out, dict), text
    failed = [r for r in out.values() if r["result"] is False]
    assert failed, out
    assert any(named in r["comment"] for r in failed), (named, [r["comment"] for r in failed])
    assert not mark.exists() and not list(hostile.marks.iterdir()), "a payload ran"
    assert not pathlib.Path("/tmp/PWNED").exists()
    assert hostile.mutating() == []
    assert hostile.written() == []
    # no state of the run came from the payloads: every ID is one of ours
    for result in out.values():
        assert result["__id__"].startswith("netflow-"), result["__id__"]
        assert "cmd" not in result["__id__"] and "\n" not in result["__id__"]


MODES = [(), ("test=True",)]


def _tojson(text: str) -> str:
    """A pillar key as the formula names it: Salt's `tojson` (JSON, ASCII escapes)."""
    out = json.dumps(text, ensure_ascii=True)
    for char, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        out = out.replace(char, esc)
    return out


@pytest.mark.parametrize("mode", MODES, ids=["real", "test"])
@pytest.mark.parametrize("cid, exporters, named", KEY_CASES, ids=[c[0] for c in KEY_CASES])
def test_hostile_pillar_keys(hostile_sim, cid, exporters, named, mode):
    _hostile_key(hostile_sim, exporters, named, mode)


@pytest.mark.parametrize("mode", MODES, ids=["real", "test"])
def test_a_hostile_pillar_key_through_salt_call(hostile, mode):
    """The first key case through the real `salt-call --local` (its exit status, the
    pillar files rendered by Salt from disk)."""
    _, exporters, named = KEY_CASES[0]
    _hostile_key(hostile, exporters, named, mode)


def _hostile_key(hostile, exporters, named, mode):
    mark = hostile.setup(exporters=exporters)
    if named is None:  # the bad key itself, JSON-escaped
        bad = next(k for k in exporters if k != "lan") if "lan" not in exporters else \
            next(k for k in exporters["lan"] if k not in GOOD)
        named = _tojson(str(bad).replace(PWN, str(mark)))
    _check(hostile, mark, mode, named)


@pytest.mark.parametrize("mode", MODES, ids=["real", "test"])
@pytest.mark.parametrize("cid, where, key, value", PATH_CASES, ids=[c[0] for c in PATH_CASES])
def test_hostile_paths(hostile, hostile_sim, cid, where, key, value, mode):
    """Minion config cases through salt-call (the config is read when the minion starts),
    the others in this process."""
    hostile = hostile if where == "minion" else hostile_sim
    mark = hostile.setup(where=where, key=key, value=value)
    _check(hostile, mark, mode, f"netflow:{key}:")


RC = "netflow-boot-file-managed-rc-script"
TOFS_CASES = [
    ("not-a-mapping", f"$(touch {PWN})"),
    ("switch-yaml", {"files_switch": [f"id\n- cmd.run: touch {PWN}"]}),
    ("switch-string", {"files_switch": "id"}),
    ("prefix-dotdot", {"path_prefix": "../etc"}),
    ("prefix-dollar-paren", {"path_prefix": f"netflow/$(touch {PWN})"}),
    ("dirs-dotdot", {"dirs": {"default": ".."}}),
    ("dirs-unknown", {"dirs": {"evil": "x"}}),
    ("source-dotdot", {"source_files": {RC: ["../../../etc/passwd"]}}),
    ("source-string", {"source_files": {RC: "netflow.rc"}}),
    ("source-yaml", {"source_files": {RC: [f"x.rc\n- cmd.run: touch {PWN}"]}}),
    ("unknown-key", {"files": {RC: ["x.rc"]}}),
]


@pytest.mark.parametrize("mode", MODES, ids=["real", "test"])
@pytest.mark.parametrize("cid, value", TOFS_CASES, ids=[c[0] for c in TOFS_CASES])
def test_hostile_tofs(hostile_sim, cid, value, mode):
    """netflow:tofs is pillar: a bad part fails the run naming it, before anything is
    rendered from it (libtofs.jinja renders its candidates with | tojson only)."""
    mark = hostile_sim.setup(where="pillar", key="tofs", value=value)
    _check(hostile_sim, mark, mode, "netflow:tofs")


@pytest.mark.parametrize("mode", MODES, ids=["real", "test"])
def test_hostile_values_are_data(hostile_sim, mode):
    """Values are checked before anything renders (netflow.mapdata validates every
    exporter as its state would): the run is refused naming the value's key, zero mutating
    calls, nothing written, only failing states."""
    hostile = hostile_sim
    mark = hostile.setup(exporters={"lan": {
        "interfaces": [f"em0\u2028evil:\n  cmd.run: touch {PWN}"],
        "collectors": [{"host": f"$(touch {PWN})", "port": 2055}],
        "timeouts": {"active": f"`touch {PWN}`\x7f"},
    }})
    rc, out, text = hostile.apply(*mode)
    assert rc != 0 and isinstance(out, dict), text
    comments = [r["comment"] for r in out.values()]
    for word in ("interfaces[0]", "collectors[0].host", "timeouts.active"):  # every bad value named
        assert any('netflow:exporters:"lan": ' + word in c for c in comments), (word, comments)
    assert all(r["result"] is False and r["changes"] == {} for r in out.values()), out
    assert {r["__id__"] for r in out.values()} <= {f"netflow-{sls}-netflow-refused-{i}" for sls in
                                                  ("exporter", "boot", "metrics") for i in range(1, 9)}
    assert not mark.exists() and hostile.mutating() == []
    assert hostile.written() == []


def test_a_good_pillar_still_applies(hostile):
    """The same minion with a sane pillar converges (the cases above fail for their
    hostile part only)."""
    mark = hostile.setup()
    rc, out, text = hostile.apply()
    assert rc == 0, text
    assert all(r["result"] is True for r in out.values()), out
    assert not mark.exists()
    assert (hostile.etc / "netflow" / "lan.ngctl").exists() and (hostile.etc / "rc.conf.d" / "netflow").exists()
    clean = demo.salt_call(hostile.confdir, "state.apply", "netflow.clean", "--out=json", capture=True)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    shutil.rmtree(hostile.etc)


def test_a_good_pillar_still_applies_in_process(hostile_sim):
    """The positive control of the in-process matrix: the same minion there converges a
    sane pillar, spawning the emulated binaries and writing the boot files."""
    mark = hostile_sim.setup()
    rc, out, text = hostile_sim.apply()
    assert rc == 0, text
    assert out and all(r["result"] is True for r in out.values()), out
    assert hostile_sim.mutating() != [] and not mark.exists()
    assert {"netflow/lan.ngctl", "rc.conf.d/netflow"} <= set(hostile_sim.written())
    rc, out = hostile_sim.sim.state_apply("netflow.clean")
    assert rc == 0, out
    shutil.rmtree(hostile_sim.etc)


def test_case_counts():
    assert len(KEY_CASES) == 15 and len(PATH_CASES) == 21 and len(TOFS_CASES) == 11
