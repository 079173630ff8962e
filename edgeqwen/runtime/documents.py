"""A schema that refers to other documents, and those documents passed in: one schema.

edgeqwen fetches nothing (a response format must not reach the network), so a schema that refers
to other files, as SchemaStore's refer to each other by URL, was refused. The caller can pass the
documents instead, as validators take them (jsonschema's registry, ajv's ``addSchema``):
:func:`bundled` copies each document a reference reaches under the schema's ``$defs`` and points
every reference to it, and within it, there. The grammar and the check then read one
self-contained schema, so nothing downstream changes.
"""

from __future__ import annotations

import itertools
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from ..errors import GrammarError
from .refs import own_id
from .rewrite import dialect
from .walk import schema_values

__all__ = ["bundled"]

_NAME = "edgeqwen_doc"
# keywords that name a place by something other than a JSON pointer, which a copy under $defs
# would move away from what they mean
_BY_NAME = ("$anchor", "$dynamicAnchor", "$dynamicRef", "$recursiveRef", "$recursiveAnchor")


def bundled(schema: dict[str, Any], resources: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` (a copy) with each document of ``resources`` (URI -> schema) that a reference
    reaches, directly or through another such document, under ``$defs`` and every reference to it
    pointed there. References to documents not given are left as they are (and refused, named,
    when the schema is compiled)."""
    docs: dict[str, Any] = {}
    for uri, doc in resources.items():
        if not isinstance(uri, str) or not isinstance(doc, (dict, bool)):
            raise GrammarError("resources maps each document's URI (a string) to its JSON Schema (a dict).")
        docs[urllib.parse.urldefrag(uri)[0]] = doc
    root = json.loads(json.dumps(schema))  # the caller's dict stays as it is
    if not isinstance(root.get("$defs", {}), dict):
        raise GrammarError("Invalid JSON Schema at $defs: it must be an object.")
    home = urllib.parse.urldefrag(own_id(root) or "")[0]
    names: dict[str, str] = {}  # a document's URI -> its name under $defs
    todo: list[str] = []

    def name_of(uri: str) -> str:
        if uri not in names:
            taken = set(root.get("$defs", {})) | set(names.values())
            names[uri] = next(n for i in itertools.count() if (n := f"{_NAME}_{i}") not in taken)
            todo.append(uri)
        return names[uri]

    def point(node: Any, base: str, where: str, embedded: bool) -> None:
        """References in ``node`` (of the document at ``base``, copied at ``where``) pointed home.
        A document's own ``$id`` is taken off before it is read, so any ``$id`` met is a part's."""
        if isinstance(node, list):
            for item in node:
                point(item, base, where, embedded)
            return
        if not isinstance(node, dict):
            return
        if embedded and isinstance(node.get("$id"), str):
            raise GrammarError(
                f"The document {base!r} names a part of itself by $id {node['$id']!r}, which edgeqwen cannot "
                "bundle; refer to that part by its JSON pointer (#/...) instead."
            )
        if embedded and (used := [k for k in _BY_NAME if k in node]):
            raise GrammarError(f"The document {base!r} uses {used[0]}, which edgeqwen cannot bundle.")
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = urllib.parse.urljoin(base, ref)
            uri, fragment = urllib.parse.urldefrag(target)
            if fragment and not fragment.startswith("/"):
                if embedded:
                    raise GrammarError(f"The document {base!r} refers to {ref!r} by an anchor; use a JSON pointer.")
            elif uri == base and embedded:
                node["$ref"] = where + fragment
            elif uri in docs and uri != home:
                node["$ref"] = f"#/$defs/{name_of(uri)}{fragment}"
            elif uri == home and embedded:
                node["$ref"] = "#" + fragment
            elif embedded:
                node["$ref"] = target  # a document not given: named as it resolves when refused
        for value in schema_values(node):
            point(value, base, where, embedded)

    point(root, home, "#", embedded=False)
    while todo:
        uri = todo.pop()
        doc = json.loads(json.dumps(docs[uri]))
        if isinstance(doc, dict):
            if "$schema" in doc and dialect(doc) != dialect(root):
                raise GrammarError(
                    f"The document {uri!r} is written for JSON Schema {dialect(doc)} and the schema for "
                    f"{dialect(root)}; edgeqwen bundles documents of the schema's own draft only."
                )
            base = urllib.parse.urldefrag(urllib.parse.urljoin(uri, own_id(doc) or ""))[0]  # its $id, if any
            doc.pop("$id", None), doc.pop("id", None), doc.pop("$schema", None)
            point(doc, base, f"#/$defs/{names[uri]}", embedded=True)
        root.setdefault("$defs", {})[names[uri]] = doc
    return root
