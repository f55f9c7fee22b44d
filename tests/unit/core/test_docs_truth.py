"""The documents say what the code does.

* every ``netgraph.*`` config key the modules read is in docs/operating.md's table of
  configuration keys, with its default;
* every ``--out=`` the documents use is one of Salt's outputters;
* the README's install section (both routes, exact commands) is within its first 60 lines,
  and the README speaks of the product, not of how the project was made (no issue numbers,
  no "seed", no figures taken beside other jobs).

Each check is a function of the text, tested on the real documents and, as a positive
control, on a text it must refuse.
"""
from __future__ import annotations

import pathlib
import re

import pytest

from netgraph_core import nf_paths

REPO = pathlib.Path(__file__).resolve().parents[3]
PRODUCT = ("_modules", "_states", "_beacons", "_utils")
OPERATING = REPO / "docs" / "operating.md"
README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md")), REPO / "pillar.example"]


# -- configuration keys ------------------------------------------------------------------------
def keys_read(repo: pathlib.Path = REPO) -> dict:
    """``netgraph.*`` key -> default, as the product reads them: the binaries the netgraph
    module spawns (``_run("tool"``/``_spawn("tool"`` -> ``nf_paths.PATHS``), the time bounds
    (``_bound("kind")``, ``_bound()`` -> ``nf_paths.TIMEOUTS``) and any ``"netgraph.<key>"``
    literal given to a ``get`` (config.get, opts.get, pillar.get; default unknown: None)."""
    keys: dict = {}
    for path in (p for d in PRODUCT for p in sorted((repo / d).rglob("*.py"))):
        text = path.read_text(encoding="utf-8")
        for tool in re.findall(r"_(?:run|spawn)\(\s*[\"'](\w+)[\"']", text):
            key, default = nf_paths.PATHS[tool]
            keys[key] = default
        kinds = re.findall(r"_bound\(\s*[\"'](\w+)[\"']", text) + (["timeout"] if re.search(r"_bound\(\s*\)", text) else [])
        for kind in kinds:
            key, default = nf_paths.TIMEOUTS[kind]
            keys[key] = default
        for key in re.findall(r"get[\"'\]]*\(\s*[\"'](netgraph\.\w+)[\"']", text):
            keys.setdefault(key, None)
    return keys


def table_keys(text: str) -> dict:
    """``key -> default`` of every table row ``| `key` | `default` | what |`` of ``text``."""
    rows = re.findall(r"^\|\s*`([\w.:]+)`\s*\|\s*`([^`]*)`\s*\|", text, re.M)
    return dict(rows)


def undocumented(read: dict, documented: dict) -> list:
    """Every key read but not documented, or documented with another default."""
    out = []
    for key, default in sorted(read.items()):
        if key not in documented:
            out.append(f"{key} is not documented")
        elif default is not None and documented[key] != str(default):
            out.append(f"{key}: documented default {documented[key]!r}, the code's {default!r}")
    return out


def test_every_netgraph_key_the_code_reads_is_documented_with_its_default():
    read = keys_read()
    table = {**{k: d for k, d in nf_paths.PATHS.values() if k.startswith("netgraph.")},
             **{k: d for k, d in nf_paths.TIMEOUTS.values()}}
    assert undocumented({**table, **read}, table_keys(OPERATING.read_text(encoding="utf-8"))) == []


def test_positive_control_the_keys_are_found_in_the_code_and_a_missing_row_is_named():
    read = keys_read()
    assert {"netgraph.ngctl", "netgraph.kldload", "netgraph.kldstat", "netgraph.ipfw", "netgraph.ifconfig",
            "netgraph.flowctl", "netgraph.timeout", "netgraph.watch_timeout"} <= set(read), read
    assert read["netgraph.ngctl"] == "/usr/sbin/ngctl" and read["netgraph.watch_timeout"] == 10
    text = OPERATING.read_text(encoding="utf-8")
    assert table_keys(text)["netgraph.flowctl"] == "/usr/sbin/flowctl"
    without = "\n".join(line for line in text.splitlines() if not line.startswith("| `netgraph.flowctl`"))
    assert undocumented(read, table_keys(without)) == ["netgraph.flowctl is not documented"]
    wrong = text.replace("| `netgraph.timeout` | `60` |", "| `netgraph.timeout` | `30` |")
    assert undocumented(read, table_keys(wrong)) == ["netgraph.timeout: documented default '30', the code's 60"]


def test_positive_control_a_new_literal_key_in_the_code_is_found(tmp_path):
    mod = tmp_path / "_modules"
    mod.mkdir()
    (mod / "x.py").write_text('v = __salt__["config.get"]("netgraph.sha256", "/sbin/sha256")\n_run("ifconfig", [])\n')
    assert keys_read(tmp_path) == {"netgraph.sha256": None, "netgraph.ifconfig": "/sbin/ifconfig"}


# -- Salt's outputters -------------------------------------------------------------------------
def out_values(text: str) -> set:
    """Every outputter a command of ``text`` names (``--out=X``, ``--out X``)."""
    return set(re.findall(r"--out[= ]([A-Za-z_]\w*)", text))


@pytest.fixture(scope="module")
def outputters():
    import salt.config
    import salt.loader

    return set(salt.loader.outputters(salt.config.minion_config(None)))


def test_every_out_value_of_the_documents_is_an_outputter_of_salt(outputters):
    used = {path.name: out_values(path.read_text(encoding="utf-8")) for path in DOCS}
    assert {name: sorted(v - outputters) for name, v in used.items() if v - outputters} == {}
    assert "txt" in used["operating.md"] and "txt" in used["README.md"], "positive control: the commands are found"


def test_positive_control_an_outputter_salt_does_not_have_is_refused(outputters):
    assert out_values("salt fw1 netflow.metrics lan --out=newline_values_only") - outputters == {"newline_values_only"}
    assert {"txt", "yaml", "json"} <= outputters


# -- the README --------------------------------------------------------------------------------
INTERNAL = [(r"\bissues?\s*#?\d+", "an issue number"), (r"\bseed", "the word seed"),
            (r"\bbeside\b", "figures taken beside other jobs")]
INSTALL_COMMANDS = ("file_roots:", "saltutil.sync_all", "pip wheel --no-deps -w dist .",
                    "salt-pip install ./dist/saltext_netgraph-")


def readme_problems(text: str) -> list:
    """What the README must not do: its install section (both routes' exact commands) after
    line 60, or any talk of the project's internals."""
    lines = text.splitlines()
    problems = []
    heads = [i for i, line in enumerate(lines) if re.match(r"## Install\b", line)]
    if not heads or heads[0] >= 60:
        problems.append("no '## Install' heading within the first 60 lines")
    first = "\n".join(lines[:60])
    problems += [f"{cmd!r} is not within the first 60 lines" for cmd in INSTALL_COMMANDS if cmd not in first]
    for pattern, what in INTERNAL:
        for i, line in enumerate(lines, 1):
            if re.search(pattern, line, re.I):
                problems.append(f"line {i}: {what}: {line.strip()[:80]}")
    return problems


def test_the_readme_installs_early_and_talks_of_the_product():
    assert readme_problems(README.read_text(encoding="utf-8")) == []


def test_positive_control_a_late_install_and_internal_talk_are_named():
    good = README.read_text(encoding="utf-8")
    late = "\n".join(["filler"] * 60) + "\n" + good
    assert "no '## Install' heading within the first 60 lines" in readme_problems(late)
    bad = good + "\nAs in issue 14, the seed's script; measured beside the soak.\n"
    found = " ".join(readme_problems(bad))
    assert "an issue number" in found and "the word seed" in found and "beside other jobs" in found
