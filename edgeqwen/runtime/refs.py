"""References in a JSON Schema: JSON pointers and ``$id`` s read, and the references llguidance
would refuse or misread rewritten to the same meaning before it sees them (percent-encoded,
pointed at copies under ``$defs``, made local where they name the schema's own ``$id`` or a
draft's meta-schema, dynamic ones made static where one document leaves them one target); which
documents a schema names, and whether a pointer names nothing.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from .walk import schema_values, subschemas, walk

__all__ = [
    "documents",
    "dynamic_refs_static",
    "fan_out",
    "local_refs_made_llguidance_readable",
    "meta_schema_refs_local",
    "nested_ids",
    "own_id",
    "own_refs_local",
    "pointer",
    "pointer_part",
    "points_nowhere",
    "REF_HOPS",
    "resolve",
]


REF_HOPS = 4  # a reference to a reference to ... is followed this far, then left as it is


def resolve(node: Any, root: dict[str, Any], hops: int = 1) -> Any:
    """A local ``#/$defs/X`` (or ``#/definitions/X``) reference followed, ``hops`` times at most
    (a definition that is itself a reference is followed on)."""
    for _ in range(hops):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not (isinstance(ref, str) and ref.count("/") == 2 and ref.split("/")[1] in ("$defs", "definitions")):
            break
        found = pointer(root, ref)
        if found is None:
            break
        node = found
    return node


# A reference into the schema's body (not a definition of $defs/definitions itself, but also into
# one: "#/definitions/3/task", where "3" holds definitions of its own): relaxing renames or merges
# what it points at ("oneOf" becomes "anyOf", patternProperties merge), and the walk does not reach
# under keys no keyword names, so it points at a copy instead.
_REF_INTO_SCHEMA = re.compile(r'"\$ref": "#/(?!(?:\$defs|definitions)/[^/"]*")')
_HOISTED = "edgeqwen_ref"


def _hoist_refs(schema: dict[str, Any]) -> None:
    """Each ``#/...`` reference into the body is pointed at a copy of its target under ``$defs``
    (same meaning: a local reference names a subschema, wherever it sits). The copies' own
    references are hoisted in turn: a target under a container no keyword names (Vega's "defs")
    may refer to others there, which the walk would not reach otherwise."""
    copies: dict[str, str] = {}
    defs = schema.setdefault("$defs", {})
    if not isinstance(defs, dict):
        return  # not a schema llguidance takes either: refused as invalid
    todo = list(walk(schema))
    while todo:
        node = todo.pop()
        ref = node.get("$ref")
        if not isinstance(ref, str) or not _REF_INTO_SCHEMA.match(f'"$ref": "{ref}"'):
            continue
        if ref not in copies:
            target = pointer(schema, ref)
            if not isinstance(target, (dict, bool)):
                continue  # nothing there, or no schema: llguidance reports it as it is
            name = next(f"{_HOISTED}{i}" for i in itertools.count(len(copies)) if f"{_HOISTED}{i}" not in defs)
            copies[ref] = f"#/$defs/{name}"
            defs[name] = copy.deepcopy(target)
            todo.extend(walk(defs[name]))
        node["$ref"] = copies[ref]


# A local reference with a character a URI does not allow (a space, a letter outside ASCII: `#/$defs/Line
# Item`, `#/$defs/名前`), which jsonschema resolves and llguidance refuses; in JSON text (ASCII) such a
# character is a space or a backslash escape, among others.
_UNQUOTED_REF = re.compile(r'"\$ref": "#[^"]*?[^A-Za-z0-9\-._~!$&\'()*+,;=:@/?%"]')
_REF_SAFE = "/?:@!$&'()*+,;=-._~%"


def _quote_refs(schema: dict[str, Any]) -> None:
    """Such a reference percent-encoded, as a URI writes it: the same definition to both readers."""
    for node in walk(schema):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            node["$ref"] = "#" + urllib.parse.quote(ref[1:], safe=_REF_SAFE)


def pointer_part(part: str) -> str:
    """One segment of a ``#/...`` reference as the key it names (percent- and ``~``-escapes undone)."""
    return urllib.parse.unquote(part).replace("~1", "/").replace("~0", "~")


def pointer(schema: Any, ref: str) -> Any:
    """What the local reference ``ref`` ("#/a/b") names in ``schema``; None where nothing is there."""
    node = schema
    for part in map(pointer_part, ref[2:].split("/")):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isascii() and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def nested_ids(schema: dict[str, Any]) -> bool:
    """Whether a part of the schema has an ``$id`` (or draft 4's ``id``) of its own, which moves the
    base its references resolve against. One that names the schema's own document (a fragment
    alone, draft 4's ``"id": "#annotation"``, as ``$anchor`` does; or the root's own URI) moves
    nothing."""
    root = own_id(schema) or ""
    home = urllib.parse.urldefrag(root)[0]
    return any(
        urllib.parse.urldefrag(urllib.parse.urljoin(root, own))[0] != home
        for node in walk(schema)
        if node is not schema and (own := own_id(node)) is not None
    )


def own_id(node: dict[str, Any]) -> str | None:
    """A schema object's ``$id`` (draft 4: ``id``), where it has one."""
    own = node.get("$id", node.get("id"))
    return own if isinstance(own, str) else None


def own_refs_local(schema: dict[str, Any]) -> None:
    """References to the schema's own ``$id`` ("https://x/s.json#/$defs/a") made local
    ("#/$defs/a"): llguidance looks every absolute reference up in a registry it leaves empty, and
    refused them as remote. Not where a nested ``$id`` moves the base of what lies under it."""
    own = own_id(schema)
    if not own or nested_ids(schema):
        return
    base = urllib.parse.urldefrag(own)[0]
    for node in walk(schema):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            uri, fragment = urllib.parse.urldefrag(urllib.parse.urljoin(own, ref))
            if uri == base:
                node["$ref"] = "#" + fragment


# The meta-schemas a schema may refer into (a field that holds a schema: Swagger 2.0's
# "#/definitions/positiveInteger" of draft 4), copied in from the ones jsonschema ships. Not 2019-09
# and later: those are several documents tied by $dynamicRef.
_META_SCHEMA = re.compile(r"https?://json-schema\.org/(draft-0[467])/schema#?")
_META_REF = re.compile(r'"\$ref": "https?://json-schema\.org/draft-0[467]/')  # in json.dumps's text


def meta_schema_refs_local(schema: dict[str, Any], text: str, draft: str) -> bool:
    """References into the meta-schema of ``draft`` (the dialect the schema is read as) made local
    where ``text`` (the schema's JSON) has one; True where one was copied (see below)."""
    return _META_REF.search(text) is not None and _meta_schema_refs_local(schema, draft)


def _meta_schema_refs_local(schema: dict[str, Any], draft: str) -> bool:
    """References into a JSON Schema meta-schema of the draft the schema is read as, made local: the
    meta-schema is copied under ``$defs`` (its own references moved with it) for llguidance, which
    fetches nothing and read such a reference as one into the schema itself. The check resolves the
    reference as written (jsonschema ships the meta-schemas). True where one was copied."""
    if not isinstance(schema.get("$defs", {}), dict):
        return False
    into_meta = []
    for node in walk(schema):
        ref = node.get("$ref")
        meta = _META_SCHEMA.fullmatch(urllib.parse.urldefrag(ref)[0]) if isinstance(ref, str) else None
        if meta is not None and meta[1] == draft:
            into_meta.append(node)
    if not into_meta:
        return False
    from jsonschema_specifications import REGISTRY

    name = f"json-schema-{draft}-meta-schema"
    pointer = "#/$defs/" + name
    meta_schema = json.loads(json.dumps(REGISTRY.contents(f"http://json-schema.org/{draft}/schema")))
    for key in ("id", "$id", "$schema"):
        meta_schema.pop(key, None)
    for node in walk(meta_schema):
        if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
            node["$ref"] = pointer + node["$ref"][1:]
    for node in into_meta:
        node["$ref"] = pointer + urllib.parse.urldefrag(node["$ref"])[1]
    schema.setdefault("$defs", {})[name] = meta_schema
    return True


def documents(schema: Any) -> tuple[set[str], set[str]]:
    """The documents (URIs without their fragments) the schema is, by its own and its parts'
    ``$id`` s (resolved against those above them; "" for one without), and those its ``$ref`` s name."""
    ids: set[str] = {""}
    refs: set[str] = set()

    def visit(node: Any, base: str) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item, base)
            return
        if not isinstance(node, dict):
            return
        if isinstance(node.get("$id"), str):
            base = urllib.parse.urljoin(base, node["$id"])
            ids.add(urllib.parse.urldefrag(base)[0])
        if isinstance(node.get("$ref"), str):
            refs.add(urllib.parse.urldefrag(urllib.parse.urljoin(base, node["$ref"]))[0])
        for value in schema_values(node):
            visit(value, base)

    visit(schema, "")
    return ids, refs


def points_nowhere(schema: dict[str, Any], fragment: str) -> bool:
    """True when the JSON pointer ``fragment`` names nothing in the schema as its author wrote it,
    as jsonschema resolves it (the same rules as the check after), and no nested ``$id`` makes it
    relative to another part: llguidance's error is then the schema's mistake, not a rewrite's."""
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    if nested_ids(schema):
        return False
    base = "urn:edgeqwen:schema"
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    try:
        Registry().with_resource(base, resource).resolver(base).lookup("#" + fragment)
    except (Unresolvable, TypeError):  # TypeError: referencing indexes into a number or a string
        return True
    return False


def local_refs_made_llguidance_readable(schema: dict[str, Any], text: str) -> None:
    """Local references llguidance would refuse or misread, rewritten to the same meaning (in
    place; ``text``, the schema's JSON, skips the walks nearly every schema needs none of):
    characters a URI does not allow percent-encoded, references into the body pointed at copies."""
    if _UNQUOTED_REF.search(text):
        _quote_refs(schema)
    if _REF_INTO_SCHEMA.search(text):
        _hoist_refs(schema)


def dynamic_refs_static(schema: dict[str, Any], text: str, draft: str) -> None:
    """``$dynamicRef`` (2020-12) and ``$recursiveRef`` (2019-09), which llguidance does not read,
    as the ``$ref`` they are in a schema of one document (no nested ``$id``): a dynamic reference
    moves to the outermost resource of the dynamic scope that declares its anchor, and with one
    resource, and the anchor declared once, that is the anchor itself. An anchor declared twice
    (the "extend this tree" pattern), or a nested ``$id``, is left to the check."""
    if draft not in ("2019-09", "2020-12") or not _DYNAMIC.search(text) or nested_ids(schema):
        return
    nodes = list(walk(schema))
    if draft == "2019-09":
        for node in nodes:
            node.pop("$recursiveAnchor", None)  # it only steers $recursiveRef, made "#" below
            if node.get("$recursiveRef") == "#" and "$ref" not in node:
                node["$ref"] = node.pop("$recursiveRef")
        return
    declared: dict[str, list[dict[str, Any]]] = {}
    for node in nodes:
        if isinstance(node.get("$dynamicAnchor"), str):
            declared.setdefault(node["$dynamicAnchor"], []).append(node)
    static = set()
    for name, found in declared.items():  # a dynamic anchor is a plain one too
        if len(found) == 1 and found[0].setdefault("$anchor", name) == name:
            del found[0]["$dynamicAnchor"]
            static.add(name)
    for node in nodes:
        ref = node.get("$dynamicRef")
        # "#/$defs/a", or a name no dynamic anchor declares, is a plain reference whatever the scope
        if isinstance(ref, str) and ref.startswith("#") and "$ref" not in node:
            if ref[1:] in static or ref[1:] not in declared:
                node["$ref"] = node.pop("$dynamicRef")


_DYNAMIC = re.compile(r'"\$(?:dynamic|recursive)(?:Ref|Anchor)"')


# Where a value is checked against more subschemas in place (jsonschema evaluates each in turn),
# with the part each plays when an unevaluatedProperties/Items asks which keys they evaluated; the
# subschemas under properties, items ... are checked against other values of the answer
_ROLES = {"allOf": "many", "anyOf": "many", "oneOf": "many", "not": "not", "if": "if", "then": "branch",
          "else": "branch", "dependentSchemas": "dep", "dependencies": "dep"}  # fmt: skip
_UNEVALUATED = ("unevaluatedProperties", "unevaluatedItems")
_CAP = 10**12


class _Targets:
    """What each reference in a schema names, as jsonschema resolves it: against the base its
    ``$id`` s set (draft 4's ``id`` too), by JSON pointer or by anchor (``$anchor``,
    ``$dynamicAnchor``, an ``$id`` that is a fragment alone). A ``$dynamicRef`` or
    ``$recursiveRef`` is followed to the target it names in its own document (the dynamic scope
    can move it to another: that one is not counted)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.bases: dict[int, str] = {}
        self.named: dict[str, dict[str, Any]] = {"": schema}
        self.nodes: list[dict[str, Any]] = []
        stack: list[tuple[dict[str, Any], str]] = [(schema, "")]
        while stack:  # iterative: a chain of definitions may nest thousands deep
            node, base = stack.pop()
            if id(node) in self.bases:
                continue
            if "$id" in node or "id" in node or "$anchor" in node or "$dynamicAnchor" in node:
                base = self._name(node, base)
            self.bases[id(node)] = base
            self.nodes.append(node)
            stack.extend((child, base) for child in reversed(subschemas(node)))

    def _name(self, node: dict[str, Any], base: str) -> str:
        """``node``'s names kept; the base what lies under it resolves against."""
        own = own_id(node)
        if own is not None:
            # referencing reads a fragment alone against the base as it is (urljoin drops a urn's)
            joined = base + own if own.startswith("#") else urllib.parse.urljoin(base, own)
            document, fragment = urllib.parse.urldefrag(joined)
            if fragment:
                self.named[f"{document}#{fragment}"] = node
            else:
                base = document
                self.named.setdefault(document, node)
        for key in ("$anchor", "$dynamicAnchor"):
            if isinstance(node.get(key), str):
                self.named.setdefault(f"{base}#{node[key]}", node)
        return base

    def of(self, node: dict[str, Any], ref: str) -> Any:
        base = self.bases.get(id(node), "")
        if ref.startswith("#"):  # nearly every reference: no join to make
            document, fragment = base, ref[1:]
        else:
            document, fragment = urllib.parse.urldefrag(urllib.parse.urljoin(base, ref))
        found = self.named.get(document)
        if found is None or not fragment:
            return found
        if fragment.startswith("/"):
            return pointer(found, "#" + fragment)
        return self.named.get(f"{document}#{fragment}")

    def in_place(self, node: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
        for key in _REFS:
            ref = node.get(key)
            if isinstance(ref, str) and type(target := self.of(node, ref)) is dict:
                yield target, "ref"
        for key, role in _ROLES.items():
            value = node.get(key)
            if type(value) is dict:
                values = value.values() if role == "dep" else (value,)
                yield from ((v, role) for v in values if type(v) is dict)
            elif type(value) is list and role == "many":
                yield from ((v, role) for v in value if type(v) is dict)


_REFS = ("$ref", "$dynamicRef", "$recursiveRef")


def _found(role: str, valid: int, found: int) -> int:
    """What finding the keys a child evaluated costs (jsonschema's find_evaluated_*_by_schema): a
    list's member and ``if`` are validated first, then searched; a reference, a branch and a
    dependent schema only searched; ``not`` never."""
    return valid + found if role in ("many", "if") else 0 if role == "not" else found


def fan_out(schema: Any) -> int:
    """About how many subschemas the check evaluates against one value of an answer, at most, over
    the schema's parts: each in-place subschema, through its references (to the schema's own
    parts, by pointer, ``$id`` or anchor; a reference back to one being evaluated counted once),
    and where ``unevaluatedProperties`` or ``unevaluatedItems`` stands, the search for what its
    neighbours evaluated, which validates an ``anyOf``'s or ``allOf``'s members again. Both grow
    by a factor a level where definitions refer to each other twice, or compose under
    ``unevaluatedProperties``: twenty levels are millions, a schema of 2 kB whose check would run
    for hours. Iterative: a chain of definitions may be thousands long."""
    if type(schema) is not dict:
        return 1
    targets = _Targets(schema)
    memo: dict[int, tuple[int, int]] = {}  # node -> (validating a value, finding what it evaluated)
    on_path: set[int] = set()
    most = 1
    for start in targets.nodes:
        if id(start) in memo:
            continue
        on_path.add(id(start))
        frames: list[list[Any]] = [[start, targets.in_place(start), 1, 0]]  # node, children left, costs
        while frames:
            frame = frames[-1]
            child, role = next(frame[1], (None, ""))
            if child is None:
                frames.pop()
                node, valid, found = frame[0], frame[2], frame[3]
                if any(key in node for key in _UNEVALUATED):
                    valid = min(valid + found, _CAP)
                on_path.discard(id(node))
                memo[id(node)] = (valid, found)
                if frames:
                    parent = frames[-1]
                    parent[2] = min(parent[2] + valid, _CAP)
                    parent[3] = min(parent[3] + _found(parent[4], valid, found), _CAP)
            elif id(child) in memo:
                valid, found = memo[id(child)]
                frame[2] = min(frame[2] + valid, _CAP)
                frame[3] = min(frame[3] + _found(role, valid, found), _CAP)
            elif id(child) in on_path:
                frame[2] += 1
            else:
                on_path.add(id(child))
                frame[4:] = [role]  # the part the child plays, read when it is done
                frames.append([child, targets.in_place(child), 1, 0])
        most = max(most, memo[id(start)][0])
    return most
