"""Strict ``application/x-www-form-urlencoded`` parsing and RFC 3986 component encoding.

``urllib.parse.parse_qsl`` silently keeps malformed percent-escapes and replaces bad UTF-8,
so a value could reach a provider as something other than what the caller sent. These
functions refuse such input instead.
"""

import re
from functools import lru_cache
from urllib.parse import quote

_HEX = frozenset("0123456789abcdefABCDEF")


class MalformedFormData(ValueError):
    """The text is not valid form-urlencoded data; the message says where."""


def decode_component(text: str) -> str:
    """Decode one name or value: ``+`` is a space, ``%XX`` a byte, the bytes must be UTF-8."""
    if "%" not in text:
        return text.replace("+", " ")
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or not (pair[0] in _HEX and pair[1] in _HEX):
                raise MalformedFormData(f"bad percent-encoding at {text[i : i + 3]!r}")
            out.append(int(pair, 16))
            i += 3
        else:
            out.extend(b" " if ch == "+" else ch.encode())
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedFormData("percent-encoded bytes are not valid UTF-8") from exc


def parse_form(text: str) -> list[tuple[str, str]]:
    """Parse ``a=1&b=2&a=3`` into ordered pairs, keeping repeated names.

    Empty segments (``a=1&&b=2``, a trailing ``&``) are skipped, as browsers do; a segment
    with an empty name (``=x``) is an error.
    """
    pairs: list[tuple[str, str]] = []
    for segment in text.split("&"):
        if not segment:
            continue
        raw_name, _, raw_value = segment.partition("=")
        name = decode_component(raw_name)
        if not name:
            raise MalformedFormData(f"empty parameter name in {segment!r}")
        pairs.append((name, decode_component(raw_value)))
    return pairs


def parameter_names(query: str) -> list[str]:
    """Names in an existing URL query, decoded leniently: used only to detect conflicts."""
    names = []
    for segment in query.split("&"):
        raw_name = segment.partition("=")[0]
        if raw_name:
            try:
                names.append(decode_component(raw_name))
            except MalformedFormData:
                names.append(raw_name)
    return names


_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")


def encode_component(text: str) -> str:
    """Percent-encode everything but RFC 3986 unreserved characters (space becomes %20)."""
    if _UNRESERVED.fullmatch(text):  # states, challenges, most ids: nothing to encode
        return text
    return _quoted(text)


@lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    """Redirect URIs and scope lists repeat from request to request."""
    return quote(text, safe="")
