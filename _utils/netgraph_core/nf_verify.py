"""Proof of delivery (pure; no Salt): what ``salt-run netflow.verify`` computes from the
answers of the minions.

* Collector side (``nfcapd.received``): the capture files nfcapd closed within the window
  (:func:`window_files`), each read here (:func:`read_capture`): nfcapd writes, at every
  rotation, each exporter's counters of that interval (datagrams received, flows decoded,
  sequence failures) into the file it closes (nfdump 1.7 collector.c
  ``FlushExporterStats``, counters reset after each flush), so the files of the window
  sum to the window (:func:`sum_exporters`).
* Exporter side (``netflow.sent``): each exporter's collectors (where to, from which
  source, which version) and ng_netflow's counters (:func:`sent_of`).
* The expected pairs (:func:`expected_pairs`): each exporter's collector matched to the
  collector minion listening there; a pure function of the answers, so the mine's data can
  feed it later.
* The table and the exit code (:func:`report`).

Every answer comes from a minion and is checked for shape before use: a malformed answer
is reported as such, never a traceback.
"""
from __future__ import annotations

import ipaddress
import re
import struct
from typing import Any

from . import nf_model
from .ng_words import shown

WINDOW_RANGE = (1, 7 * 86400)
# nfcapd's closed files: nfcapd.YYYYMMDDhhmm (nfdump 1.7 names them by the interval start)
FILE_RE = re.compile(r"nfcapd\.\d{12}(?:\d{2})?")
# verdicts: those that fail the run (exit code 1) and those that do not
FAILING = ("NOTHING", "LOSS", "NO ANSWER", "BAD ANSWER")
PASSING = ("OK", "IDLE", "UNVERIFIED")
COLUMNS = ("EXPORTER", "COLLECTOR", "VERSION", "SENT", "RECEIVED", "DECODED", "LOST", "VERDICT")


def check_window(window: Any) -> int:
    """The window in seconds (an integer within WINDOW_RANGE), else ValueError."""
    low, high = WINDOW_RANGE
    if isinstance(window, bool) or not isinstance(window, int) or not low <= window <= high:
        raise ValueError(f"window: {shown(window)} is not an integer number of seconds {low}..{high}")
    return window


def window_files(entries: list, now: float, window: int) -> list[str]:
    """Names of nfcapd's closed capture files among ``entries`` (``[name, mtime]``) last
    written within ``window`` seconds before ``now``, oldest first. The open file
    (``nfcapd.current.*``) has no counters yet: nfcapd writes them when it closes a file."""
    found = [(mtime, name) for name, mtime in entries if FILE_RE.fullmatch(name) and now - mtime <= window]
    return [name for _, name in sorted(found)]


# nfdump 1.7's capture file (src/lib/nffileV2.h, src/include/exporter.h, src/lib/id.h)
MAGIC = 0xA50C
FILE_HEADER = 40  # fileHeaderV2_t
BLOCK_HEADER = 12  # dataBlock_t: NumRecords, size, type, flags
DATA_BLOCK_TYPE_3 = 3
FLAG_BLOCK_UNCOMPRESSED = 0x1
EXPORTER_INFO, EXPORTER_STAT = 7, 8  # ExporterInfoRecordType, ExporterStatRecordType


def _info(rec, end: str, sysids: dict) -> None:
    """exporter_info_record_t: version, ip (ip_addr_t: V4 at byte 8, else V6 as two
    host-order 64-bit halves), sa_family, sysid, id (the domain/source id)."""
    version, = struct.unpack_from(end + "I", rec, 4)
    family, sysid, domain = struct.unpack_from(end + "HHI", rec, 24)
    if family == 2:  # AF_INET
        ip = str(ipaddress.IPv4Address(struct.unpack_from(end + "I", rec, 16)[0]))
    else:
        high, low = struct.unpack_from(end + "QQ", rec, 8)
        ip = str(ipaddress.IPv6Address((high << 64) | low))
    sysids[sysid] = (ip, version, domain)


def _stats(rec, end: str, sysids: dict, total: dict) -> None:
    """exporter_stats_record_t: stat_count, then {sysid, sequence_failure, packets, flows}."""
    count, = struct.unpack_from(end + "I", rec, 4)
    for i in range(min(count, (len(rec) - 8) // 24)):
        sysid, gaps, datagrams, flows = struct.unpack_from(end + "IIQQ", rec, 8 + 24 * i)
        if sysid in sysids:
            acc = total.setdefault(sysids[sysid], [0, 0, 0])
            acc[0], acc[1], acc[2] = acc[0] + datagrams, acc[1] + flows, acc[2] + gaps


def _records(block, count: int, end: str):
    """The (type, record) of a data block's records, up to the first malformed one."""
    pos = 0
    for _ in range(count):
        if pos + 4 > len(block):
            return
        rtype, size = struct.unpack_from(end + "HH", block, pos)
        if size < 4 or pos + size > len(block):
            return
        yield rtype, block[pos:pos + size]
        pos += size


def read_capture(data) -> dict:
    """Each exporter's counters in one nfcapd capture file (bytes-like): ``{"exporters":
    [{ip, version, domain, datagrams, flows, gaps}], "unread": blocks}``. nfcapd writes,
    at each rotation, every exporter's counters of the interval (datagrams received, flows
    decoded, sequence failures) as an ExporterStat record after the ExporterInfo records
    naming them (nfdump collector.c ``FlushExporterStats``), so a file holds its
    interval's counts (two intervals when nfcapd appended to a file of the same name).
    ``unread``: compressed blocks (nfcapd -z/-y/-j, never in the argv we render), not
    read. ValueError when it is not an nfdump 1.7 file. Read here, not with ``nfdump
    -E``: 1.7.1 prints no exporter whose system id is not 1 (its list stops at the first
    empty slot), and with one source per exporter every file but the first has another."""
    if len(data) < FILE_HEADER:
        raise ValueError("not an nfdump 1.7 capture file (shorter than its header)")
    end = "<" if struct.unpack_from("<H", data, 0)[0] == MAGIC else ">"
    magic, layout = struct.unpack_from(end + "HH", data, 0)
    if magic != MAGIC or layout != 2:
        raise ValueError("not an nfdump 1.7 capture file (layout 2)")
    compression, = struct.unpack_from("B", data, 16)
    blocks, = struct.unpack_from(end + "I", data, 36)
    sysids: dict = {}
    total: dict = {}
    unread, pos = 0, FILE_HEADER
    for _ in range(blocks):
        if pos + BLOCK_HEADER > len(data):
            break
        count, size, btype, flags = struct.unpack_from(end + "IIHH", data, pos)
        block = data[pos + BLOCK_HEADER:pos + BLOCK_HEADER + size]
        pos += BLOCK_HEADER + size
        if compression and not flags & FLAG_BLOCK_UNCOMPRESSED:
            unread += 1
            continue
        for rtype, rec in _records(block, count, end) if btype == DATA_BLOCK_TYPE_3 else ():
            if rtype == EXPORTER_INFO and len(rec) >= 32:
                _info(rec, end, sysids)
            elif rtype == EXPORTER_STAT and len(rec) >= 8:
                _stats(rec, end, sysids, total)
    rows = [{"ip": ip, "version": v, "domain": d, "datagrams": c[0], "flows": c[1], "gaps": c[2]}
            for (ip, v, d), c in sorted(total.items())]
    return {"exporters": rows, "unread": unread}


def sum_exporters(per_file: list[list[dict]], ident: str | None) -> list[dict]:
    """The per-file counters of one source summed by exporter (ip, version, domain)."""
    total: dict = {}
    for rows in per_file:
        for row in rows:
            key = (row["ip"], row["version"], row["domain"])
            acc = total.setdefault(key, {"ip": row["ip"], "version": row["version"], "domain": row["domain"],
                                         "ident": ident, "datagrams": 0, "flows": 0, "gaps": 0})
            for field in ("datagrams", "flows", "gaps"):
                acc[field] += row[field]
    return [total[k] for k in sorted(total)]


def sent_of(view: dict) -> dict:
    """One exporter's answer to ``netflow.sent`` from its ``nf_status`` view: its
    collectors (host, port, version, the source address the kernel bound), the flows it
    expired (each one is a record for every collector: ``sent``, since the node was made)
    and its failed exports by version."""
    counters = view.get("counters", {})
    return {"collectors": [{"host": c["host"], "port": c["port"], "version": c["version"],
                            "source": c.get("source") or c.get("declared_source")}
                           for c in view.get("collectors", []) if c.get("connected")],
            "sent": counters.get("active_expiries", 0) + counters.get("inactive_expiries", 0),
            "failed": {"5": counters.get("v5_failed_exports", 0), "9": counters.get("v9_failed_exports", 0)},
            "health": view.get("health")}


def _ip(value: Any) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _addresses(grains: Any) -> set:
    if not isinstance(grains, dict):
        return set()
    found = [_ip(a) for key in ("ipv4", "ipv6") for a in (grains.get(key) or []) if isinstance(a, str)]
    return {a for a in found if a}


def _listens(collector: dict, host: str, port: Any) -> bool:
    """Whether a collector minion's answer listens at ``host:port``: its address, or any
    address of the minion when it listens on the unspecified one."""
    listen = collector["listen"]
    if listen.get("port") != port:
        return False
    bound = _ip(listen.get("host"))
    if bound is not None and ipaddress.ip_address(bound).is_unspecified:
        return host in collector["addresses"]
    return bound == host


# --------------------------------------------------------------------------------------
# The minions' answers, checked
# --------------------------------------------------------------------------------------
def _missing(answer: Any, fun: str) -> bool:
    """Salt's reply for a function the minion does not have (not an exporter, or not a
    collector: its module is absent or its ``__virtual__`` declined): not an error."""
    module = fun.split(".")[0]
    return answer in (None, {}) or answer == f"'{fun}' is not available." or (
        isinstance(answer, str) and answer.startswith(f"'{module}' __virtual__ returned False"))


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _exporters(answer: dict) -> dict:
    """``netflow.sent``'s answer checked: ``{"exporters": {name: {collectors, sent}}}``
    (ValueError when malformed)."""
    out = {}
    for name, entry in answer.items():
        # names matched whole: a name is printed in the table (no newline can forge a row)
        if not (isinstance(name, str) and nf_model.NAME_RE.fullmatch(name) and isinstance(entry, dict)
                and _int(entry.get("sent"))
                and isinstance(entry.get("collectors"), list)):
            raise ValueError(f"exporter {shown(name)}: malformed netflow.sent answer")
        collectors = []
        for c in entry["collectors"]:
            if not (isinstance(c, dict) and _ip(c.get("host")) and _int(c.get("port")) and c.get("version") in (5, 9)):
                raise ValueError(f"exporter {shown(name)}: malformed collector {shown(c)}")
            collectors.append({"host": _ip(c["host"]), "port": c["port"], "version": c["version"],
                               "source": _ip(c.get("source"))})
        out[name] = {"collectors": collectors, "sent": entry["sent"]}
    return {"exporters": out}


def _collector(answer: dict) -> dict:
    """``nfcapd.received``'s answer checked (ValueError when malformed)."""
    listen, rows = answer.get("listen"), answer.get("exporters")
    if not (isinstance(listen, dict) and _ip(listen.get("host")) and _int(listen.get("port"))
            and isinstance(rows, list)):
        raise ValueError("malformed nfcapd.received answer")
    for row in rows:
        ident = row.get("ident") if isinstance(row, dict) else None
        if not (isinstance(row, dict) and _ip(row.get("ip")) and row.get("version") in (5, 9, 10)
                and (ident is None or (isinstance(ident, str) and nf_model.NAME_RE.fullmatch(ident)))
                and all(_int(row.get(k)) for k in ("datagrams", "flows", "gaps"))):
            raise ValueError(f"malformed exporter row {shown(row)}")
    return {"listen": listen, "received": rows}


def checked_answers(answers: Any) -> tuple[dict, dict, dict]:
    """``{minion: {fun: answer}}`` of the runner's one compound call -> (exporters,
    collectors, bad): ``{minion: {"addresses", "exporters"}}``, ``{minion: {"listen",
    "received", "addresses"}}``, ``{minion: why}``."""
    exporters, collectors, bad = {}, {}, {}
    for minion, funs in sorted((answers or {}).items()):
        if not isinstance(funs, dict):
            bad[str(minion)] = f"answered {shown(funs)}"
            continue
        addresses = _addresses(funs.get("grains.item"))
        for fun, into, check in (("netflow.sent", exporters, _exporters), ("nfcapd.received", collectors, _collector)):
            answer = funs.get(fun)
            if _missing(answer, fun):
                continue
            try:
                if not isinstance(answer, dict):
                    raise ValueError(f"{fun}: {shown(answer, 200)}")
                into[minion] = {**check(answer), "addresses": addresses}
            except ValueError as exc:
                bad[minion] = str(exc)
    return exporters, collectors, bad


# --------------------------------------------------------------------------------------
# Pairs, verdicts, the table
# --------------------------------------------------------------------------------------
def expected_pairs(exporters: dict, collectors: dict) -> list[dict]:
    """Every (exporter, collector) pair the exporters' answers declare: each collector
    address matched to the collector minions listening there (none: ``collector`` None,
    a collector not managed here). Pure: the mine's data (collectors by minion) can feed
    it the same shape."""
    pairs = []
    for minion in sorted(exporters):
        for name, entry in sorted(exporters[minion]["exporters"].items()):
            for c in entry["collectors"]:
                found = [m for m in sorted(collectors) if _listens(collectors[m], c["host"], c["port"])]
                for cm in found or [None]:
                    pairs.append({"exporter": f"{minion}/{name}", "minion": minion, "name": name,
                                  "collector": cm, "host": c["host"], "port": c["port"], "version": c["version"],
                                  "source": c["source"], "sent": entry["sent"],
                                  "from": [c["source"]] if c["source"] else sorted(exporters[minion]["addresses"])})
    return pairs


def _verdict(row: dict) -> str:
    if row["collector"] is None:
        return "UNVERIFIED"
    if not row["flows"]:  # datagrams without a decoded flow (v9 without its template) are nothing delivered
        return "IDLE" if not row["sent"] and not row["datagrams"] else "NOTHING"
    return "LOSS" if row["gaps"] else "OK"


def judged(pair: dict, collectors: dict) -> dict:
    """A pair with what its collector received from it (rows of the exporter's source
    address, or of any of its minion's addresses when the kernel picks the source) and
    its verdict."""
    rows = [] if pair["collector"] is None else [
        r for r in collectors[pair["collector"]]["received"] if r["ip"] in pair["from"] and r["version"] == pair["version"]]
    row = {**pair, "idents": sorted({r["ident"] for r in rows if isinstance(r.get("ident"), str)}),
           **{k: sum(r[k] for r in rows) for k in ("datagrams", "flows", "gaps")}}
    row["verdict"] = _verdict(row)
    return row


def _cells(row: dict) -> list[str]:
    if row["verdict"] in ("NO ANSWER", "BAD ANSWER"):
        return [row["exporter"], row.get("collector") or "-", "-", "-", "-", "-", "-", row["verdict"]]
    where = f"{row['host']}:{row['port']}"
    collector = where if row["collector"] is None else f"{row['collector']}/{','.join(row['idents']) or '-'}"
    counted = ["-"] * 3 if row["collector"] is None else [str(row["datagrams"]), str(row["flows"]), str(row["gaps"])]
    return [row["exporter"], collector, f"v{row['version']}", str(row["sent"]), *counted, row["verdict"]]


def table(rows: list[dict]) -> str:
    """The rows as one text table under COLUMNS."""
    cells = [list(COLUMNS)] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells)


def report(answers: Any, targeted: list, window: int) -> dict:
    """The runner's result: ``table`` (text), ``pairs`` (the rows), ``retcode`` (1 when a
    pair failed (FAILING), a minion did not answer or answered nonsense, or nothing was
    there to verify), ``comment``."""
    exporters, collectors, bad = checked_answers(answers)
    rows = [judged(p, collectors) for p in expected_pairs(exporters, collectors)]
    answered = set(answers or {})
    rows += [{"exporter": str(m), "collector": None, "verdict": "NO ANSWER"} for m in sorted(targeted) if m not in answered]
    rows += [{"exporter": m, "collector": why, "verdict": "BAD ANSWER"} for m, why in sorted(bad.items())]
    failing = [r for r in rows if r["verdict"] in FAILING]
    if not rows:
        comment = "nothing to verify: no exporter answered"
    else:
        comment = f"{len(rows) - len(failing)} of {len(rows)} rows pass over the last {window} s"
    return {"table": table(rows), "comment": comment, "pairs": rows, "retcode": 1 if failing or not rows else 0}
