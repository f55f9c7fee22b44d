"""A collector named by its Salt minion (``{minion: nfcap1, port: 2055}``): checked whole by
nf_params, its address chosen by nf_resolve from the minion's mine data (passed in as data),
and the record keeps the address. Hostile ids and mine data are refused naming the key,
each refusal next to a positive control that the same call otherwise resolves.
"""
from __future__ import annotations

import pytest
from netgraph_core import nf_args, nf_model, nf_resolve

MINE = {"nfcap1": {"ip4_interfaces": {"lo": ["127.0.0.1"], "eth0": ["192.0.2.10", "192.0.2.9"],
                                      "eth1": ["198.51.100.7"]},
                   "ip6_interfaces": {"lo": ["::1"], "eth0": ["fe80::1", "2001:db8::10"]}}}


def mine_of(data: dict):
    """Salt's ``mine.get`` of ``data``: the ids asked (a list, ``tgt_type=list``), each matched whole."""
    asked = []

    def get(tgt, fun, tgt_type="glob"):
        assert (fun, tgt_type) == ("netflow_addresses", "list")
        asked.append(list(tgt))
        return {m: data[m] for m in tgt if m in data}
    get.asked = asked
    return get


def resolved(*collectors, data=None) -> list[dict]:
    cfg = nf_args.validated("lan", {"interfaces": ["em0"], "collectors": list(collectors)}, None,
                            mine_of(MINE if data is None else data))
    return cfg["collectors"]


def test_a_minion_collector_resolves_to_the_lowest_address_of_its_family():
    (c,) = resolved({"minion": "nfcap1", "port": 2055})
    assert (c["address"], c["family"], c["port"], c["version"]) == ("192.0.2.9", "inet", 2055, 9)
    (c6,) = resolved({"minion": "nfcap1", "port": 2055, "family": "inet6"})
    assert (c6["address"], c6["family"]) == ("2001:db8::10", "inet6"), "link-local fe80:: is never chosen"
    assert nf_model.ksocket_hook(c6) == "inet6/dgram/17"


def test_interface_and_source_choose_the_address():
    (c,) = resolved({"minion": "nfcap1", "port": 2055, "interface": "eth1"})
    assert c["address"] == "198.51.100.7"
    (lo,) = resolved({"minion": "nfcap1", "port": 2055, "source": "127.0.0.1"})
    assert lo["address"] == "127.0.0.1", "a loopback source gets the loopback collector address"


def test_the_mine_is_asked_once_for_the_named_ids_only_and_not_at_all_without_minions():
    read = mine_of(MINE)
    nf_args.validated("lan", {"interfaces": ["em0"], "collectors": [
        {"minion": "nfcap1", "port": 2055}, {"minion": "nfcap1", "port": 2056, "version": 5}]}, None, read)
    assert read.asked == [["nfcap1"]]
    nf_args.validated("lan", {"interfaces": ["em0"], "collectors": [{"host": "192.0.2.1", "port": 1}]}, None, read)
    assert read.asked == [["nfcap1"]], "no minion collector: no mine.get"


def test_the_record_keeps_the_address_not_the_minion():
    params = {"interfaces": ["em0"], "collectors": [{"minion": "nfcap1", "port": 2055, "interface": "eth1"}]}
    cfg = nf_args.validated("lan", params, None, mine_of(MINE))
    assert nf_resolve.pinned(params, cfg)["collectors"] == [{"port": 2055, "host": "198.51.100.7"}]
    # the pinned parameters validate again with no mine at all (the beacon's heal, the boot file)
    again = nf_args.validated("lan", nf_resolve.pinned(params, cfg), None, None)
    assert again["collectors"][0]["address"] == "198.51.100.7"


@pytest.mark.parametrize("collector, key", [
    ({"minion": "nfcap*", "port": 2055}, "collectors[0].minion"),
    ({"minion": "nfcap1,fw1", "port": 2055}, "collectors[0].minion"),
    ({"minion": "nfcap1\n", "port": 2055}, "collectors[0].minion"),
    ({"minion": ["nfcap1"], "port": 2055}, "collectors[0].minion"),
    ({"minion": "nfcap1", "port": 2055, "host": "192.0.2.1"}, "collectors[0]: host and minion"),
    ({"minion": "nfcap1", "port": 2055, "family": "inet7"}, "collectors[0].family"),
    ({"minion": "nfcap1", "port": 2055, "interface": "eth0;reboot"}, "collectors[0].interface"),
    ({"minion": "nfcap1", "port": 70000}, "collectors[0].port"),
    ({"minion": "nfcap1", "port": 2055, "family": "inet6", "source": "10.0.0.1"}, "collectors[0].family"),
    ({"host": "192.0.2.1", "port": 2055, "interface": "eth0"}, "collectors[0].interface: only with minion"),
    ({"minion": "nfcap2", "port": 2055}, "collectors[0].minion: 'nfcap2' has no netflow_addresses"),
    ({"minion": "nfcap1", "port": 2055, "interface": "eth9"}, "collectors[0].interface: minion 'nfcap1' has no"),
    ({"minion": "nfcap1", "port": 2055, "interface": "eth1", "family": "inet6"}, "collectors[0].interface"),
])
def test_a_bad_minion_collector_is_refused_naming_the_key(collector, key):
    with pytest.raises(nf_model.ValidationError) as err:
        resolved(collector)
    assert key in str(err.value), str(err.value)
    # control: the same collector as a plain minion one resolves
    assert resolved({"minion": "nfcap1", "port": 2055})[0]["address"] == "192.0.2.9"


@pytest.mark.parametrize("data", [
    {"nfcap1": {}},
    {"nfcap1": "not a mapping"},
    {"nfcap1": {"ip4_interfaces": {"eth0": ["fe80::1", "0.0.0.0", "224.0.0.1", "$(reboot)", 7, None]}}},
    {"nfcap1": {"ip4_interfaces": ["192.0.2.9"]}},
    {"nfcap1": {"ip4_interfaces": {"lo": ["127.0.0.1"]}}},
])
def test_hostile_or_empty_mine_data_gives_no_address_and_a_refusal(data):
    with pytest.raises(nf_model.ValidationError) as err:
        resolved({"minion": "nfcap1", "port": 2055}, data=data)
    assert "collectors[0].minion: 'nfcap1'" in str(err.value) and "nothing was changed" in str(err.value)
    # control: one good address among the garbage is found
    good = {"nfcap1": {"ip4_interfaces": {"eth0": ["$(reboot)", 7, "192.0.2.33"]}}}
    assert resolved({"minion": "nfcap1", "port": 2055}, data=good)[0]["address"] == "192.0.2.33"


def test_two_minion_collectors_on_one_address_are_duplicates():
    with pytest.raises(nf_model.ValidationError, match=r"collectors\[1\]: collector 192.0.2.9:2055 v9 is listed twice"):
        resolved({"minion": "nfcap1", "port": 2055}, {"host": "192.0.2.9", "port": 2055})


def test_the_formula_refuses_a_hostile_minion_collector_naming_the_key_and_accepts_a_good_one():
    from netgraph_core import nf_pillar

    def decide(collector):
        return nf_pillar.decide({"exporters": {"lan": {"interfaces": ["em0"], "collectors": [collector]}},
                                 "collector": {"sources": "mine"}}, None, {}, [])

    bad = decide({"minion": "nfcap1 nfcap2", "port": 2055})
    assert bad["exporters"] == [] and any("collectors[0].minion" in e["comment"] for e in bad["errors"]), bad["errors"]
    good = decide({"minion": "nfcap1", "port": 2055})
    assert good["errors"] == [] and good["exporters"][0][0] == "lan", "control: a good id (and sources: mine) pass"


def test_the_glue_reader_asks_mine_get_with_a_list_and_a_failure_is_a_named_refusal():
    calls = []

    def get(tgt, fun, tgt_type="glob"):
        calls.append((tgt, fun, tgt_type))
        return MINE

    assert nf_args.mine_reader(get)(["nfcap1"]) == MINE and calls == [(["nfcap1"], "netflow_addresses", "list")]

    def down(*_args, **_kw):
        raise OSError("master unreachable")

    with pytest.raises(nf_model.ValidationError, match=r"collectors\[0\]\.minion: 'nfcap1' has no netflow_addresses"):
        nf_args.validated("lan", {"interfaces": ["em0"], "collectors": [{"minion": "nfcap1", "port": 1}]}, None, down)
    assert nf_args.mine_reader(lambda *a, **k: "not a mapping")(["nfcap1"]) == {}
