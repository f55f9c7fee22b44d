"""The ``netflow`` runner through Salt's own runner loader (master opts, ``runner_dirs``):
hostile arguments are refused before anything is sent to a minion; a good call asks each
function once, judges the answers and sets ``retcode`` both in the return (what salt-run
exits with) and in ``__context__`` (what the ``salt.runner`` state reads). The minions are
a stand-in LocalClient here; tests/integration/test_verify.py runs it against real ones."""
from __future__ import annotations

import pathlib

import pytest
import salt.client
import salt.config
import salt.loader
import salt.utils.minions
from salt.exceptions import SaltInvocationError

REPO = pathlib.Path(__file__).resolve().parents[3]


class Client:
    """LocalClient.cmd's answers by function; records every call."""

    def __init__(self, answers: dict):
        self.answers, self.calls = answers, []

    def cmd(self, tgt, fun, arg=(), timeout=None, tgt_type="glob", **kwargs):
        self.calls.append((tgt, fun, list(arg), tgt_type))
        return {m: funs[fun] for m, funs in self.answers.items() if fun in funs}


@pytest.fixture
def runner(tmp_path, monkeypatch):
    opts = salt.config.master_config(None)
    opts.update({"cachedir": str(tmp_path / "cache"), "extension_modules": str(tmp_path / "extmods"),
                 "runner_dirs": [str(REPO / "_runners")], "utils_dirs": [str(REPO / "_utils")]})
    context: dict = {}
    runners = salt.loader.runner(opts, utils=salt.loader.utils(opts), context=context)
    monkeypatch.setattr(salt.utils.minions.CkMinions, "check_minions",
                        lambda self, tgt, tgt_type="glob", **kw: {"minions": ["fw1", "cap"]})

    def run(answers, **kwargs):
        client = Client(answers)
        monkeypatch.setattr(salt.client, "get_local_client", lambda *a, **kw: client)
        return runners["netflow.verify"](**kwargs), client, context
    return run


EXPORTER = {"lan": {"collectors": [{"host": "127.0.0.1", "port": 2055, "version": 9, "source": "127.0.0.2"}],
                    "sent": 69, "failed": {"5": 0, "9": 0}, "health": "ok"}}


def answers(gaps=0):
    received = {"listen": {"host": "127.0.0.1", "port": 2055}, "window": 300, "files": 1, "unread": 0,
                "exporters": [{"ip": "127.0.0.2", "version": 9, "domain": 0, "ident": "fw1", "datagrams": 3,
                               "flows": 69, "gaps": gaps}]}
    return {"fw1": {"netflow.sent": EXPORTER, "nfcapd.received": {}, "grains.item": {"ipv4": ["10.0.0.1"]}},
            "cap": {"netflow.sent": "'netflow' __virtual__ returned False: needs FreeBSD",
                    "nfcapd.received": received, "grains.item": {"ipv4": ["127.0.0.1"]}}}


@pytest.mark.parametrize("kwargs, word", [
    ({"window": "300; rm -rf /"}, "window"), ({"window": 0}, "window"), ({"window": True}, "window"),
    ({"tgt": ""}, "tgt"), ({"tgt": "x" * 1001}, "tgt"), ({"tgt": {"a": 1}}, "tgt"), ({"tgt": ["fw1", 3]}, "tgt"),
    ({"tgt_type": "glob; id"}, "tgt_type"), ({"timeout": 0}, "timeout"), ({"timeout": "60"}, "timeout"),
])
def test_hostile_arguments_are_refused_and_nothing_is_sent(runner, kwargs, word):
    with pytest.raises(SaltInvocationError, match=word):
        runner(answers(), **kwargs)
    out, client, _ = runner(answers())  # control: the same runner without the bad argument asks the minions
    assert client.calls and out["retcode"] == 0


def test_ok_asks_each_function_once_and_returns_exit_0(runner):
    out, client, context = runner(answers(), tgt="fw1,cap", tgt_type="list", window=600)
    assert [c[1] for c in client.calls] == ["netflow.sent", "nfcapd.received", "grains.item"]
    assert client.calls[1][2] == ["window=600"] and all(c[0] == "fw1,cap" and c[3] == "list" for c in client.calls)
    assert out["retcode"] == 0 and context["retcode"] == 0 and "pairs" not in out
    assert out["table"].splitlines()[1].split() == ["fw1/lan", "cap/fw1", "v9", "69", "3", "69", "0", "OK"]


def test_loss_sets_the_exit_code_in_the_return_and_the_context(runner):
    out, _, context = runner(answers(gaps=1), details=True)
    assert out["retcode"] == 1 and context["retcode"] == 1
    assert [r["verdict"] for r in out["pairs"]] == ["LOSS"]
