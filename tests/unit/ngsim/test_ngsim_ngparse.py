"""The ng_parse ASCII language: tokens, integers (base 0, octal), structs, arrays, unparse."""
from __future__ import annotations

import pytest

from ngsim.errors import NgError
from ngsim.ngparse import (ArrayType, ENADDR, STRING, StructType, UINT8, UINT16, UINT32,
                           encode_string)
from ngsim.types.ksocket import SOCKADDR
from ngsim.types.netflow import INFO, SETTIMEOUTS, V9INFO

T = StructType([("inactive", UINT32), ("active", UINT32)])


@pytest.mark.parametrize("text,value", [
    ("{ inactive=15 active=1800 }", {"inactive": 15, "active": 1800}),
    ("{inactive=15 active=1800}", {"inactive": 15, "active": 1800}),
    ("{ active = 7 }", {"inactive": 0, "active": 7}),  # omitted -> 0
    ("{ inactive=0x10 active=010 }", {"inactive": 16, "active": 8}),  # hex, octal
    ("{ inactive=-1 }", {"inactive": 0xFFFFFFFF, "active": 0}),  # signed range accepted
    ("{ inactive=1 } junk", {"inactive": 1, "active": 0}),  # trailing junk ignored
    ("{}", {"inactive": 0, "active": 0}),
    # ng_parse_composite() skips each value as a whole word first, then strtol reads what
    # it can of it: the rest of the word is not a field name
    ("{ inactive=08 }", {"inactive": 0, "active": 0}),
    ("{ inactive=5x active=0x1fz }", {"inactive": 5, "active": 31}),
])
def test_struct_parse(text, value):
    assert T.parse(text, 0)[0] == value


@pytest.mark.parametrize("text,err", [
    ("{ foo=1 }", "ENOENT"), ("{ Inactive=1 }", "ENOENT"),
    ("{ inactive=1 inactive=2 }", "EALREADY"),
    ("inactive=1", "EINVAL"), ("{ inactive 1 }", "EINVAL"), ("{ inactive=1", "EINVAL"),
    ("{ inactive= }", "EINVAL"), ("{ inactive=0x }", "EINVAL"), ("", "EINVAL"),
    ("{ inactive=4294967296 }", "EINVAL"),
    ("{ inactive=x foo=1 }", "ENOENT"),  # every name is found before any value is read
    ("{ active=x inactive=y }", "EINVAL"),
])
def test_struct_errors(text, err):
    with pytest.raises(NgError) as e:
        T.parse(text, 0)
    assert e.value.errno == err


def test_field_width_ranges():
    t = StructType([("a", UINT8), ("b", UINT16)])
    assert t.parse("{ a=255 b=65535 }", 0)[0] == {"a": 255, "b": 65535}
    assert t.parse("{ a=-128 }", 0)[0]["a"] == 128
    for bad in ("{ a=256 }", "{ b=65536 }", "{ a=-129 }"):
        with pytest.raises(NgError):
            t.parse(bad, 0)


def test_unparse_skips_defaults_and_keeps_spaces_in_keys():
    assert T.unparse({"inactive": 0, "active": 0}) == "{}"
    assert T.unparse({"inactive": 15, "active": 0}) == "{ inactive=15 }"
    info = INFO.default()
    info.update({"IPv4 bytes": 123, "Inactive timeout": 15, "Active timeout": 1800})
    assert INFO.unparse(info) == "{ IPv4 bytes=123 Inactive timeout=15 Active timeout=1800 }"
    assert V9INFO.unparse({"v9 template packets": 500, "v9 template time": 600,
                           "v9 MTU": 1500}) == (
        "{ v9 template packets=500 v9 template time=600 v9 MTU=1500 }")
    assert SETTIMEOUTS.fields[0][0] == "inactive"


def test_arrays():
    a = ArrayType(UINT8, 8)
    v, _ = a.parse("[ 1 1 4=1 ]", 0)
    assert v == [1, 1, 0, 0, 1, 0, 0, 0]
    assert a.unparse(v) == "[ 1 1 4=1 ]"
    assert a.unparse([0] * 8) == "[]"
    with pytest.raises(NgError) as e:
        a.parse("[ 8=1 ]", 0)
    assert e.value.errno == "E2BIG"
    s = StructType([("x", UINT32), ("l", a)])
    assert s.parse("{ l=[ 2=7 ] x=3 }", 0)[0] == {"x": 3, "l": [0, 0, 7, 0, 0, 0, 0, 0]}
    assert s.unparse({"x": 1, "l": [0] * 8}) == "{ x=1 }"
    assert s.unparse({"x": 1, "l": [0, 1] + [0] * 6}) == "{ x=1 l=[ 1=1 ] }"


@pytest.mark.parametrize("text,value", [  # ng_parse_composite()'s explicit array index
    ("[ 4294967298=9 ]", [0, 0, 9, 0]),  # strtoul, then cut to a u_int
    ("[ 0x1=9 7 ]", [0, 9, 7, 0]),  # strtoul base 0; the next index follows it
    ("[ 1 =9 ]", "EINVAL"),  # *off += len + len2: the value read from the "="
    ("[ -1=9 ]", "EINVAL"),  # ULONG_MAX
    ("[ -2=9 ]", "E2BIG"),  # ULONG_MAX - 1
    ("[ 1=9 1=8 ]", "EALREADY"),
    ("[ 1x=9 ]", "EINVAL"),
    ("[ 1 2 3 4 5 ]", "E2BIG"),
])
def test_array_index(text, value):
    a = ArrayType(UINT8, 4)
    if isinstance(value, str):
        with pytest.raises(NgError) as e:
            a.parse(text, 0)
        assert e.value.errno == value
    else:
        assert a.parse(text, 0)[0] == value


def test_strings_and_enaddr():
    assert STRING.parse('"em0" x', 0) == ("em0", 5)
    assert encode_string('a"b\\\n') == '"a\\"b\\\\\\n"'
    assert ENADDR.parse("00:1b:21:0a:0b:0c", 0)[0] == "00:1b:21:0a:0b:0c"
    with pytest.raises(NgError):
        ENADDR.parse("00:1b:21:0a:0b", 0)


def test_sockaddr():
    assert SOCKADDR.parse("inet/10.0.0.1:4444", 0)[0] == {
        "family": "inet", "addr": "10.0.0.1", "port": 4444}
    v, _ = SOCKADDR.parse("inet/127.0.0.1", 0)
    assert SOCKADDR.unparse(v) == "inet/127.0.0.1"
    assert SOCKADDR.unparse({"family": "inet", "addr": "0.0.0.0", "port": 0}) == "inet/0.0.0.0"
    for bad in ("10.0.0.1:4444", "inet/host:1", "inet/1.2.3.4:70000", "inet6/::1"):
        with pytest.raises(NgError):
            SOCKADDR.parse(bad, 0)


def test_hint_hookbuf_and_variable_arrays():
    """ng_parse.c: hint types print ``0x%x`` (int16/int32_unparse, INT_HEX); a hookbuf
    (ng_fixedstring_parse, NG_HOOKSIZ 32) holds 31 bytes, more is E2BIG; a variable
    array (ng_array_type: its length from the data) prints what it has, ``[]`` skipped
    as a struct field when empty."""
    from ngsim.ngparse import HINT16, HINT32, HOOKBUF, VarArrayType

    assert HINT16.unparse(0x8100) == "0x8100" and HINT32.unparse(0) == "0x0"
    assert HINT32.parse("0x1 junk", 0) == (1, 3) and HINT16.unparse(-1) == "0xffff"
    assert HOOKBUF.parse('"%s"' % ("h" * 31), 0)[0] == "h" * 31
    with pytest.raises(NgError) as e:
        HOOKBUF.parse('"%s"' % ("h" * 32), 0)
    assert e.value.errno == "E2BIG"
    ary = StructType([("n", UINT32), ("rows", VarArrayType(StructType([("hook", HOOKBUF),
                                                                      ("vid", UINT16)])))])
    assert ary.unparse({"n": 0, "rows": []}) == "{}"
    assert ary.unparse({"n": 2, "rows": [{"hook": "a", "vid": 0}, {"hook": "b", "vid": 7}]}) \
        == '{ n=2 rows=[ { hook="a" } { hook="b" vid=7 } ] }'
