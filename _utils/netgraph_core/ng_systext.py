"""kldstat's, ipfw's and ifconfig's text formats, parsed into plain data (pure; no Salt):
``sbin/kldstat``, ``sbin/ipfw`` (``ipfw list``) and ``sbin/ifconfig`` (``ifconfig -l``), with
the same clean-up and the same refusal of text that is not FreeBSD's as ``ng_text``.
"""
from __future__ import annotations

import re

from .ng_text import clean_lines, excerpt


# ---------------------------------------------------------------------------
# kldstat / ipfw
# ---------------------------------------------------------------------------

# kldstat's line kinds (sbin/kldstat/kldstat.c), matched with fullmatch
_KLD = {name: re.compile(pattern) for name, pattern in {
    "HEADER": r"\s*Id\s+Refs\s+Address\s+Size\s+Name",
    "ROW": r"\s*(?P<id>\d+)\s+(?P<refs>\d+)\s+(?P<addr>0x[0-9a-fA-F]+)\s+(?P<size>[0-9a-fA-F]+|\d+(?:\.\d+)?[BKMGTPE]?)"
           r"\s+(?P<name>\S+)(?:\s+\((?P<path>[^)]*)\))?",
    "CONTAINS": r"\s*Contains modules:",
    "MODHEAD": r"\s*Id\s+Name",
    "M_HEADER": r"\s*Id\s+Refs\s+Name",
    "M_ROW": r"\s*(?P<id>\d+)\s+(?P<refs>\d+)\s+(?P<name>\S+)",
    "MOD_ROW": r"\s*(?P<id>\d+)\s+(?P<name>\S+)",
}.items()}


def _parse_size(size):
    try:
        return int(size, 16)
    except ValueError:
        return size  # -h humanized size, kept as printed


def parse_kldstat(text):
    """Parse ``kldstat``, ``kldstat -v`` or ``kldstat -m NAME`` output.

    Returns ``{"files": [{"id", "refs", "address", "size", "name", "path",
    "modules": [{"id", "name"}]}], "modules": [{"id", "name"}]}``. ``modules`` lists
    every module seen (``-v`` sections, ``-m`` rows and bare module lines from
    ``kldstat -v | grep``). ``size`` is an int (hex in the output) unless ``-h``
    printed a humanized size.
    """
    lines = clean_lines(text, tools=("kldstat",))
    if not lines:
        raise ValueError("empty kldstat output")
    files, modules = [], []
    mode = None  # None | "files" | "modules" (inside a -v section) | "m"
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or re.fullmatch(r"\.{3,}", stripped):  # blank, or an elision "....."
            continue
        if _KLD["HEADER"].fullmatch(line):
            mode = "files"
            continue
        if _KLD["M_HEADER"].fullmatch(line):
            mode = "m"
            continue
        if _KLD["CONTAINS"].fullmatch(line):
            if not files:
                raise ValueError(f"line {number}: 'Contains modules:' before any file row")
            mode = "modules"
            continue
        if _KLD["MODHEAD"].fullmatch(line):
            continue
        match = _KLD["ROW"].fullmatch(line)
        if match and mode in (None, "files", "modules"):
            files.append(
                {
                    "id": int(match.group("id")),
                    "refs": int(match.group("refs")),
                    "address": match.group("addr"),
                    "size": _parse_size(match.group("size")),
                    "name": match.group("name"),
                    "path": match.group("path"),
                    "modules": [],
                }
            )
            mode = "files"
            continue
        match = _KLD["M_ROW"].fullmatch(line)
        if match and mode == "m":
            modules.append({"id": int(match.group("id")), "name": match.group("name")})
            continue
        match = _KLD["MOD_ROW"].fullmatch(line)
        if match and mode in (None, "modules"):
            module = {"id": int(match.group("id")), "name": match.group("name")}
            modules.append(module)
            if files and mode == "modules":
                files[-1]["modules"].append(module)
            continue
        raise ValueError(f"line {number}: not a kldstat line: {excerpt(line)!r}")
    return {"files": files, "modules": modules}


_IPFW_ROW_RE = re.compile(r"\s*(?P<rule>\d{1,5})\s+(?P<text>\S.*)")


def parse_ipfw_list(text):
    """Parse ``ipfw list`` output: ``[{"rule": int, "text": str}, ...]`` in printed
    order, the default rule 65535 included."""
    lines = clean_lines(text, tools=("ipfw",))
    rules = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _IPFW_ROW_RE.fullmatch(line)
        if not match or not 0 < int(match.group("rule")) <= 65535:
            raise ValueError(f"line {number}: not an ipfw list line: {excerpt(line)!r}")
        rules.append({"rule": int(match.group("rule")), "text": " ".join(match.group("text").split())})
    return rules


# ---------------------------------------------------------------------------
# ifconfig -l
# ---------------------------------------------------------------------------
_IFNAME_RE = re.compile(r"[!-9;-~]{1,15}")  # printable, no blank, no ':'; IFNAMSIZ 16 with the NUL


def parse_ifconfig_list(text):
    """Parse ``ifconfig -l [-d] [-u] [address_family]`` output: the interface names in
    the kernel's order (sbin/ifconfig prints them on one line, one blank apart; no
    interface at all is just the newline). Raises ValueError on anything else, such as
    the status output of an ``ifconfig`` that ignored ``-l``."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) > 1:
        raise ValueError(f"line 2: ifconfig -l prints one line, got {excerpt(lines[1])!r}")
    names = lines[0].split() if lines else []
    for name in names:
        if not _IFNAME_RE.fullmatch(name):
            raise ValueError(f"{excerpt(name)!r} is not an interface name")
    if len(set(names)) != len(names):
        raise ValueError("an interface is listed twice")
    return names


def module_names(parsed: dict) -> list[str]:
    """Every module name in a :func:`parse_kldstat` result: modules, and file names
    without ``.ko`` (``ng_ether.ko`` also answers to ``ng_ether``)."""
    names = {module["name"] for module in parsed["modules"]}
    for kld in parsed["files"]:
        names.add(kld["name"][:-3] if kld["name"].endswith(".ko") else kld["name"])
        names.update(module["name"] for module in kld["modules"])
    return sorted(names)
