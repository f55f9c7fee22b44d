"""_utils/nf_boot.py: the one-file boot format (render/verify) and the atomic writer."""
from __future__ import annotations

import errno
import hashlib
import os
import pathlib
import shutil
import subprocess
import uuid

import pytest

from netgraph_core import nf_boot

from tests.support.rcd import LAN_IPFW

SCRIPT = {
    "ngctl": LAN_IPFW["ngctl"][:6] + [  # em0, vlan0.100 and ipfw hook 1000 attached, as rc.d's LAN_IPFW
        "msg lan_nf: setdlt { iface=2 dlt=12 }",
        "mkpeer lan_nf: ksocket export9 inet/dgram/udp",
        "name lan_nf:export9 lan_v9",
        "msg lan_v9: connect inet/192.0.2.10:2055",
    ],
    "modules": ["ng_ether", "ng_netflow", "ng_ksocket", "ng_ipfw"],
    "ipfw": ["add 1000 ngtee 1000 ip from any to any in via tun0"],
    "attach": ["em0", "vlan0_100"],
}
TEXT = nf_boot.render("lan", SCRIPT)


# --------------------------------------------------------------------------------------
# render / verify
# --------------------------------------------------------------------------------------
def test_format_exactly():
    lines = TEXT.split("\n")
    assert lines[-1] == "" and TEXT.endswith("\n")
    lines = lines[:-1]
    assert lines[:9] == [
        "# salt-netgraph boot file of exporter lan: written by netflow.exporter_present, do not edit",
        "#@module ng_ether",
        "#@module ng_netflow",
        "#@module ng_ksocket",
        "#@module ng_ipfw",
        "#@ipfw add 1000 ngtee 1000 ip from any to any in via tun0",
        "#@attach em0",
        "#@attach vlan0_100",
        "mkpeer em0: netflow lower iface0",
    ]
    assert lines[8:-1] == SCRIPT["ngctl"]
    body = "".join(line + "\n" for line in lines[:-1])
    assert lines[-1] == f"#@end {len(lines) - 1} {hashlib.sha256(body.encode()).hexdigest()}"
    # every line that is not an ngctl command is a comment for `ngctl -f` (a '#' in column 1)
    assert all(line.startswith("#") for line in lines if line not in SCRIPT["ngctl"])


def test_round_trip():
    parts = nf_boot.verify(TEXT)
    assert {k: parts[k] for k in ("ngctl", "modules", "ipfw", "attach")} == SCRIPT
    assert parts["name"] == "lan" and parts["lines"] == 18 and len(parts["sha256"]) == 64
    assert nf_boot.render(parts["name"], {k: parts[k] for k in SCRIPT}) == TEXT


def test_round_trip_of_an_empty_script():
    text = nf_boot.render("x", {"ngctl": []})
    assert text.count("\n") == 2 and nf_boot.verify(text)["ngctl"] == []


def test_verify_accepts_bytes():
    assert nf_boot.verify(TEXT.encode())["name"] == "lan"


@pytest.mark.parametrize("at", range(len(TEXT)))
def test_every_truncation_is_refused(at):
    with pytest.raises(ValueError):
        nf_boot.verify(TEXT[:at])


def test_every_changed_byte_is_refused():
    refused = 0
    for i, c in enumerate(TEXT):
        for new in {"X" if c != "X" else "Y", " ", "\n"} - {c}:
            with pytest.raises(ValueError):
                nf_boot.verify(TEXT[:i] + new + TEXT[i + 1:])
            refused += 1
    assert refused > 2 * len(TEXT)


@pytest.mark.parametrize("text, why", [
    (TEXT.replace("10:2055", "11:2055"), "checksum mismatch"),
    (TEXT.replace("#@end 18 ", "#@end 17 "), "counts 17 lines but 18"),
    (TEXT.replace("#@end 18 ", "#@end 018 "), "malformed last line"),
    (TEXT[: TEXT.index("#@end")], "no '#@end"),
    (TEXT[:-1], "does not end with a newline"),
    (TEXT + "\n", "no '#@end"),
    (TEXT + "mkpeer em1: netflow lower iface0\n", "no '#@end"),
    (TEXT.replace("\n#@end", "\nshutdown lan_nf:\n#@end"), "counts 18 lines but 19"),
    ("", "empty"),
])
def test_refusals_say_why(text, why):
    with pytest.raises(ValueError, match=why):
        nf_boot.verify(text)


def _forge(lines):
    body = "".join(line + "\n" for line in lines)
    return body + f"#@end {len(lines)} {hashlib.sha256(body.encode()).hexdigest()}\n"


HEADER = nf_boot.HEADER.format(name="lan")


@pytest.mark.parametrize("lines, why", [
    (["mkpeer em0: netflow lower iface0"], "not the salt-netgraph header"),
    ([HEADER, "#@unknown x"], "unknown directive"),
    ([HEADER, "#@module ng_ether;reboot"], "not a kernel module name"),
    ([HEADER, "#@ipfw add 100 ngtee 100 ip from any to any via *"], "outside"),
    ([HEADER, "#@attach em0", "#@module ng_ether"], "order or form"),  # valid sum, not as written
    ([HEADER, "mkpeer em0: netflow lower iface0", "#@module ng_ether"], "order or form"),
    ([HEADER, "# a comment by hand"], "order or form"),
    ([HEADER.replace("lan", "1an")], "not the salt-netgraph header"),
])
def test_valid_marker_but_not_what_render_writes(lines, why):
    with pytest.raises(ValueError, match=why):
        nf_boot.verify(_forge(lines))


@pytest.mark.parametrize("name, script, why", [
    ("lan\nevil", SCRIPT, "exporter name"),
    ("", SCRIPT, "exporter name"),
    ("a" * 26, SCRIPT, "exporter name"),
    ("lan", {"ngctl": ["mkpeer em0: netflow lower iface0\nshutdown em1:"]}, "not printable ASCII"),
    ("lan", {"ngctl": ["msg lan_nf: x \u00e9"]}, "not printable ASCII"),
    ("lan", {"ngctl": ["# name em0:lower x"]}, "starts with '#'"),
    ("lan", {"ngctl": ["   "]}, "empty"),
    ("lan", {"ngctl": ["msg x: " + "a" * 2100]}, "longer than ngctl reads"),
    ("lan", {"ngctl": "mkpeer em0: netflow lower iface0"}, "not a list of strings"),
    ("lan", {"ngctl": [], "modules": ["ng_ether\n#@ipfw add 1 deny ip from any to any"]}, "kernel module"),
    ("lan", {"ngctl": [], "modules": ["/boot/evil.ko"]}, "kernel module"),
    ("lan", {"ngctl": [], "ipfw": ["add 100  ngtee 100 ip from any to any"]}, "single spaces"),
    ("lan", {"ngctl": [], "ipfw": ["delete 100"]}, "single spaces"),
    ("lan", {"ngctl": [], "ipfw": ["add 0 ngtee 1 ip from any to any"]}, "1..65534"),
    ("lan", {"ngctl": [], "ipfw": ["add 65535 ngtee 1 ip from any to any"]}, "1..65534"),
    ("lan", {"ngctl": [], "ipfw": ["add 100 ngtee 100 ip from any to any via $(reboot)"]}, "outside"),
    ("lan", {"ngctl": [], "ipfw": ["add 100 ngtee 100 ip from any to any via tun?"]}, "outside"),
    ("lan", {"ngctl": [], "attach": ["vlan0.100"]}, "ng_ether node name"),
    ("lan", {"ngctl": [], "attach": ["em0:"]}, "ng_ether node name"),
    ("lan", {"ngctl": [], "extra": []}, "unknown keys"),
    ("lan", ["mkpeer"], "not a mapping"),
])
def test_render_refuses_what_could_not_be_replayed_exactly(name, script, why):
    with pytest.raises(ValueError, match=why):
        nf_boot.render(name, script)


def test_module_has_no_salt_imports():
    text = pathlib.Path(nf_boot.__file__).read_text()
    assert "import salt" not in text and "from salt" not in text and "__salt__" not in text


# --------------------------------------------------------------------------------------
# write_atomic
# --------------------------------------------------------------------------------------
def _leftovers(directory: pathlib.Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_write_replace_remove(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(nf_boot.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    a, b, c = tmp_path / "a.ngctl", tmp_path / "b.ngctl", tmp_path / "a.modules"
    b.write_text("old b\n")
    c.write_text("ng_ether\n")
    nf_boot.write_atomic({str(a): TEXT, str(b): "new b\n", str(c): None, str(tmp_path / "absent.ipfw"): None})
    assert a.read_text() == TEXT and b.read_text() == "new b\n" and not c.exists()
    assert (a.stat().st_mode & 0o777) == 0o644
    assert _leftovers(tmp_path) == []
    # each new file's content was fsynced (as its temp file), then the directory
    assert synced[-1] == str(tmp_path)
    assert len([s for s in synced if s.endswith(".tmp")]) == 2


def test_write_is_a_rename_never_an_in_place_rewrite(tmp_path):
    path = tmp_path / "lan.ngctl"
    path.write_text("old\n")
    fd = os.open(path, os.O_RDONLY)  # a reader that opened the old file keeps reading it
    try:
        nf_boot.write_atomic({str(path): TEXT})
        assert os.read(fd, 100) == b"old\n"
    finally:
        os.close(fd)
    assert path.read_text() == TEXT


def test_a_failing_write_leaves_every_old_file_intact(tmp_path, monkeypatch):
    """Disk full during the second file: nothing is renamed, no temp file stays."""
    a, b = tmp_path / "a.ngctl", tmp_path / "b.ngctl"
    a.write_text("old a\n")
    b.write_text("old b\n")
    calls = []
    real = nf_boot._write_all

    def write_all(fd, data):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, data)

    monkeypatch.setattr(nf_boot, "_write_all", write_all)
    with pytest.raises(OSError) as info:
        nf_boot.write_atomic({str(a): TEXT, str(b): TEXT})
    assert info.value.errno == errno.ENOSPC
    assert str(b) in str(info.value) and "No space left on device" in str(info.value)
    assert a.read_text() == "old a\n" and b.read_text() == "old b\n"
    assert _leftovers(tmp_path) == []


def test_a_short_write_is_completed(tmp_path, monkeypatch):
    real = os.write
    monkeypatch.setattr(nf_boot.os, "write", lambda fd, data: real(fd, bytes(data[:7])))
    path = tmp_path / "lan.ngctl"
    nf_boot.write_atomic({str(path): TEXT})
    assert path.read_text() == TEXT


def test_a_failing_fsync_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "lan.ngctl"
    path.write_text("old\n")

    def fsync(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(nf_boot.os, "fsync", fsync)
    with pytest.raises(OSError, match="lan.ngctl"):
        nf_boot.write_atomic({str(path): TEXT})
    assert path.read_text() == "old\n" and _leftovers(tmp_path) == []


def test_a_failing_rename_puts_back_what_was_already_replaced(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a.ngctl", tmp_path / "b.ngctl", tmp_path / "c.modules"
    a.write_text("old a\n")
    b.write_text("old b\n")
    c.write_text("old c\n")
    real = os.replace
    seen = []

    def replace(src, dst):
        seen.append(dst)
        if str(dst) == str(b):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(src, dst)

    monkeypatch.setattr(nf_boot.os, "replace", replace)
    with pytest.raises(OSError, match="b.ngctl"):
        nf_boot.write_atomic({str(c): None, str(a): "new a\n", str(b): "new b\n", str(tmp_path / "d"): "new d\n"})
    assert (a.read_text(), b.read_text(), c.read_text()) == ("old a\n", "old b\n", "old c\n")
    assert not (tmp_path / "d").exists()
    assert _leftovers(tmp_path) == []


def test_a_missing_directory_is_an_oserror_naming_the_path(tmp_path):
    path = tmp_path / "missing" / "lan.ngctl"
    with pytest.raises(OSError, match="missing/lan.ngctl"):
        nf_boot.write_atomic({str(path): TEXT})


def test_relative_paths_and_bad_contents_are_refused(tmp_path):
    with pytest.raises(ValueError):
        nf_boot.write_atomic({"lan.ngctl": TEXT})
    with pytest.raises(ValueError):
        nf_boot.write_atomic({str(tmp_path / "x"): b"bytes"})


@pytest.fixture
def tiny_fs(tmp_path):
    """A real 64 KiB tmpfs (needs root and mount rights; skipped otherwise)."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8)")
    mnt = tmp_path / f"tiny-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_really_full_disk_leaves_the_old_file(tiny_fs):
    path = tiny_fs / "lan.ngctl"
    path.write_text(TEXT)
    filler = tiny_fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 1024):
            pass
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    big = nf_boot.render("lan", dict(SCRIPT, ngctl=SCRIPT["ngctl"] * 50))
    with pytest.raises(OSError) as info:
        nf_boot.write_atomic({str(path): big})
    assert info.value.errno == errno.ENOSPC and "lan.ngctl" in str(info.value)
    assert path.read_text() == TEXT
    assert _leftovers(tiny_fs) == []


def test_a_directory_that_became_read_only_leaves_the_old_file(tiny_fs):
    path = tiny_fs / "lan.ngctl"
    path.write_text("old\n")
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    with pytest.raises(OSError) as info:
        nf_boot.write_atomic({str(path): TEXT, str(tiny_fs / "lan.modules"): None})
    assert info.value.errno == errno.EROFS and "lan.ngctl" in str(info.value)
    assert path.read_text() == "old\n"
