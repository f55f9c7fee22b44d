"""_utils/nf_record.py: the write-ahead claim that keeps an exporter ours when its run was
killed between its batch and its record (issue 19, I4)."""
from __future__ import annotations

import pytest

from netgraph_core import nf_record

PARAMS = {"interfaces": ["em0"], "collectors": [{"host": "127.0.0.1", "port": 2055}]}


def test_a_claim_is_listed_until_a_present_records(tmp_path):
    d = str(tmp_path / "netflow")
    assert nf_record.claimed(d) == [], "positive control: nothing claimed, no directory"
    nf_record.claim(d, "lan")
    nf_record.claim(d, "lan")  # idempotent
    assert nf_record.claimed(d) == ["lan"]
    assert oct((tmp_path / "netflow" / "lan.claim").stat().st_mode & 0o777) == "0o600"
    nf_record.remember(d, "lan", PARAMS, 1.0)
    assert nf_record.claimed(d) == [] and set(nf_record.load_declarations(d)[0]) == {"lan"}


def test_an_absent_removes_the_claim_even_without_a_record(tmp_path):
    d = str(tmp_path / "netflow")
    nf_record.claim(d, "dmz")
    assert nf_record.remember(d, "dmz", None, 1.0) is False, "no record to remove"
    assert nf_record.claimed(d) == []


def test_an_unchanged_record_still_removes_the_claim(tmp_path):
    d = str(tmp_path / "netflow")
    nf_record.remember(d, "lan", PARAMS, 1.0)
    nf_record.claim(d, "lan")
    assert nf_record.remember(d, "lan", dict(PARAMS), 2.0) is False
    assert nf_record.claimed(d) == []


@pytest.mark.parametrize("name", ["../x", "a b", "", "x" * 200])
def test_a_claim_names_only_an_exporter(tmp_path, name):
    with pytest.raises(ValueError):
        nf_record.claim(str(tmp_path), name)
    assert not list(tmp_path.iterdir())


def test_files_that_are_not_claims_are_ignored(tmp_path):
    (tmp_path / "lan.json").write_text("{}")
    (tmp_path / "bad name.claim").write_text("")
    (tmp_path / "wan.claim").write_text("wan\n")
    assert nf_record.claimed(str(tmp_path)) == ["wan"]


def test_the_beacon_validates_a_record_once_then_again_when_it_changes(tmp_path, monkeypatch):
    d, context = str(tmp_path / "netflow"), {}
    nf_record.remember(d, "lan", PARAMS, 1.0)
    nf_record.remember(d, "dmz", {**PARAMS, "interfaces": ["em1"]}, 1.0)
    calls = []
    real = nf_record.declaration_load
    monkeypatch.setattr(nf_record, "declaration_load", lambda text, name: calls.append(name) or real(text, name))
    first = nf_record.load_declarations(d, None, context)
    assert sorted(calls) == ["dmz", "lan"], "positive control: the first read validates"
    first[0]["lan"]["interfaces"][0]["name"] = "changed"  # a caller's edit never reaches the cache
    first[0]["lan"]["timeouts"]["active"] = 1
    again = nf_record.load_declarations(d, None, context)
    assert sorted(calls) == ["dmz", "lan"] and again == nf_record.load_declarations(d)
    context[nf_record.CACHE_KEY]["lan"] = context[nf_record.CACHE_KEY]["lan"][:2]  # an older release's entry
    calls.clear()
    assert nf_record.load_declarations(d, None, context) == again and calls == ["lan"]
    nf_record.remember(d, "lan", {**PARAMS, "mtu": 1400}, 2.0)  # a new text: validated again
    calls.clear()
    assert nf_record.load_declarations(d, None, context)[0]["lan"]["mtu"] == 1400 and calls == ["lan"]
    (tmp_path / "netflow" / "dmz.json").write_text("{not json")
    found, bad = nf_record.load_declarations(d, None, context)
    assert set(found) == {"lan"} and "dmz" in bad and set(context[nf_record.CACHE_KEY]) == {"lan"}
    nf_record.remember(d, "lan", None, 3.0)
    assert nf_record.load_declarations(d, None, context) == ({}, {"dmz": bad["dmz"]})
    assert context[nf_record.CACHE_KEY] == {}


def test_a_record_holding_the_same_parameters_is_kept_without_validating_either(tmp_path, monkeypatch):
    """remember: the same parameters, word for word, keep the record with no validation;
    parameters written otherwise that validate alike keep it too, validated (the positive
    control that the comparison ran); other parameters, or the same words in other types,
    rewrite it."""
    d = str(tmp_path / "netflow")
    assert nf_record.remember(d, "lan", PARAMS, 1.0) is True
    path = tmp_path / "netflow" / "lan.json"
    first = path.read_text()
    calls = []
    real = nf_record.nf_model.validate
    monkeypatch.setattr(nf_record.nf_model, "validate", lambda params: calls.append(params) or real(params))
    assert nf_record.remember(d, "lan", {**PARAMS, "__pub_jid": "1"}, 2.0) is False and calls == []
    assert path.read_text() == first
    spelled = {**PARAMS, "collectors": [{"host": "127.0.0.1", "port": 2055, "version": 9}]}  # the default, written out
    assert nf_record.remember(d, "lan", spelled, 3.0) is False and len(calls) == 2, "validated both to compare"
    assert path.read_text() == first
    calls.clear()
    assert nf_record.remember(d, "lan", {**PARAMS, "mtu": 1400}, 4.0) is True and len(calls) == 2
    assert nf_record.remember(d, "lan", {**PARAMS, "mtu": 1400.0}, 5.0) is True, "1400.0 is not JSON's 1400: compared validated"
    assert nf_record._holds(first, "lan", {**PARAMS, "when": object()}) is False  # JSON cannot write it
    assert nf_record._holds("{not json", "lan", PARAMS) is False and nf_record._holds(first, "lan", PARAMS) is True
    assert nf_record._holds(first, "dmz", PARAMS) is False, "another exporter's record"


def test_the_last_declaration_is_the_validated_one_and_needs_no_validation_when_it_holds_the_parameters(tmp_path):
    d = str(tmp_path / "netflow")
    cfg = nf_record.nf_model.validate({**PARAMS, "name": "lan"})
    assert nf_record.last_declaration(d, "lan", PARAMS, cfg) is None, "no record yet"
    nf_record.remember(d, "lan", PARAMS, 1.0)
    assert nf_record.last_declaration(d, "lan", PARAMS, cfg) is cfg, "the same parameters: the caller's validation"
    other = {**PARAMS, "mtu": 1400}
    got = nf_record.last_declaration(d, "lan", other, nf_record.nf_model.validate({**other, "name": "lan"}))
    assert got == cfg and got is not cfg, "positive control: other parameters, the record validated"
    (tmp_path / "netflow" / "lan.json").write_text("{not json")
    assert nf_record.last_declaration(d, "lan", PARAMS, cfg) is None
