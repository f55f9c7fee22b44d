"""The netgraph ASCII argument language (sys/netgraph/ng_parse.c): parse and unparse.

Parsing works on the raw string with offsets like the kernel does, so trailing junk is
ignored and integers follow the kernel's strtol/strtoul in base 0 (``0x`` hex, leading
``0`` octal). Structs and arrays are read in ng_parse_composite()'s two passes
(``composite_positions``, then each value where it starts, in declared order). Errors:
unknown field ENOENT, repeated field EALREADY, index out of range E2BIG, anything
malformed EINVAL. Unparse leaves out fields equal to
their default, prints ``{}``/``[]`` when nothing is left, and labels array elements that
follow skipped ones with ``N=``.
"""
from __future__ import annotations


from ngsim.errors import NgError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any

WS = " \t\n\r\v\f"
PUNCT = "{}[]="

T_LBRACE, T_RBRACE, T_LBRACKET, T_RBRACKET, T_EQUALS, T_STRING, T_WORD, T_EOF, T_ERROR = range(9)
_PUNCT_TOK = {"{": T_LBRACE, "}": T_RBRACE, "[": T_LBRACKET, "]": T_RBRACKET, "=": T_EQUALS}


def get_token(s: str, off: int) -> tuple[int, int, int]:
    """Return (token kind, start offset after blanks, length) like ng_parse_get_token."""
    while off < len(s) and s[off] in WS:
        off += 1
    if off >= len(s):
        return T_EOF, off, 0
    c = s[off]
    if c in _PUNCT_TOK:
        return _PUNCT_TOK[c], off, 1
    if c == '"':
        try:
            _, end = decode_string(s, off)
        except NgError:
            return T_ERROR, off, 0
        return T_STRING, off, end - off
    end = off
    while end < len(s) and s[end] not in WS and s[end] not in PUNCT and s[end] != '"':
        end += 1
    return T_WORD, off, end - off


def skip_value(s: str, off: int) -> int:
    """ng_parse_skip_value(): the length of the value at ``off`` (one token, or a
    bracketed/braced group); an unbalanced closer or the end of the string is EINVAL.
    (An unterminated string inside a group is EINVAL here; the kernel's loop would reuse
    a stale token length there.)"""
    start0 = off
    nbracket = nbrace = 0
    while True:
        tok, start, ln = get_token(s, off)
        if tok == T_LBRACKET:
            nbracket += 1
        elif tok == T_LBRACE:
            nbrace += 1
        elif tok == T_RBRACKET:
            if nbracket == 0:
                raise NgError("EINVAL")
            nbracket -= 1
        elif tok == T_RBRACE:
            if nbrace == 0:
                raise NgError("EINVAL")
            nbrace -= 1
        elif tok in (T_EOF, T_ERROR):
            raise NgError("EINVAL")
        off = start + ln
        if not nbracket and not nbrace:
            return off - start0


def decode_string(s: str, off: int) -> tuple[str, int]:
    """Decode a double-quoted C string at s[off]; return (text, offset after closing quote)."""
    if off >= len(s) or s[off] != '"':
        raise NgError("EINVAL")
    out = []
    i = off + 1
    esc = {"t": "\t", "n": "\n", "r": "\r", "v": "\v", "f": "\f", '"': '"', "\\": "\\"}
    while i < len(s):
        c = s[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            i += 1
            if i >= len(s):
                break
            c = s[i]
            if c in "01234567":
                j = i
                while j < len(s) and j < i + 3 and s[j] in "01234567":
                    j += 1
                out.append(chr(int(s[i:j], 8) & 0xFF))
                i = j
                continue
            if c == "x" and i + 1 < len(s) and s[i + 1] in "0123456789abcdefABCDEF":
                j = i + 1
                while j < len(s) and j < i + 3 and s[j] in "0123456789abcdefABCDEF":
                    j += 1
                out.append(chr(int(s[i + 1:j], 16)))
                i = j
                continue
            out.append(esc.get(c, c))
            i += 1
            continue
        out.append(c)
        i += 1
    raise NgError("EINVAL")


# ng_encode_string's named escapes
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\v": "\\v", "\f": "\\f",
            '"': '\\"', "\\": "\\\\"}


def encode_string(text: str) -> str:
    """Quote and escape like ng_encode_string."""
    out = ['"']
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append("\\%03o" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def kstrtol(s: str, off: int, base: int = 0) -> tuple[int, int]:
    """Kernel strtol/strtoul: return (value, end offset); end == off means no digits."""
    i = off
    while i < len(s) and s[i] in WS:
        i += 1
    neg = False
    if i < len(s) and s[i] in "+-":
        neg = s[i] == "-"
        i += 1
    if (base in (0, 16)) and i + 1 < len(s) and s[i] == "0" and s[i + 1] in "xX":
        i += 2
        base = 16
    if base == 0:
        base = 8 if (i < len(s) and s[i] == "0") else 10
    acc = 0
    any_digit = False
    while i < len(s):
        c = s[i].lower()
        if "0" <= c <= "9":
            d = ord(c) - 48
        elif "a" <= c <= "z":
            d = ord(c) - 87
        else:
            break
        if d >= base:
            break
        acc = acc * base + d
        any_digit = True
        i += 1
    if not any_digit:
        return 0, off
    return (-acc if neg else acc), i


ULONG_MAX = (1 << 64) - 1


def composite_positions(s: str, off: int, names=None, length: int = 0) -> tuple[dict[int, int], int]:
    """The first pass of ng_parse_composite(): where the value of each field of a struct
    (``names``, its field names in declared order) or each element of an array (of
    ``length``) starts, as {index: offset}, and the offset after the closing brace or
    bracket. A struct field is ``name=value``, an unknown name ENOENT. An array element
    is ``value`` (the next index) or ``N=value``: N read by strtoul (ULONG_MAX EINVAL) and
    cut to a u_int, the next index N+1; the blanks before its ``=`` are not skipped, so
    in ``N =v`` the value starts at the ``=``. An index past the end E2BIG, a repeat
    EALREADY, anything else malformed EINVAL. The second pass is the caller's: each
    value parsed at its offset in declared order, the default where none was given."""
    struct = names is not None
    opener, closer = (T_LBRACE, T_RBRACE) if struct else (T_LBRACKET, T_RBRACKET)
    num = len(names) if struct else length
    tok, start, ln = get_token(s, off)
    if tok != opener:
        raise NgError("EINVAL")
    off = start + ln
    foff: dict[int, int] = {}
    next_index = 0
    while True:
        tok, start, ln = get_token(s, off)
        if tok == closer:
            return foff, start + ln
        off = start
        if struct:
            if tok != T_WORD:
                raise NgError("EINVAL")
            word = s[start:start + ln]
            if word not in names:
                raise NgError("ENOENT")
            index = names.index(word)
            tok, start, ln = get_token(s, start + ln)
            if tok != T_EQUALS:
                raise NgError("EINVAL")
            off = start + ln
        elif tok in (T_LBRACE, T_LBRACKET):
            index = next_index
            next_index += 1
        elif tok != T_WORD:
            raise NgError("EINVAL")
        else:
            tok2, _start2, ln2 = get_token(s, start + ln)
            if tok2 != T_EQUALS:
                index = next_index
                next_index += 1
            else:
                val, end = kstrtol(s, start, 0)
                ul = ULONG_MAX if abs(val) > ULONG_MAX else val % (1 << 64)
                if end - start != ln or ul == ULONG_MAX:
                    raise NgError("EINVAL")
                index = ul & 0xFFFFFFFF
                next_index = index + 1
                off = start + ln + ln2  # *off += len + len2
        if index >= num:
            raise NgError("E2BIG")
        if index in foff:
            raise NgError("EALREADY")
        off = get_token(s, off)[1]  # the blanks before the value
        foff[index] = off
        off += skip_value(s, off)


class ParseType:
    """Base of the ASCII types; values are plain JSON-able Python data."""

    def parse(self, s: str, off: int) -> tuple[Any, int]:
        raise NotImplementedError

    def unparse(self, v: Any) -> str:
        raise NotImplementedError

    def default(self) -> Any:
        return 0


class IntType(ParseType):
    """8/16/32/64-bit integer; parsing accepts both the signed and the unsigned range."""

    def __init__(self, bits: int, signed: bool = False):
        self.bits = bits
        self.signed = signed

    def parse(self, s: str, off: int) -> tuple[int, int]:
        val, end = kstrtol(s, off)
        if end == off:
            raise NgError("EINVAL")
        lo = -(1 << (self.bits - 1))
        hi = (1 << self.bits) - 1
        if self.bits == 64:
            lo, hi = -(1 << 64), (1 << 64) - 1
        if val < lo or val > hi:
            raise NgError("EINVAL")
        val &= (1 << self.bits) - 1
        if self.signed and val >= 1 << (self.bits - 1):
            val -= 1 << self.bits
        return val, end

    def unparse(self, v: int) -> str:
        return "%d" % v


class HexIntType(IntType):
    """ng_parse_hint{8,16,32,64}_type: parsed as the integer types, printed ``0x%x``."""

    def unparse(self, v: int) -> str:
        return "0x%x" % (v & ((1 << self.bits) - 1))


class StringType(ParseType):
    """Fixed or variable length string: quoted in ASCII."""

    def parse(self, s: str, off: int) -> tuple[str, int]:
        tok, start, _ = get_token(s, off)
        if tok != T_STRING:
            raise NgError("EINVAL")
        return decode_string(s, start)

    def unparse(self, v: str) -> str:
        return encode_string(v)

    def default(self) -> str:
        return ""


class FixedStringType(StringType):
    """ng_parse_fixedstring_type (hookbuf, nodebuf): a string of at most ``size - 1``
    bytes in a ``size``-byte buffer; longer is E2BIG (ng_fixedstring_parse)."""

    def __init__(self, size: int):
        self.size = size

    def parse(self, s: str, off: int) -> tuple[str, int]:
        text, end = super().parse(s, off)
        if len(text.encode("utf-8", "surrogateescape")) + 1 > self.size:
            raise NgError("E2BIG")
        return text, end


def parse_octets(s: str, i: int, count: int, base: int, sep: str) -> tuple[list[int], int]:
    """``count`` numbers 0..255 (strtoul in ``base``) joined by ``sep``, as ng_enaddr_parse
    reads a MAC and ng_ksocket_sockaddr_parse an IPv4 address: (octets, end); EINVAL when
    a number is missing or out of range or a separator is missing."""
    octets = []
    for k in range(count):
        val, end = kstrtol(s, i, base)
        if end == i or val < 0 or val > 0xFF:
            raise NgError("EINVAL")
        octets.append(val)
        i = end
        if k < count - 1:
            if i >= len(s) or s[i] != sep:
                raise NgError("EINVAL")
            i += 1
    return octets, i


class EnaddrType(ParseType):
    """Ethernet address ``xx:xx:xx:xx:xx:xx`` (ng_parse_enaddr_type)."""

    def parse(self, s: str, off: int) -> tuple[str, int]:
        octets, i = parse_octets(s, off, 6, 16, ":")
        return ":".join("%02x" % o for o in octets), i

    def unparse(self, v: str) -> str:
        return v

    def default(self) -> str:
        return "00:00:00:00:00:00"


class StructType(ParseType):
    """A C struct: ``{ name=value ... }``, fields in any order, omitted fields default."""

    def __init__(self, fields: list[tuple[str, ParseType]]):
        self.fields = fields

    def default(self) -> dict[str, Any]:
        return {name: t.default() for name, t in self.fields}

    def parse(self, s: str, off: int) -> tuple[dict[str, Any], int]:
        foff, end = composite_positions(s, off, names=[name for name, _ in self.fields])
        return {name: t.parse(s, foff[i])[0] if i in foff else t.default()
                for i, (name, t) in enumerate(self.fields)}, end

    def unparse(self, v: dict[str, Any]) -> str:
        parts = []
        for name, t in self.fields:
            fv = v.get(name, t.default())
            if fv == t.default():
                continue
            parts.append(" %s=%s" % (name, t.unparse(fv)))
        return "{" + "".join(parts) + (" " if parts else "") + "}"


class ArrayType(ParseType):
    """A fixed-length C array: ``[ v0 v1 ... ]`` with optional ``index=value``."""

    def __init__(self, elem: ParseType, length: int):
        self.elem = elem
        self.length = length

    def default(self) -> list[Any]:
        return [self.elem.default() for _ in range(self.length)]

    def parse(self, s: str, off: int) -> tuple[list[Any], int]:
        foff, end = composite_positions(s, off, length=self.length)
        return [self.elem.parse(s, foff[i])[0] if i in foff else self.elem.default()
                for i in range(self.length)], end

    def unparse(self, v: list[Any]) -> str:
        parts = []
        expect = 0
        d = self.elem.default()
        for i, ev in enumerate(v):
            if ev == d:
                continue
            label = "" if i == expect else "%d=" % i
            parts.append(" %s%s" % (label, self.elem.unparse(ev)))
            expect = i + 1
        return "[" + "".join(parts) + (" " if parts else "") + "]"


class VarArrayType(ArrayType):
    """ng_parse_array_type: an array whose length comes from the data (a count field of
    the enclosing struct, e.g. ``numHosts``); the value is a list of that length. Only
    replies use it here, so parsing accepts nothing but an empty ``[ ]``."""

    def __init__(self, elem: ParseType):
        super().__init__(elem, 0)

    def default(self) -> list[Any]:
        return []


INT8 = IntType(8, signed=True)
UINT8 = IntType(8)
INT16 = IntType(16, signed=True)
UINT16 = IntType(16)
INT32 = IntType(32, signed=True)
UINT32 = IntType(32)
UINT64 = IntType(64)
HINT16 = HexIntType(16)
HINT32 = HexIntType(32)
STRING = StringType()
HOOKBUF = FixedStringType(32)  # NG_HOOKSIZ
ENADDR = EnaddrType()
