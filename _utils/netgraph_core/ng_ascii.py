"""ng_parse's ASCII argument language (``{ a=1 b=[ 2 3 ] }``), both ways (pure; no Salt).

The grammar is the one ``sys/netgraph/ng_parse.c`` reads and writes: structs in braces,
arrays in brackets, C-escaped double-quoted strings, integers in C notation. Fields the
kernel leaves at their default are omitted when it prints, so a parsed reply lacks them.
"""
from __future__ import annotations

import re

_PUNCT = "{}[]="
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "v": "\v", "f": "\f", "a": "\a", "b": "\b",
                   '"': '"', "\\": "\\", "'": "'", "?": "?"}
_INT_RE = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def _read_quoted(text, pos):
    """Read a C-escaped double-quoted string starting at text[pos] == '"'.
    Returns (value, raw, new_pos)."""
    assert text[pos] == '"'
    out, i = [], pos + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), text[pos : i + 1], i + 1
        if ch == "\\":
            i += 1
            if i >= len(text):
                break
            esc = text[i]
            if esc in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[esc])
                i += 1
            elif esc in "01234567":
                digits = re.match(r"[0-7]{1,3}", text[i:]).group(0)
                out.append(chr(int(digits, 8)))
                i += len(digits)
            elif esc == "x":
                digits = re.match(r"[0-9a-fA-F]{0,2}", text[i + 1 :]).group(0)
                if not digits:
                    raise ValueError(f"bad \\x escape at offset {i}")
                out.append(chr(int(digits, 16)))
                i += 1 + len(digits)
            else:
                raise ValueError(f"unknown escape \\{esc} at offset {i}")
            continue
        out.append(ch)
        i += 1
    raise ValueError("unterminated quoted string")


def _tokenize(text):
    """ng_parse tokens: ('punct', ch) | ('str', value) | ('word', text)."""
    tokens, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _PUNCT:
            tokens.append(("punct", ch))
            i += 1
        elif ch == '"':
            value, _, i = _read_quoted(text, i)
            tokens.append(("str", value))
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _PUNCT:
                if text[i] == '"':  # e.g. ksocket's local/"/path": keep the word whole
                    _, _, i = _read_quoted(text, i)
                    continue
                i += 1
            tokens.append(("word", text[start:i]))
    return tokens


_OCTAL_RE = re.compile(r"[+-]?0[0-7]+")


def _word_value(word):
    if word.isdecimal() and word.isascii() and (word[0] != "0" or len(word) == 1):
        return int(word)  # plain decimal, the counters' form: _INT_RE's [1-9][0-9]*|0 without a regex
    if _INT_RE.fullmatch(word):
        return int(word, 8) if _OCTAL_RE.fullmatch(word) else int(word, 0)
    return word


def _flat_struct(text: str):
    """The common reply shape, a struct of bare words (``{ data link type=1 conf=11 }``:
    ifinfo, info, v9info), read with a few splits: the dict the generic parser gives, or
    None for any other shape (nested, quoted, an array, or text it refuses), left to it.
    Bare words are what its tokenizer reads (str.split's whitespace is str.isspace's)."""
    body = text.strip()
    if len(body) < 2 or body[0] != "{" or body[-1] != "}":
        return None
    inner = body[1:-1]
    if "{" in inner or "}" in inner or "[" in inner or "]" in inner or '"' in inner:
        return None
    parts = inner.split("=")
    if len(parts) == 1:
        return None if parts[0].split() else {}
    result: dict = {}
    names = parts[0].split()
    for index in range(1, len(parts)):
        words = parts[index].split()  # the value, then the next field's name
        last = index == len(parts) - 1
        if not names or not words or (len(words) != 1 if last else len(words) < 2):
            return None
        key = " ".join(names)
        if key in result:
            return None
        result[key] = _word_value(words[0])
        names = words[1:]
    return result


def _default_like(value):
    if isinstance(value, dict):
        return {}
    if isinstance(value, list):
        return []
    if isinstance(value, str):
        return ""
    return 0


class _AsciiParser:
    def __init__(self, text):
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self):
        token = self.peek()
        if token is None:
            raise ValueError("unexpected end of ASCII argument text")
        self.pos += 1
        return token

    def value(self):
        kind, val = self.take()
        if kind == "punct":
            if val == "{":
                return self.struct()
            if val == "[":
                return self.array()
            raise ValueError(f"unexpected {val!r} where a value was expected")
        if kind == "str":
            return val
        return _word_value(val)

    def _closed(self, closer: str, what: str) -> bool:
        """True (and the closer consumed) at the end of a struct or array."""
        token = self.peek()
        if token is None:
            raise ValueError(f"missing '{closer}' at the end of {what}")
        if token == ("punct", closer):
            self.pos += 1
            return True
        return False

    def struct(self):
        result = {}
        while not self._closed("}", "a struct"):
            # A field name is every word up to the next '=' ("IPv4 bytes=...").
            words = []
            while True:
                kind, val = self.take()
                if kind == "word":
                    words.append(val)
                elif (kind, val) == ("punct", "="):
                    break
                else:
                    raise ValueError(f"unexpected {val!r} in a struct field name")
            if not words:
                raise ValueError("struct field without a name before '='")
            key = " ".join(words)
            if key in result:
                raise ValueError(f"struct field {key!r} given twice")
            result[key] = self.value()
        return result

    def array(self):
        result = []
        while not self._closed("]", "an array"):
            token = self.peek()
            following = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
            if token[0] == "word" and following == ("punct", "=") and re.fullmatch(r"\d+", token[1]):
                index = int(token[1])
                self.pos += 2
                item = self.value()
                if index < len(result):
                    raise ValueError(f"array index label {index}= goes backwards")
                while len(result) < index:
                    result.append(_default_like(item))
                result.append(item)
            else:
                result.append(self.value())
        return result


def parse_ascii(text):
    """Convert ng_parse's ASCII form (what ngctl prints after ``Args:``) to Python.

    struct ``{ a=1 b=2 }`` -> dict (field names may contain spaces, e.g.
    ``IPv4 bytes``); array ``[ 1 2 5=7 ]`` -> list (``N=`` index labels fill the
    skipped elements with their default); integers (base 0, ``0x`` hex, leading
    ``0`` octal) -> int; quoted strings (C escapes) -> str; any other word
    (``inet/127.0.0.1:2055``, a MAC address) -> str.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty ASCII argument text")
    flat = _flat_struct(text)
    if flat is not None:
        return flat
    parser = _AsciiParser(text)
    value = parser.value()
    if parser.peek() is not None:
        raise ValueError(f"unexpected text after the value: {parser.peek()[1]!r}")
    return value


BARE_WORD_RE = re.compile(r"[^\s{}\[\]=\"\\\x00-\x1f\x7f]+")
_FIELD_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _quote(value):
    out = ['"']
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch in "\t\n\r\v\f":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r", "\v": "\\v", "\f": "\\f"}[ch])
        elif ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F:
            # No whitespace inside a token: `ngctl -f` splits its lines on blanks.
            code = ord(ch)
            if code > 0o377:
                raise ValueError(f"character {ch!r} cannot be written in an ng_parse string")
            out.append(f"\\{code:03o}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_ascii(value):
    """Build ng_parse ASCII text from Python data, for message arguments.

    dict -> ``{ a=1 b=2 }``; list -> ``[ 1 1 ]``; bool/int -> decimal; a str that is
    a safe bare word (``inet/10.0.0.1:2055``, a MAC) stays bare, any other str is
    quoted with C escapes. A str already written as a quoted string (``'"em0"'``)
    is kept as is, which is how to pass a string-typed field such as a hook name.
    The result never contains whitespace inside a token, so it is safe in an
    ``ngctl -f`` line.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            try:
                parsed, raw, end = _read_quoted(value, 0)
            except ValueError:
                parsed = None
            else:
                if end == len(value):
                    return _quote(parsed)
        if BARE_WORD_RE.fullmatch(value):
            return value
        return _quote(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        parts = []
        for key, item in value.items():
            if not isinstance(key, str) or not _FIELD_NAME_RE.fullmatch(key):
                raise ValueError(f"struct field name {key!r} is not a plain identifier")
            parts.append(f"{key}={format_ascii(item)}")
        return "{ " + " ".join(parts) + " }"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[ " + " ".join(format_ascii(item) for item in value) + " ]"
    raise ValueError(f"cannot express {type(value).__name__} {value!r} in ng_parse ASCII")
