"""nf_verify, the pure side of ``salt-run netflow.verify``: nfcapd's capture files read,
the window's files, the expected pairs from the minions' answers, the verdicts, the table and
the exit code; malformed answers are reported, never raised."""
from __future__ import annotations

import ipaddress
import struct

import pytest

from netgraph_core import nf_verify

def info_record(sysid: int, ip: str, version: int = 9, domain: int = 0) -> bytes:
    """exporter_info_record_t (src/include/exporter.h) as nfcapd writes it on amd64."""
    addr = ipaddress.ip_address(ip)
    if addr.version == 4:
        raw, family = struct.pack("<QII", 0, int(addr), 0), 2
    else:
        raw, family = struct.pack("<QQ", int(addr) >> 64, int(addr) & (2 ** 64 - 1)), 10
    return struct.pack("<HHI", 7, 32, version) + raw + struct.pack("<HHI", family, sysid, domain)


def stat_record(*stats) -> bytes:
    """exporter_stats_record_t: (sysid, sequence failures, datagrams, flows) each."""
    body = b"".join(struct.pack("<IIQQ", *st) for st in stats)
    return struct.pack("<HHI", 8, 8 + len(body), len(stats)) + body


def flow_record() -> bytes:
    return struct.pack("<HH", 11, 12) + bytes(8)  # a V3 flow record: skipped


def block(*records: bytes, flags: int = 0) -> bytes:
    body = b"".join(records)
    return struct.pack("<IIHH", len(records), len(body), 3, flags) + body


def capture(*blocks: bytes, compression: int = 0) -> bytes:
    """fileHeaderV2_t (src/lib/nffileV2.h) then the data blocks."""
    head = struct.pack("<HHIqBBHIqII", 0xA50C, 2, 0x01070100, 0, compression, 0, 0, 0, 0, 5 * 1024 * 1024,
                       len(blocks))
    assert len(head) == nf_verify.FILE_HEADER
    return head + b"".join(blocks)


def test_read_capture_maps_each_stat_to_its_exporter_whatever_its_system_id():
    data = capture(block(info_record(2, "127.0.0.3"), info_record(5, "2001:db8::7", domain=3), flow_record(),
                         flow_record(), stat_record((2, 1, 3, 69), (5, 0, 1, 4), (9, 0, 9, 9))))
    assert nf_verify.read_capture(data) == {"unread": 0, "exporters": [
        {"ip": "127.0.0.3", "version": 9, "domain": 0, "datagrams": 3, "flows": 69, "gaps": 1},
        {"ip": "2001:db8::7", "version": 9, "domain": 3, "datagrams": 1, "flows": 4, "gaps": 0}]}


def test_read_capture_sums_an_appended_file_with_its_own_system_ids():
    """nfcapd appends to a file of the same name (RenameAppend): the second run's ids may
    name other exporters; each stat record counts for the info records before it."""
    data = capture(block(info_record(1, "127.0.0.2"), stat_record((1, 0, 3, 69))),
                   block(info_record(1, "127.0.0.3"), info_record(2, "127.0.0.2"), stat_record((1, 0, 2, 48), (2, 1, 2, 45))))
    rows = {r["ip"]: (r["datagrams"], r["flows"], r["gaps"]) for r in nf_verify.read_capture(data)["exporters"]}
    assert rows == {"127.0.0.2": (5, 114, 1), "127.0.0.3": (2, 48, 0)}


def test_read_capture_counts_compressed_blocks_unread_and_refuses_other_files():
    data = capture(block(info_record(1, "127.0.0.2"), stat_record((1, 0, 3, 69))), compression=1)
    assert nf_verify.read_capture(data) == {"exporters": [], "unread": 1}
    uncompressed = capture(block(info_record(1, "127.0.0.2"), stat_record((1, 0, 3, 69)), flags=1), compression=1)
    assert nf_verify.read_capture(uncompressed)["exporters"][0]["flows"] == 69  # control: a block stored plain is read
    for junk in (b"\x0c\xa5\x01\x00" + bytes(60), b"#!/bin/sh\n" + bytes(40), b"\x0c\xa5\x02\x00", b""):
        with pytest.raises(ValueError):
            nf_verify.read_capture(junk)
    truncated = capture(block(info_record(1, "127.0.0.2"), stat_record((1, 0, 3, 69))))[:-30]
    assert nf_verify.read_capture(truncated)["exporters"] == []  # a cut record is not read


def test_sum_exporters_sums_the_files_of_one_source_by_exporter():
    one = nf_verify.read_capture(capture(block(info_record(1, "127.0.0.2"), info_record(2, "::1"),
                                               stat_record((1, 2, 3, 69), (2, 0, 1, 4)))))["exporters"]
    total = nf_verify.sum_exporters([one, one[:1]], "fw1")
    assert total[0] == {"ip": "127.0.0.2", "version": 9, "domain": 0, "ident": "fw1", "datagrams": 6, "flows": 138,
                        "gaps": 4}
    assert [r["ip"] for r in total] == ["127.0.0.2", "::1"]


def test_window_files_takes_closed_files_of_the_window_oldest_first():
    entries = [["nfcapd.202612071430", 990.0], ["nfcapd.202612071425", 700.0], ["nfcapd.202612071420", 600.0],
               ["nfcapd.current.1234", 999.0], ["nfcapd.202612071435.x", 999.0], ["notes.txt", 999.0],
               ["nfcapd.20261207143501", 995.0], [".nfstat", 999.0]]
    assert nf_verify.window_files(entries, 1000.0, 300) == ["nfcapd.202612071425", "nfcapd.202612071430",
                                                            "nfcapd.20261207143501"]


@pytest.mark.parametrize("window", [0, -5, 7 * 86400 + 1, True, "300", 300.5, None])
def test_check_window_refuses_what_is_not_seconds(window):
    with pytest.raises(ValueError, match="window"):
        nf_verify.check_window(window)
    assert nf_verify.check_window(300) == 300  # control


def view(collectors, act=3, inact=40, health="ok"):
    return {"collectors": collectors, "health": health,
            "counters": {"active_expiries": act, "inactive_expiries": inact, "v9_failed_exports": 1}}


def test_sent_of_takes_connected_collectors_and_expiries():
    coll = [{"host": "127.0.0.1", "port": 2055, "version": 9, "source": "127.0.0.2", "connected": True},
            {"host": "192.0.2.9", "port": 2055, "version": 5, "source": None, "declared_source": None,
             "connected": False}]
    assert nf_verify.sent_of(view(coll)) == {
        "collectors": [{"host": "127.0.0.1", "port": 2055, "version": 9, "source": "127.0.0.2"}],
        "sent": 43, "failed": {"5": 0, "9": 1}, "health": "ok"}


def exporter(source, sent=43, host="127.0.0.1", port=2055, version=9):
    return {"lan": {"collectors": [{"host": host, "port": port, "version": version, "source": source}],
                    "sent": sent, "failed": {"5": 0, "9": 0}, "health": "ok"}}


def collector(rows, host="127.0.0.1", port=2055):
    return {"listen": {"host": host, "port": port}, "window": 300, "files": 2, "exporters": rows}


def row(ip, datagrams=3, flows=69, gaps=0, ident="fw1"):
    return {"ip": ip, "version": 9, "domain": 0, "ident": ident, "datagrams": datagrams, "flows": flows, "gaps": gaps}


NA = "'{}' is not available."


def answers(**over):
    base = {
        "fw1": {"netflow.sent": exporter("127.0.0.2"), "nfcapd.received": {}, "grains.item": {"ipv4": ["10.0.0.1"]}},
        "fw2": {"netflow.sent": exporter("127.0.0.3"), "nfcapd.received": {}, "grains.item": {"ipv4": ["10.0.0.2"]}},
        "cap": {"netflow.sent": NA.format("netflow.sent"), "grains.item": {"ipv4": ["127.0.0.1"]},
                "nfcapd.received": collector([row("127.0.0.2"), row("127.0.0.3", ident="fw2")])},
    }
    base.update(over)
    return base


def verdicts(out):
    return {r["exporter"]: r["verdict"] for r in out["pairs"]}


def test_both_pairs_ok_exit_0_and_the_table_names_the_idents():
    out = nf_verify.report(answers(), ["fw1", "fw2", "cap"], 300)
    assert verdicts(out) == {"fw1/lan": "OK", "fw2/lan": "OK"} and out["retcode"] == 0
    lines = out["table"].splitlines()
    assert lines[0].split() == list(nf_verify.COLUMNS)
    assert lines[1].split() == ["fw1/lan", "cap/fw1", "v9", "43", "3", "69", "0", "OK"]
    assert lines[2].split() == ["fw2/lan", "cap/fw2", "v9", "43", "3", "69", "0", "OK"]


def test_a_sequence_gap_is_loss_and_fails_the_run():
    cap = answers()["cap"]
    cap = {**cap, "nfcapd.received": collector([row("127.0.0.2", gaps=1), row("127.0.0.3", ident="fw2")])}
    out = nf_verify.report(answers(cap=cap), ["fw1", "fw2", "cap"], 300)
    assert verdicts(out) == {"fw1/lan": "LOSS", "fw2/lan": "OK"} and out["retcode"] == 1


def test_nothing_received_fails_unless_nothing_was_sent():
    cap = {**answers()["cap"], "nfcapd.received": collector([row("127.0.0.3", ident="fw2")])}
    out = nf_verify.report(answers(cap=cap), ["fw1", "fw2", "cap"], 300)
    assert verdicts(out)["fw1/lan"] == "NOTHING" and out["retcode"] == 1
    fw1 = {**answers()["fw1"], "netflow.sent": exporter("127.0.0.2", sent=0)}
    out = nf_verify.report(answers(cap=cap, fw1=fw1), ["fw1", "fw2", "cap"], 300)
    assert verdicts(out)["fw1/lan"] == "IDLE" and out["retcode"] == 0


def test_datagrams_without_a_decoded_flow_are_nothing():
    """v9 data before its template: nfcapd counts the datagrams, decodes no flow."""
    cap = {**answers()["cap"], "nfcapd.received": collector([row("127.0.0.2", datagrams=4, flows=0),
                                                             row("127.0.0.3", ident="fw2")])}
    out = nf_verify.report(answers(cap=cap), ["fw1", "fw2", "cap"], 300)
    assert verdicts(out) == {"fw1/lan": "NOTHING", "fw2/lan": "OK"} and out["retcode"] == 1


def test_without_a_source_the_exporter_minions_addresses_are_matched():
    fw1 = {**answers()["fw1"], "netflow.sent": exporter(None)}
    cap = {**answers()["cap"], "nfcapd.received": collector([row("10.0.0.1"), row("127.0.0.3", ident="fw2")])}
    assert verdicts(nf_verify.report(answers(fw1=fw1, cap=cap), [], 300))["fw1/lan"] == "OK"


def test_a_collector_listening_on_any_address_is_found_by_the_minions_addresses():
    cap = {**answers()["cap"], "nfcapd.received": collector([row("127.0.0.2")], host="0.0.0.0")}
    out = nf_verify.report(answers(cap=cap), [], 300)
    assert verdicts(out)["fw1/lan"] == "OK"
    assert out["pairs"][0]["collector"] == "cap"


def test_a_collector_not_managed_here_is_unverified_and_does_not_fail():
    fw1 = {**answers()["fw1"], "netflow.sent": exporter("127.0.0.2", host="192.0.2.10")}
    out = nf_verify.report(answers(fw1=fw1), [], 300)
    assert verdicts(out)["fw1/lan"] == "UNVERIFIED" and out["retcode"] == 0
    assert "192.0.2.10:2055" in out["table"]


def test_a_silent_targeted_minion_fails_and_nothing_to_verify_fails():
    out = nf_verify.report(answers(), ["fw1", "fw2", "cap", "fw3"], 300)
    assert verdicts(out)["fw3"] == "NO ANSWER" and out["retcode"] == 1
    out = nf_verify.report({}, [], 300)
    assert out["retcode"] == 1 and out["pairs"] == [] and "nothing to verify" in out["comment"]


@pytest.mark.parametrize("bad", [
    "ERROR: netflow: ngctl did not finish",
    {"lan": {"collectors": [{"host": "127.0.0.1; rm -rf /", "port": 2055, "version": 9}], "sent": 1}},
    {"lan": {"collectors": [{"host": "127.0.0.1", "port": "2055", "version": 9}], "sent": 1}},
    {"lan": {"collectors": "x", "sent": 1}},
    {"lan": {"collectors": [], "sent": -1}},
    {("tuple",): {}},
    {"lan\nfw9/lan  cap/fw9  v9  1  1  1  0  OK": {"collectors": [], "sent": 1}},
    ["not", "a", "mapping"],
])
def test_a_malformed_exporter_answer_is_a_bad_answer_never_a_traceback(bad):
    out = nf_verify.report(answers(fw1={**answers()["fw1"], "netflow.sent": bad}), ["fw1", "fw2", "cap"], 300)
    assert verdicts(out)["fw1"] == "BAD ANSWER" and verdicts(out)["fw2/lan"] == "OK" and out["retcode"] == 1
    assert "BAD ANSWER" in out["table"]


@pytest.mark.parametrize("bad", [
    {"listen": {"host": "nfcap1.example.com", "port": 2055}, "exporters": []},
    {"listen": {"host": "127.0.0.1", "port": 2055}, "exporters": [{"ip": "127.0.0.2", "version": 9}]},
    {"listen": {"host": "127.0.0.1", "port": 2055}, "exporters": [row("127.0.0.2", gaps=-1)]},
    {"listen": "127.0.0.1:2055", "exporters": []},
    {"listen": {"host": "127.0.0.1", "port": 2055}, "exporters": [row("127.0.0.2", ident="fw1\nfw9")]},
])
def test_a_malformed_collector_answer_is_a_bad_answer(bad):
    out = nf_verify.report(answers(cap={**answers()["cap"], "nfcapd.received": bad}), [], 300)
    assert verdicts(out)["cap"] == "BAD ANSWER" and out["retcode"] == 1
    assert verdicts(out)["fw1/lan"] == "UNVERIFIED"  # its collector's answer is not used


def test_a_minion_without_our_modules_is_neither_side():
    other = {"netflow.sent": "'netflow' __virtual__ returned False: netflow: needs FreeBSD",
             "nfcapd.received": NA.format("nfcapd.received"), "grains.item": {}}
    out = nf_verify.report(answers(web1=other), ["fw1", "fw2", "cap", "web1"], 300)
    assert set(verdicts(out)) == {"fw1/lan", "fw2/lan"} and out["retcode"] == 0
