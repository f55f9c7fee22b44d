"""Static checks of formula/netflow and pillar.example (no Salt daemons, no ngsim)."""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
FORMULA = REPO / "formula" / "netflow"
SLS = sorted(FORMULA.glob("**/*.sls"))
# Reactor and orchestrate SLS files are rendered on the master (for an event, by
# state.orchestrate), not on a minion: no map.jinja (tests/unit/formula/test_orch_pipeline.py).
MINION_SLS = [p for p in SLS if not {"reactor", "orch"} & set(p.relative_to(FORMULA).parts)]


def _salt_lint() -> list[str] | None:
    exe = pathlib.Path(sys.executable).parent / "salt-lint"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("salt-lint")
    return [found] if found else None


def test_formula_files_exist():
    names = {p.relative_to(FORMULA).as_posix() for p in FORMULA.glob("**/*") if p.is_file()}
    assert {"map.jinja", "parameters/defaults.yaml", "init.sls", "exporter.sls", "boot.sls", "clean.sls",
            "files/default/netflow.rc"} <= names


@pytest.mark.skipif(_salt_lint() is None, reason="salt-lint not installed (pip install salt-lint)")
def test_salt_lint():
    """Clean under the repository's .salt-lint, the Jinja libraries included."""
    jinja = sorted(FORMULA.glob("*.jinja"))
    assert {p.name for p in jinja} == {"map.jinja", "libtofs.jinja"}
    proc = subprocess.run(_salt_lint() + [str(p) for p in SLS + jinja], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_formula_metadata_matches_the_package():
    meta = yaml.safe_load((FORMULA.parent / "FORMULA").read_text())
    version = next(line.split("=", 1)[1].strip() for line in (REPO / "setup.cfg").read_text().splitlines()
                   if line.startswith("version"))
    assert meta["name"] == meta["top_level_dir"] == FORMULA.name == "netflow"
    assert meta["version"] == version and meta["os_family"] == "FreeBSD" and meta["minimum_version"] == 3006
    assert yaml.safe_load((REPO / ".salt-lint").read_text())["skip_list"] == [205]


def test_sls_use_tplroot_and_map():
    for path in MINION_SLS:
        text = path.read_text()
        if path.name == "init.sls":
            assert "include:" in text
            continue
        assert "{%- set tplroot = tpldir.split('/')[0] %}" in text, path
        assert 'from tplroot ~ "/map.jinja" import mapdata' in text, path


# What a rule looks like in Jinja: a regex test or filter (`is match(...)`, `regex_search`),
# a length check, or a number (a limit such as {0,24} or 1023, a slice such as [:-6]).
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_JINJA_CODE = re.compile(r"\{%(.*?)%\}|\{\{(.*?)\}\}", re.S)
_RULE = re.compile(r"\b(?:match|search|regex_\w*|length|count)\b|\d")


def _rules(text: str) -> list[str]:
    """The rules written in the Jinja code of ``text`` (comments and the YAML around the
    code aside, so a mode '0555' or a comment naming a limit is not one)."""
    text = _JINJA_COMMENT.sub("", text).replace("tpldir.split('/')[0]", "tpldir")  # template-formula's tplroot
    code = [a or b for a, b in _JINJA_CODE.findall(text)]
    return [hit for block in code for hit in _RULE.findall(block)]


def test_the_rule_finder_finds_what_map_jinja_used_to_hold():
    """Positive control: lines of the earlier map.jinja (which repeated nf_model's and
    nf_paths' rules) are found; comments and YAML are not."""
    old = [
        "{%-   if not (name is string and name is match('[A-Za-z][A-Za-z0-9_-]{0,24}\\Z')) %}",
        "{%- set segment = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\\Z' %}",
        "{%-     set name = salt['file.basename'](path)[:-6] %}",
        "{%- if value | length > 1023 %}",
        "{{ value | regex_search('^/') }}",
    ]
    assert all(_rules(line) for line in old), [line for line in old if not _rules(line)]
    assert _rules("{#- at most 1023 characters, is match() #}\n    - mode: '0555'\n{{ name | tojson }}\n"
                  "{%- set tplroot = tpldir.split('/')[0] %}") == []


@pytest.mark.parametrize("path", [FORMULA / "map.jinja", FORMULA / "libtofs.jinja"] + MINION_SLS,
                         ids=lambda p: p.name)
def test_jinja_holds_no_rule_of_its_own(path):
    """One source per rule: the formula's checks and limits live in Python
    (netflow.mapdata, nf_pillar), never again in Jinja; map.jinja only merges."""
    assert _rules(path.read_text()) == [], path.name


def test_defaults_yaml():
    """Only the formula's own keys: the path defaults come from the modules' one table;
    netflow.mapdata without the file (CLI) uses the same values."""
    from netgraph_core import nf_pillar

    defaults = yaml.safe_load((FORMULA / "parameters" / "defaults.yaml").read_text())
    assert defaults == {"persist": True, "exporters": {}} == nf_pillar.FORMULA_DEFAULTS


def test_path_defaults_are_one_table_read_by_formula_and_modules():
    from netgraph_core import nf_paths

    jinja = (FORMULA / "map.jinja").read_text()
    assert "salt['netflow.mapdata'](defaults, tplroot)" in jinja  # nf_pillar fills the paths from nf_paths
    assert "nf_paths.default(key)" in (REPO / "_utils" / "netgraph_core" / "nf_pillar.py").read_text()
    assert set(nf_paths.PATHS) >= {"boot_dir", "lock_file", "rc_script", "rc_conf_d", "ngctl", "kldload",
                                   "kldstat", "ipfw", "sha256", "lockf"}


def test_pillar_example_documents_every_key():
    text = (REPO / "pillar.example").read_text()
    data = yaml.safe_load(text)["netflow"]
    from netgraph_core import nf_paths

    # every formula key is present (boot_dir, lock_file, persist, exporters top level; the
    # other paths in lookup)
    assert {"boot_dir", "lock_file", "persist", "exporters", "lookup"} <= set(data)
    formula_paths = {"rc_script", "rc_conf_d", "ngctl", "kldload", "kldstat", "ipfw", "sha256", "lockf"}
    assert set(data["lookup"]) == formula_paths
    assert all(data["lookup"][k] == nf_paths.default(k) for k in formula_paths), "pillar.example shows the defaults"
    lan = data["exporters"]["lan"]
    # every parameter of netflow.exporter_present (an entry of exporters_present's exporters) appears
    assert {"interfaces", "collectors", "timeouts", "template", "mtu", "takeover"} <= set(lan)
    assert "persist" in data["exporters"]["uplink"]
    assert lan["interfaces"]["vlan0.100"] == {"direction": "egress"}
    assert lan["interfaces"]["tun0"]["attach"] == "ipfw" and lan["interfaces"]["tun0"]["ipfw_hook"] == 1000
    assert {c.get("version", 9) for c in lan["collectors"]} == {5, 9}
    # only interfaces an ngsim host is made with in the demo and the tests
    ifaces = set()
    for exp in data["exporters"].values():
        ifaces |= set(exp["interfaces"])
    assert ifaces <= {"em0", "em1", "vlan0.100", "tun0"}
    # interface options and collector keys are each explained in a comment
    for word in ("direction:", "once:", "ifindex:", "attach:", "ipfw_hook:", "ipfw_rule:", "host", "port", "version"):
        assert word in text, word


def test_exporter_sls_renders_one_host_state_with_its_parameters():
    """The host is the unit: one netflow.exporters_present, no per-exporter state, given
    exactly its parameters (each exporter's entry is passed inside `exporters`)."""
    import inspect
    import re

    from ngsim.testing import load_file

    text = (FORMULA / "exporter.sls").read_text()
    assert text.count("netflow.exporters_present:") == 1
    assert "netflow.exporter_present:" not in text and "netflow.exporter_absent:" not in text
    block = text.split("netflow.exporters_present:", 1)[1].split("{%", 1)[0]
    given = re.findall(r"^    - (\w+): \{\{ .* \| tojson(?:\(sort_keys=True\))? \}\}$", block, re.M)
    states = load_file(REPO / "_states" / "netflow.py", "netflow_states_static")
    params = [p for p in inspect.signature(states.exporters_present).parameters if p not in ("name", "kwargs")]
    assert sorted(given) == sorted(params) == ["absent", "exporters", "persist"]


def test_failing_states_work_on_salt_3006():
    """Salt 3006's test.configurable_test_state has no allow_test_mode_failure ("an invalid
    keyword argument"): the formula fails with netflow.refused, in every minion SLS."""
    for path in MINION_SLS:
        text = path.read_text()
        assert "allow_test_mode_failure" not in text and "configurable_test_state" not in text, path
        if path.name != "init.sls":
            assert "netflow.refused:" in text and "if netflow_errors" in text, path
