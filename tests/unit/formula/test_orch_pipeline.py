"""The orchestrate SLS formula/netflow/orch/pipeline.sls rendered with Salt's Jinja renderer
and a given orchestration pillar (no daemons): the five steps in the order the mine needs,
each requiring the one before; its pillar netflow_pipeline checked whole, a typo or a bad
value rendering only failing states that name the key (nothing runs). The run itself is
tests/integration/test_pipeline.py."""
from __future__ import annotations

import pathlib
import re

import pytest
import salt.config
import salt.utils.templates
import salt.utils.yaml

from netgraph_core import nf_verify

ORCH = pathlib.Path(__file__).resolve().parents[3] / "formula" / "netflow" / "orch" / "pipeline.sls"
STEPS = ["netflow-pipeline-mine-update-collectors", "netflow-pipeline-state-exporters",
         "netflow-pipeline-mine-update-exporters", "netflow-pipeline-state-collectors", "netflow-pipeline-verify"]


def render(pillar: dict) -> dict:
    opts = salt.config.minion_config(None)

    def pillar_get(key, default=None):
        return pillar.get(key, default)

    text = salt.utils.templates.render_jinja_tmpl(ORCH.read_text(), {
        "salt": {"pillar.get": pillar_get}, "opts": opts, "saltenv": "base", "sls": "netflow.orch.pipeline",
        "tpldir": "netflow/orch"})
    return salt.utils.yaml.safe_load(text) or {}


def args(state: dict) -> tuple[str, dict]:
    (fun, items), = state.items()
    merged = {}
    for item in items:
        merged.update(item)
    return fun, merged


def test_the_default_runs_the_five_steps_in_the_order_the_mine_needs():
    out = render({})
    assert list(out) == STEPS
    steps = {sid: args(state) for sid, state in out.items()}
    assert [fun for fun, _ in steps.values()] == ["salt.function", "salt.state", "salt.function", "salt.state",
                                                    "salt.runner"]
    for before, sid in zip(STEPS, STEPS[1:]):
        assert steps[sid][1]["require"] == [{"salt": before}], sid
    assert steps[STEPS[0]][1] == {"name": "mine.update", "tgt": "I@netflow:collector:*", "tgt_type": "compound"}
    assert steps[STEPS[1]][1]["tgt"] == "I@netflow:exporters:*" and steps[STEPS[1]][1]["sls"] == "netflow"
    assert steps[STEPS[2]][1]["name"] == "mine.update" and steps[STEPS[2]][1]["tgt"] == "I@netflow:exporters:*"
    assert steps[STEPS[3]][1]["tgt"] == "I@netflow:collector:*" and steps[STEPS[3]][1]["sls"] == "netflow"
    verify = steps[STEPS[4]][1]
    assert (verify["name"], verify["tgt"], verify["tgt_type"], verify["window"]) == (
        "netflow.verify", "( I@netflow:exporters:* ) or ( I@netflow:collector:* )", "compound", 300)


def test_targets_window_and_verify_from_the_orchestration_pillar():
    out = render({"netflow_pipeline": {"exporters": "fw*", "collectors": "nfcap1", "window": 900}})
    assert args(out["netflow-pipeline-state-exporters"])[1]["tgt"] == "fw*"
    assert args(out["netflow-pipeline-verify"])[1]["tgt"] == "( fw* ) or ( nfcap1 )"
    assert args(out["netflow-pipeline-verify"])[1]["window"] == 900
    out = render({"netflow_pipeline": {"verify": False}})
    assert list(out) == STEPS[:4]


@pytest.mark.parametrize("given, key", [
    ({"exporter": "fw*"}, "netflow_pipeline:exporter"),
    ({"window": True}, "netflow_pipeline:window"),
    ({"window": 0}, "netflow_pipeline:window"),
    ({"window": 604801}, "netflow_pipeline:window"),
    ({"window": "900"}, "netflow_pipeline:window"),
    ({"exporters": ""}, "netflow_pipeline:exporters"),
    ({"collectors": ["nfcap1"]}, "netflow_pipeline:collectors"),
    ({"verify": "yes"}, "netflow_pipeline:verify"),
    ({"x\nevil:\n  cmd.run:\n    - name: touch /tmp/PWN": 1}, "netflow_pipeline:x\nevil"),
    ("fw*", "netflow_pipeline"),
], ids=["typo", "window-bool", "window-zero", "window-high", "window-string", "exporters-empty",
        "collectors-list", "verify-string", "key-yaml-injection", "not-a-mapping"])
def test_a_bad_orchestration_pillar_renders_only_refusals(given, key):
    out = render({"netflow_pipeline": given})
    assert out and all(sid.startswith("netflow-pipeline-refused-") for sid in out), list(out)
    refusals = [args(state) for state in out.values()]
    assert all(fun == "test.fail_without_changes" for fun, _ in refusals)
    assert any(a["name"].startswith(key) and a["comment"].startswith("refused, nothing run: " + key)
               for _, a in refusals), refusals


def test_the_window_range_is_the_runners():
    """The orchestration checks the window before anything runs: its bounds are netflow.verify's."""
    low, high = map(int, re.search(r"(\d+) <= given\.window <= (\d+)", ORCH.read_text()).groups())
    assert (low, high) == nf_verify.WINDOW_RANGE
