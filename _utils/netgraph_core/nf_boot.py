"""Boot files of the NetFlow exporters: build, render, verify, write atomically (pure; no Salt).

``build_script`` is the exporter's full build from an empty graph (nf_plan.diff), which
``render`` turns into the file.

One file per exporter, ``<boot_dir>/<name>.ngctl``, so everything the rc.d script needs
to rebuild an exporter changes together or not at all. ``ngctl -f`` replays it as it is:
every line starting with ``#`` is a comment for ngctl (and ngctl's "line N" errors count
every line of the file). The rc.d script reads the ``#@`` lines::

    # salt-netgraph boot file of exporter lan: written by netflow.exporter_present, do not edit
    #@module ng_ether
    #@module ng_netflow
    #@ipfw add 1000 ngtee 1000 ip from any to any in via tun0
    #@attach em0
    mkpeer em0: netflow lower iface0
    name em0:lower lan_nf
    ...
    #@end 13 <sha256 hex of the 13 lines before this one>

* ``#@module M``: one kernel module a line, loaded (``kldload -n``) before the replay;
* ``#@ipfw add RULE ...``: one ipfw invocation a line, words separated by single spaces,
  run after the ngctl lines;
* ``#@attach NODE``: the ng_ether node (interface name, ``.`` -> ``_``) of each interface
  the exporter attaches to through ng_ether;
* ``#@end N HEX``: always the last line, ending in ``"\\n"``; N is the number of lines
  before it and HEX the SHA-256 of exactly those bytes. A file cut anywhere (a killed
  writer, a full disk) or edited by hand fails this check, and the rc.d script then
  replays none of it.

Everything rendered is printable ASCII and checked against a narrow character set, because
the rc.d script word-splits the ``#@ipfw`` lines (with globbing off) as root at boot.
"""
from __future__ import annotations

import errno as _errno
import hashlib
import os
import re
import tempfile

from . import nf_model
from .nf_plan import diff

HEADER = "# salt-netgraph boot file of exporter {name}: written by netflow.exporter_present, do not edit"
_HEADER_RE = re.compile(
    r"# salt-netgraph boot file of exporter (?P<name>\S+): written by netflow\.exporter_present, do not edit"
)
END_RE = re.compile(r"#@end (?P<count>0|[1-9][0-9]{0,8}) (?P<sha256>[0-9a-f]{64})\n")

NAME_RE = nf_model.NAME_RE  # an exporter name, as the model validates it
MODULE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
NODE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,30}")
IPFW_WORD_RE = re.compile(r"[A-Za-z0-9_.:/,-]+")
# ngctl's ReadFile reads lines with fgets into char line[LINE_MAX] (2048): a longer line
# would be cut in two commands. Keep room for the newline and the NUL.
NGCTL_LINE_MAX = 2046
_PRINTABLE_RE = re.compile(r"[\x20-\x7e]+")

DIRECTIVES = ("module", "ipfw", "attach")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_list(script: dict, key: str) -> list[str]:
    value = script.get(key, [])
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"boot script {key}: {value!r} is not a list of strings")
    return list(value)


def _check_ipfw(line: str) -> None:
    words = line.split(" ")
    if len(words) < 3 or words[0] != "add" or not all(words):
        raise ValueError(f"boot script ipfw: {line!r} is not 'add RULE ...' with words separated by single spaces")
    if not re.fullmatch(r"[1-9][0-9]{0,4}", words[1]) or int(words[1]) > 65534:
        raise ValueError(f"boot script ipfw: {line!r}: rule number {words[1]!r} is not 1..65534")
    for word in words[2:]:
        if not IPFW_WORD_RE.fullmatch(word):
            raise ValueError(f"boot script ipfw: {line!r}: word {word!r} has characters outside [A-Za-z0-9_.:/,-]")


def _check_ngctl(line: str) -> None:
    if not _PRINTABLE_RE.fullmatch(line) or not line.strip():
        raise ValueError(f"boot script ngctl: {line!r} is empty or not printable ASCII")
    if line.startswith("#"):
        raise ValueError(f"boot script ngctl: {line!r} starts with '#' (ngctl would skip it as a comment)")
    if len(line) > NGCTL_LINE_MAX:
        raise ValueError(f"boot script ngctl: a line of {len(line)} characters is longer than ngctl reads ({NGCTL_LINE_MAX})")


def build_script(cfg: dict) -> dict:
    """Everything needed to rebuild the exporter at boot, without Salt (``render``
    writes it): the plan against a graph that has only the interfaces' ether nodes (and
    ipfw), the modules to load first, the ipfw rules to add after, and the ether nodes
    the file attaches (so the rc.d script can tell what is its own)."""
    empty = {"nodes": {}}
    for iface in cfg["interfaces"]:
        empty["nodes"][iface["node"]] = {"type": "ipfw" if iface["node"] == "ipfw" else "ether", "hooks": {}}
    want = nf_model.desired(cfg, empty)
    plan = diff(empty, want)
    return {
        "ngctl": [" ".join(words) for words in plan["commands"]],
        "modules": nf_model.required_modules(cfg),
        "ipfw": [" ".join(["add", str(rule)] + text.split()) for rule, text in sorted(want["ipfw"].items())],
        "attach": sorted(i["node"] for i in cfg["interfaces"] if i["attach"] == "ether"),
    }


def render(name: str, script: dict) -> str:
    """The boot file of exporter ``name``.

    ``script`` is ``{"ngctl": [ngctl command lines], "modules": [kernel module names],
    "ipfw": ["add RULE ..." ipfw argv strings], "attach": [ng_ether node names]}``
    (missing lists are empty). Raises ValueError naming the offending entry when a value
    could not be replayed exactly as given (newlines, non-ASCII, '#' at the start of an
    ngctl line, ipfw words outside ``[A-Za-z0-9_.:/,-]``, ...).
    """
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValueError(f"boot file name: {name!r} is not an exporter name ([A-Za-z][A-Za-z0-9_-]{{0,24}})")
    if not isinstance(script, dict):
        raise ValueError(f"boot script: {script!r} is not a mapping")
    unknown = set(script) - {"ngctl", "modules", "ipfw", "attach"}
    if unknown:
        raise ValueError(f"boot script: unknown keys {sorted(unknown)}")
    ngctl = _check_list(script, "ngctl")
    modules = _check_list(script, "modules")
    ipfw = _check_list(script, "ipfw")
    attach = _check_list(script, "attach")
    for module in modules:
        if not MODULE_RE.fullmatch(module):
            raise ValueError(f"boot script modules: {module!r} is not a kernel module name")
    for line in ipfw:
        _check_ipfw(line)
    for node in attach:
        if not NODE_RE.fullmatch(node):
            raise ValueError(f"boot script attach: {node!r} is not an ng_ether node name")
    for line in ngctl:
        _check_ngctl(line)
    lines = [HEADER.format(name=name)]
    lines += [f"#@module {m}" for m in modules]
    lines += [f"#@ipfw {line}" for line in ipfw]
    lines += [f"#@attach {node}" for node in attach]
    lines += ngctl
    body = "".join(line + "\n" for line in lines)
    return body + f"#@end {len(lines)} {_digest(body.encode('ascii'))}\n"


def _sealed(text) -> tuple:
    """(its bytes, the lines before ``#@end``, their count, their SHA-256) of a complete
    boot file; ValueError when the marker is missing, miscounts or the checksum differs."""
    if isinstance(text, bytes):
        data = text
    elif isinstance(text, str):
        data = text.encode("utf-8", "surrogateescape")
    else:
        raise ValueError(f"boot file: {type(text).__name__} is not text")
    if not data:
        raise ValueError("boot file is empty (no '#@end' marker)")
    if not data.endswith(b"\n"):
        raise ValueError("boot file does not end with a newline: it was cut (no complete '#@end' line)")
    lines = data.split(b"\n")[:-1]
    last = lines[-1] + b"\n"
    if not last.startswith(b"#@end"):
        raise ValueError("boot file has no '#@end N SHA256' last line: it is incomplete or not a boot file")
    match = END_RE.fullmatch(last.decode("ascii", "replace"))
    if not match:
        raise ValueError(f"boot file: malformed last line {lines[-1]!r} (expected '#@end N SHA256')")
    body_lines = lines[:-1]
    count = int(match["count"])
    if count != len(body_lines):
        raise ValueError(f"boot file: '#@end' counts {count} lines but {len(body_lines)} lines precede it")
    body = data[: len(data) - len(last)]
    digest = _digest(body)
    if digest != match["sha256"]:
        raise ValueError(f"boot file: checksum mismatch (the file says {match['sha256']}, its lines hash to {digest})")
    return data, body_lines, count, digest


def verify(text: str) -> dict:
    """Check that ``text`` is a complete, unmodified boot file and return its parts.

    Returns ``{"name": str, "modules": [...], "ipfw": [...], "attach": [...],
    "ngctl": [...], "lines": N, "sha256": HEX}``. Raises ValueError saying why when the
    ``#@end`` marker is missing or not the last line, when N is not the number of lines
    before it, when the checksum differs, or when a line is not what ``render`` writes.
    """
    data, body_lines, count, digest = _sealed(text)
    try:
        decoded = [line.decode("ascii") for line in body_lines]
    except UnicodeDecodeError as exc:
        raise ValueError(f"boot file: a line is not ASCII ({exc})") from None
    if not decoded:
        raise ValueError("boot file has no header line")
    header = _HEADER_RE.fullmatch(decoded[0])
    if not header or not NAME_RE.fullmatch(header["name"]):
        raise ValueError(f"boot file: first line {decoded[0]!r} is not the salt-netgraph header")
    out: dict = {"name": header["name"], "modules": [], "ipfw": [], "attach": [], "ngctl": [],
                 "lines": count, "sha256": digest}
    for number, line in enumerate(decoded[1:], start=2):
        if line.startswith("#@"):
            directive, _, value = line[2:].partition(" ")
            if directive not in DIRECTIVES:
                raise ValueError(f"boot file line {number}: unknown directive {line!r}")
            key = {"module": "modules", "ipfw": "ipfw", "attach": "attach"}[directive]
            out[key].append(value)
        elif line.startswith("#"):
            continue
        else:
            out["ngctl"].append(line)
    try:
        script = {k: out[k] for k in ("ngctl", "modules", "ipfw", "attach")}
        again = render(out["name"], script)
    except ValueError as exc:
        raise ValueError(f"boot file: {exc}") from None
    if again.encode("ascii") != data:
        raise ValueError("boot file: its lines are not in the order or form that render() writes")
    return out


# ------------------------------------------------------------------------------------
# Durable, atomic writes
# ------------------------------------------------------------------------------------
def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a short write is retried)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(_errno.EIO, "write returned 0")
        view = view[written:]


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _error(path: str, exc: OSError, doing: str) -> OSError:
    err = OSError(exc.errno, f"{doing} {path}: {exc.strerror or exc}")
    err.filename = path
    return err


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _stage(path: str, text: str | None, mode: int, temps: dict, backups: dict) -> None:
    """Step 1 for one file: its new content in a temp file beside it (fsync'ed), and a
    hard-linked backup of what it is now (where the filesystem has hard links)."""
    directory, base = os.path.split(path)
    if text is not None:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
        temps[path] = tmp
        try:
            os.fchmod(fd, mode)
            _write_all(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    if os.path.lexists(path):
        backup = os.path.join(directory, f".{base}.{os.getpid()}.bak")
        _unlink_quiet(backup)
        try:
            os.link(path, backup, follow_symlinks=False)
            backups[path] = backup
        except OSError as exc:
            if exc.errno not in (_errno.EPERM, _errno.EXDEV, _errno.EOPNOTSUPP, _errno.EMLINK):
                raise


def _undo(done: list[str], files: dict, backups: dict) -> None:
    """Put back the targets step 2 already replaced or created."""
    for undone in reversed(done):
        try:
            if undone in backups:
                os.replace(backups.pop(undone), undone)
            elif files[undone] is not None:
                os.unlink(undone)  # it did not exist before
        except OSError:
            pass


def boot_paths(boot_dir: str, name: str) -> list[str]:
    """Exporter ``name``'s boot files: ``<name>.ngctl``, then ``<name>.modules`` and
    ``<name>.ipfw`` of the older three-file format (only ever removed)."""
    return [os.path.join(boot_dir, f"{name}.{ext}") for ext in ("ngctl", "modules", "ipfw")]


def listed_paths(boot_dir: str, name: str) -> list[str]:
    """The boot files the formula removes for exporter ``name``: ``<name>.ngctl``, and the
    older format's ``<name>.modules``/``<name>.ipfw`` only where they exist, so a run does
    not report, for every exporter, two files that were never there."""
    current, *older = boot_paths(boot_dir, name)
    return [current] + [path for path in older if os.path.lexists(path)]


def changed_files(boot_dir: str, name: str, text: str | None) -> dict:
    """Exporter ``name``'s boot files to write (``text``) or remove (None) so that
    ``boot_dir`` says what is declared: only those whose content differs."""
    want = dict(zip(boot_paths(boot_dir, name), (text, None, None)))
    files = {}
    for path, new in want.items():
        try:
            with open(path, encoding="utf-8") as fh:
                old = fh.read()
        except OSError:
            old = None
        if old != new:
            files[path] = new
    return files


def write_atomic(files: dict, mode: int = 0o644) -> None:
    """Write (str value) or remove (None value) every file of ``files``, atomically and
    durably, all together as far as POSIX allows.

    1. every new content goes to a temp file in the target's directory (written, flushed,
       fsync'ed); every existing target gets a hard-linked backup there;
    2. then the temp files are renamed over their targets and the removed files unlinked,
       in the order given;
    3. then every directory touched is fsync'ed, and the backups removed.

    An OSError in step 1 removes the temp files and leaves every target as it was. An
    OSError in step 2 puts the targets already replaced back from their backups (a
    filesystem without hard links gets no backups, and then no such undo). Raises
    OSError whose message names the path.
    """
    items = list(files.items())
    for path, text in items:
        if not isinstance(path, str) or not os.path.isabs(path):
            raise ValueError(f"write_atomic: {path!r} is not an absolute path")
        if text is not None and not isinstance(text, str):
            raise ValueError(f"write_atomic: content of {path} is {type(text).__name__}, not str or None")
    temps: dict[str, str] = {}
    backups: dict[str, str] = {}

    def cleanup() -> None:
        for tmp in list(temps.values()) + list(backups.values()):
            _unlink_quiet(tmp)

    for path, text in items:  # 1. temp files and backups; nothing visible changes yet
        try:
            _stage(path, text, mode, temps, backups)
        except OSError as exc:
            cleanup()
            raise _error(path, exc, "cannot write") from exc
    done: list[str] = []
    for path, text in items:  # 2. make the changes visible
        try:
            if text is None:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            else:
                os.replace(temps[path], path)
                del temps[path]
            done.append(path)
        except OSError as exc:
            _undo(done, files, backups)
            cleanup()
            raise _error(path, exc, "cannot replace" if text is not None else "cannot remove") from exc
    for path in backups.values():  # 3. durability of the renames, then the backups go
        _unlink_quiet(path)
    for directory in sorted({os.path.dirname(p) for p, _ in items}):
        try:
            _fsync_dir(directory)
        except OSError as exc:
            raise _error(directory, exc, "cannot fsync directory") from exc
