"""pydantic's schemas said in JSON Schema: a Decimal's string form and pydantic's own string
formats (ipaddress types, NameEmail, UUID versions, base64 bytes), which no JSON Schema tool
reads, written as the patterns they stand for, so the grammar and the check enforce them."""

from __future__ import annotations

import copy
import functools
from typing import Any

from .walk import DATA

__all__ = ["DECIMAL_STRING", "PYDANTIC_FORMATS", "pydantic_generator"]

# A decimal written as a JSON string: pydantic's own schema takes any string there, so a model
# decoding an ``amount: Decimal`` could write words (pydantic then refuses them).
DECIMAL_STRING = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?$"  # pydantic refuses E2000000000000


# pydantic's own string formats (ipaddress types, NameEmail) are no JSON Schema format: a grammar
# and the check would read them as annotations, and any string would reach pydantic. Written as
# the shapes Python's ipaddress parses (no leading zeros); a network's host bits are pydantic's
# to check.
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # [0-9]: Python's \d takes any script's digits
_IPV4 = rf"{_OCTET}(\.{_OCTET}){{3}}"
_H = "[0-9a-fA-F]{1,4}"
_IPV6 = (
    rf"({_H}:){{7}}{_H}|({_H}:){{1,7}}:|({_H}:){{1,6}}:{_H}|({_H}:){{1,5}}(:{_H}){{1,2}}|({_H}:){{1,4}}(:{_H}){{1,3}}|"
    rf"({_H}:){{1,3}}(:{_H}){{1,4}}|({_H}:){{1,2}}(:{_H}){{1,5}}|{_H}:(:{_H}){{1,6}}|:((:{_H}){{1,7}}|:)"
)
_V4_NET = rf"{_IPV4}(/(3[0-2]|[12]?[0-9]))?"
_V6_NET = rf"({_IPV6})(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?"
# email-validator, which pydantic's EmailStr runs, wants a dot in the domain ("a@b" is refused)
_DOTTED_DOMAIN = r"@[^@.]+(\.[^@.]+)+$"
# Base64Bytes / Base64UrlBytes as base64 writes them (padded: pydantic refuses "aGVsbG8")
_BASE64 = "^([{0}]{{4}})*([{0}]{{2}}==|[{0}]{{3}}=)?$"
_UUID = "^[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-{0}[0-9a-fA-F]{{3}}-[89abAB][0-9a-fA-F]{{3}}-[0-9a-fA-F]{{12}}$"
PYDANTIC_FORMATS: dict[str, dict[str, Any]] = {
    "ipvanyaddress": {"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
    "ipv4network": {"pattern": f"^{_V4_NET}$"},
    "ipv4interface": {"pattern": f"^{_V4_NET}$"},
    "ipv6network": {"pattern": f"^{_V6_NET}$"},
    "ipv6interface": {"pattern": f"^{_V6_NET}$"},
    "ipvanynetwork": {"pattern": f"^({_V4_NET}|{_V6_NET})$"},
    "ipvanyinterface": {"pattern": f"^({_V4_NET}|{_V6_NET})$"},
    "email": {"format": "email", "pattern": _DOTTED_DOMAIN},
    # UUID4 & co. check the version digit and RFC 4122's variant: a model's "123e4567-e89b-12d3-..."
    # (version 1) was refused after the answer, three times
    **{f"uuid{v}": {"pattern": _UUID.format(v)} for v in range(1, 9)},
    "base64": {"pattern": _BASE64.format("A-Za-z0-9+/")},
    "base64url": {"pattern": _BASE64.format("A-Za-z0-9_-")},
    # strings pydantic takes as they are (bytes read as UTF-8, SecretStr, Path): no check to say,
    # and no "not a format edgeqwen checks" warning for them
    "binary": {},
    "password": {},
    "path": {},
    "name-email": {
        "anyOf": [
            {"format": "email", "pattern": _DOTTED_DOMAIN},
            {"pattern": r"^[^<>@\s][^<>@]* <[^<>@\s]+@[^<>@\s.]+(\.[^<>@\s.]+)+>$"},
        ]
    },
}


def _standard_formats(node: Any) -> None:
    """Each pydantic format in a schema pydantic wrote, as the JSON Schema that says it."""
    if isinstance(node, list):
        for item in node:
            _standard_formats(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in DATA:  # a default or an example is a value, not a schema
                _standard_formats(value)
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt in PYDANTIC_FORMATS and not {"pattern", "anyOf"} & node.keys():
            del node["format"]
            node.update(copy.deepcopy(PYDANTIC_FORMATS[fmt]))  # the schema is rewritten in place later


@functools.cache
def pydantic_generator() -> type:
    """pydantic's JSON Schema generator, with a pattern for a Decimal's string form (every string
    it matches, pydantic reads as a Decimal; older pydantic, without the hook, keeps its own) and
    its own formats said in JSON Schema."""
    from pydantic.json_schema import GenerateJsonSchema

    class Generator(GenerateJsonSchema):
        def get_decimal_pattern(self, schema: Any) -> str | None:
            return getattr(super(), "get_decimal_pattern", lambda _: None)(schema) or DECIMAL_STRING

        def generate(self, schema: Any, mode: Any = "validation") -> dict[str, Any]:
            out = super().generate(schema, mode)
            _standard_formats(out)
            return out

    return Generator
