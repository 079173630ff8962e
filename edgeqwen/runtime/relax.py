"""A JSON Schema honoured exactly: what the grammar enforces while decoding, what is checked after.

llguidance enforces most of JSON Schema token by token and refuses the rest (``not``, ``oneOf``,
``uniqueItems``, ``if``/``then``/``else``, unknown formats, some intersections...). Rather than
refusing the schema, :func:`relax` gives the tightest schema llguidance compiles that accepts
every value the user's schema accepts (a superset), and names the keywords it left out; the
finished answer is then checked with :func:`check` (``jsonschema``, formats asserted), and the
caller resamples an answer that fails. The rewrites that need no compile (and :data:`KEYWORDS`,
the table README prints) are in rewrite.py; here are the relaxations driven by llguidance's
errors, the compile (``validate``: a GrammarEngine's builds the matcher it decodes with), the
cache and the check.
"""

from __future__ import annotations

import gc
import json
import re
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

from ..errors import EdgeQwenError, GrammarError
from .matcher import default_limits, matcher_limits, over_limit, panic_message
from .numbers import BOUNDS, crash_message, misread_multiples
from .patterns import ecma_pattern, loosened_patterns
from .rewrite import (
    ENFORCED_FORMATS,
    KEYWORDS,
    OpenAPINullableWarning,
    UnknownFormatWarning,
    dependencies_in_grammar,
    dialect,
    nested_ids,
    own_id,
    rewrite,
    validator_class,
)
from .schema import ANY_JSON, FREE_KEY, decoding_schema
from .walk import replace_refs, schema_values, walk

__all__ = [
    "ANNOTATIONS_ONLY",
    "ENFORCED_FORMATS",
    "INTERNAL",
    "KEYWORDS",
    "OpenAPINullableWarning",
    "Relaxed",
    "UnknownFormatWarning",
    "Validate",
    "compiles",
    "relax",
    "validate_grammar",
]


_MAX_STEPS = 8  # relaxations tried, one per kind of llguidance error, before "any JSON"


@dataclass(frozen=True)
class Relaxed:
    """``schema``: what the grammar enforces (accepts every value the user's schema accepts,
    unless narrowed to be finite); ``grammar``: its llguidance grammar; ``checked_after``: the
    keywords it leaves to :func:`check` (empty: the grammar is exact)."""

    schema: dict[str, Any]
    grammar: str = ""
    checked_after: tuple[str, ...] = ()
    lenient: bool = False  # llguidance must also ignore keywords it cannot enforce

    @property
    def exact(self) -> bool:
        return not self.checked_after


# -- relaxations, one per kind of llguidance error -------------------------------------------
# Each returns what it left to the check (None: it changed nothing); this, where it took out only
# words the check ignores as well, so the grammar stays exact
ANNOTATIONS_ONLY = "annotations"


def _drop_bad_patterns(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    """A pattern llguidance cannot read becomes the tightest superset it can (its assertions
    removed: CloudFormation's ids are ``^(?!00000000-...)[0-9a-f]{8}-...$`` or ``\\A...\\Z``), else
    goes; the check after reads the schema's own."""
    changed = False
    decoded: dict[str, str | None] = {}  # a pattern -> what the grammar reads for it (one compile each)
    for node in walk(schema):
        pattern = node.get("pattern")
        if not isinstance(pattern, str):
            continue
        if pattern not in decoded:
            if compiles({"type": "string", "pattern": pattern}):
                decoded[pattern] = pattern
            else:
                _python_regex(pattern)  # one the check cannot run either is the schema's mistake
                loose = (p for p in loosened_patterns(pattern) if compiles({"type": "string", "pattern": p}))
                decoded[pattern] = next(loose, None)
        if decoded[pattern] is None:
            del node["pattern"]
        elif decoded[pattern] != pattern:
            node["pattern"] = decoded[pattern]
        changed = changed or decoded[pattern] != pattern
    return "pattern" if changed else None


def _drop_undecided_lengths(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    """llguidance cannot always tell whether a pattern leaves any string within a length bound
    ("Unable to determine if regex is empty": ``^aws\\.partner(/[A-Za-z0-9]+){2,}$`` in at most 256
    characters), and refuses the schema. The patterns (and a node's branches) stay in the grammar;
    the lengths of a node that compiles only without them go to the check."""
    defs = {k: schema[k] for k in ("definitions", "$defs") if isinstance(schema.get(k), dict)}
    changed = False
    undecided: dict[str, bool] = {}  # a node's JSON -> its lengths must go (CloudFormation repeats its strings)
    for node in walk(schema):
        if not (node.keys() & _STRING_BOUNDS and node.keys() & _STRING_SHAPES):
            continue
        text = json.dumps(node, sort_keys=True)
        if text not in undecided:
            whole = defs | node
            undecided[text] = not compiles(whole) and compiles(
                {k: v for k, v in whole.items() if k not in _STRING_BOUNDS}
            )
        if undecided[text]:
            for bound in _STRING_BOUNDS & node.keys():
                del node[bound]
            changed = True
    return "minLength/maxLength" if changed else None


def _python_regex(pattern: str) -> None:
    """A pattern the check after cannot read (it reads them as the ``regex`` module does) is refused."""
    try:
        ecma_pattern(pattern)
    except regex.error as exc:
        raise GrammarError(f"Invalid JSON Schema: the pattern {pattern!r} does not compile ({exc}).") from exc


def _readable_patterns(schema: dict[str, Any]) -> None:
    """Every pattern and key pattern the check will read, read now: llguidance takes some that are
    no regex (``abc\\``, a lone backslash at the end), and the check refused them only after a whole
    answer was decoded."""
    for node in walk(schema):
        if isinstance(node.get("pattern"), str):
            _python_regex(node["pattern"])
        if isinstance(node.get("patternProperties"), dict):
            for pattern in node["patternProperties"]:
                _python_regex(pattern)


def _merge_pattern_properties(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    """Overlapping (or uncompilable) patternProperties: every key not named in ``properties`` may
    then hold a value of any of their schemas (or of additionalProperties)."""
    changed = False
    for node in walk(schema):
        pp = node.get("patternProperties")
        if not isinstance(pp, dict) or not pp:
            continue
        if len(pp) == 1 and compiles({"type": "object", "patternProperties": pp}):
            continue
        _fold_patterns(node, pp)
        changed = True
    return "patternProperties" if changed else None


def _fold_patterns(node: dict[str, Any], pp: dict[str, Any]) -> None:
    """patternProperties into additionalProperties: a key not named may hold any of their values."""
    extra = node.get("additionalProperties", True)
    options = [*pp.values(), *([] if extra is False else [extra])]
    node["additionalProperties"] = True if any(o is True or o == {} for o in options) else {"anyOf": options}
    del node["patternProperties"]


def _drop(schema: dict[str, Any], name: str, keys: Callable[[dict[str, Any]], list[str]]) -> str | None:
    """Delete ``keys(node)`` from every schema object; ``name`` if that changed anything."""
    changed = False
    for node in walk(schema):
        for key in keys(node):
            del node[key]
            changed = True
    return name if changed else None


def _huge(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > 2**53


def _drop_huge_bounds(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    return _drop(schema, "minimum/maximum", lambda node: [k for k in BOUNDS if _huge(node.get(k))])


def _drop_min_max_properties(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    counts = ("minProperties", "maxProperties")
    return _drop(schema, "minProperties/maxProperties", lambda node: [k for k in counts if k in node])


def _drop_ref_siblings(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    def siblings(node: dict[str, Any]) -> list[str]:
        return [k for k in node if k in KEYWORDS and k != "$ref"] if "$ref" in node else []

    return _drop(schema, "$ref siblings", siblings)


def _drop_all_of(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    return _drop(schema, "allOf", lambda node: ["allOf"] if "allOf" in node else [])


def _drop_unknown_annotations(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    """Words JSON Schema gives no meaning beside a reference, or an ``anyOf`` of them: llguidance
    counts them as keywords to intersect, which it cannot on a recursive reference (pydantic's
    recursive discriminated unions fell back to any JSON). The check ignores them as well."""
    changed = False
    for node in walk(schema):
        branches = node.get("anyOf")
        if "$ref" in node or (isinstance(branches, list) and any(type(b) is dict and "$ref" in b for b in branches)):
            for key in [k for k in node if _unknown_annotation(k, node[k])]:
                del node[key]
                changed = True
    return ANNOTATIONS_ONLY if changed else None


def _untangle_cycles(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    """A recursive reference llguidance must intersect with something: keywords beside an
    ``anyOf`` with a reference among its branches (it adds them to each branch), and a pattern that
    matches a named property (both schemas apply to that key). Left to the check: those keywords,
    and the pattern for named keys (folded into additionalProperties)."""
    dropped = []
    for node in walk(schema):
        branches = node.get("anyOf")
        if isinstance(branches, list) and any(isinstance(b, dict) and "$ref" in b for b in branches):
            beside = [k for k in node if k in KEYWORDS and k not in ("anyOf", "$ref")]
            for key in beside:
                del node[key]
            dropped += beside
        pp, named = node.get("patternProperties"), node.get("properties")
        if isinstance(pp, dict) and isinstance(named, dict) and any(_matches(p, k) for p in pp for k in named):
            _fold_patterns(node, pp)
            dropped.append("patternProperties")
    return "/".join(sorted(set(dropped))) or None


# What llguidance reads as annotations; any other word it does not implement counts as a keyword
# beside a reference, which it cannot take on a recursive one (pydantic writes "discriminator"
# beside every discriminated union; OpenAPI "nullable", "deprecated", "x-..."; llguidance 1.9)
_LLGUIDANCE_ANNOTATIONS = frozenset(("$anchor", "$defs", "definitions", "$schema", "$id", "id", "$comment", "title",
                                     "description", "default", "readOnly", "writeOnly", "examples",
                                     "contentMediaType", "contentEncoding", "x-guidance"))  # fmt: skip


def _unknown_annotation(key: str, value: Any) -> bool:
    """A word JSON Schema gives no meaning, which no reference could point into (not an object, or
    OpenAPI's discriminator)."""
    return (
        key not in KEYWORDS
        and key not in _LLGUIDANCE_ANNOTATIONS
        and (type(value) is not dict or key == "discriminator")
    )


def _matches(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return True  # a pattern Python cannot read: assume it overlaps


_UNSATISFIABLE_AT = re.compile(r"^Unsatisfiable schema.*\n\s*while processing [^#\s]*(#/\S+)", re.S)


def _drop_unsatisfiable_refs(schema: dict[str, Any], error: str, as_given: Callable[[], str | None] | None) -> bool:
    """llguidance drops an anyOf branch or an optional property that allows no value when it is
    written in place, but refuses the whole schema when it is reached through a ``$ref`` (a
    SchemaStore schema: a definition closed to every key whose oneOf branches each require one,
    used as an anyOf branch beside a string). Each reference to it becomes ``false``, exactly the
    values it allows: dropped where it was optional, still failing the schema where it was not.
    ``as_given``: the error of the schema without the decoding bounds, where they were applied;
    only a subschema that allows nothing there too is dropped (else the bounds are what to undo)."""
    found = _UNSATISFIABLE_AT.search(error)
    if found is None:
        return False
    if as_given is not None:
        again = _UNSATISFIABLE_AT.search(as_given() or "")
        if again is None or again.group(1) != found.group(1):
            return False
    return replace_refs(schema, found.group(1), False)


# llguidance's message -> the relaxation that removes its cause (each keeps a superset)
_FIXES: tuple[tuple[re.Pattern[str], Callable[[dict[str, Any], Callable[[Any], bool]], str | None]], ...] = (
    (re.compile(r"patternProperty|patternProperties"), _merge_pattern_properties),
    (re.compile(r"regex|look-?around|lookahead", re.I), _drop_bad_patterns),
    (re.compile(r"regex|look-?around", re.I), _merge_pattern_properties),
    (re.compile(r"integer range|number range"), _drop_huge_bounds),
    (re.compile(r"min/maxProperties|minProperties|maxProperties"), _drop_min_max_properties),
    (re.compile(r"circular references with sibling"), _drop_unknown_annotations),
    (re.compile(r"circular references with sibling"), _drop_ref_siblings),
    (re.compile(r"circular references with sibling"), _drop_all_of),
    (re.compile(r"circular references with sibling"), _untangle_cycles),
    (re.compile(r"intersection|allOf"), _drop_all_of),
)


_UNDECIDED = re.compile(r"Unable to determine if regex is empty")
_STRING_BOUNDS = frozenset(("minLength", "maxLength"))
_STRING_SHAPES = frozenset(("pattern", "format", "anyOf", "allOf", "oneOf", "$ref"))
_REMOTE = re.compile(r"Resource '([^']*)' is not present in a registry")
_NOWHERE = re.compile(r"Pointer '([^']*)' does not exist")
_TOO_NARROW = re.compile(r"Unsatisfiable|regex is empty|schema too large")
# What llguidance says of decoding_schema's own narrowing of objects and arrays where it meets the
# schema's (its any-JSON definition and key pattern, the member count it adds)
_SHAPED_BY_US = re.compile(f"{ANY_JSON}|{re.escape(FREE_KEY)}|min/maxProperties only supported")
_UNIMPLEMENTED = re.compile(r"Unimplemented keys: \[(.*?)\]")
BASE_OPTIONS = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}


# Compiles a grammar and says what is wrong with it (None: nothing). The default needs no
# tokenizer; a GrammarEngine passes one that builds the matcher it will decode with and keeps it,
# so a new schema is compiled once, not once to check and again to decode.
Validate = Callable[[str], "str | None"]


def validate_grammar(grammar: str) -> str | None:
    """llguidance's first error for ``grammar`` without a tokenizer (None: it compiles)."""
    from llguidance import LLMatcher

    if (crash := crash_message(grammar)) is not None:
        return crash
    try:
        is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar, limits=default_limits())
        if is_error and over_limit(messages[0]):
            # too big for llguidance's defaults: matchers run with raised limits (matcher_limits)
            is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar, limits=matcher_limits())
    except BaseException as exc:
        return panic_message(exc)
    return messages[0] if is_error else None


def _grammar(schema: dict[str, Any], options: dict[str, Any]) -> str:
    """llguidance's grammar text for a JSON Schema with ``options`` (its ``x-guidance``), as
    ``LLMatcher.grammar_from_json_schema`` writes it; built here because json.dumps is about twice
    as fast as that call's conversion of the Python object (2 ms of a large schema's compile)."""
    own = schema.get("x-guidance")
    body = {**schema, "x-guidance": {**own, **options} if isinstance(own, dict) else options}
    return '{"grammars":[{"name":"json_schema","json_schema":' + json.dumps(body) + "}]}"


def _compile(
    schema: dict[str, Any], options: dict[str, Any], validate: Validate = validate_grammar
) -> tuple[str, str | None]:
    """llguidance's grammar for this schema, and its error (None: it compiles)."""
    grammar = _grammar(schema, options)
    return grammar, validate(grammar)


def _refuse_invalid(schema: dict[str, Any], error: str) -> None:
    """A schema that is not valid JSON Schema, or that no value satisfies, is the caller's to fix:
    relaxing it would only hide the mistake."""
    import jsonschema

    if error.startswith("Unsatisfiable schema"):
        why = error.splitlines()[0][len("Unsatisfiable schema: ") :]
        if why == "anyOf is empty":  # llguidance's words for an empty enum, type list or anyOf
            why = "a part it requires allows none (an empty `enum`, `anyOf` or `type` list, or `not: {}`)"
        raise GrammarError(f"The JSON Schema allows no value: {why}.")
    cls = validator_class(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
        raise GrammarError(f"Invalid JSON Schema at {where}: {exc.message[:200]}") from exc
    _readable_patterns(schema)


COMPILE_TIME_LIMIT_S = 10.0
INTERNAL = "a bug in edgeqwen"  # how a crash inside relax() is reported (tests look for it)
_CACHE_SIZE = 256
_lock = threading.Lock()
_cache: OrderedDict[tuple[str, int | None, bool], Relaxed] = OrderedDict()
_misses = 0


def _relax_text(text: str, max_string: int | None, bound_patterns: bool, validate: Validate) -> Relaxed:
    global _misses
    key = (text, max_string, bound_patterns)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    _misses += 1
    # the limit is checked here, before the result is cached, so an over-long compile is refused
    # every time it is asked for (an exception is never cached)
    start = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()  # a large schema's parse would set off a full collection mid-compile; after, not during
    try:
        relaxed = _relaxed(text, max_string, bound_patterns, validate)
    except EdgeQwenError:
        raise
    except Exception as exc:  # a rewrite tripping over a keyword's value of the wrong type ("oneOf": null, "type": {})
        _refuse_invalid(json.loads(text), "")  # says where, if the schema is not valid JSON Schema
        raise GrammarError(
            f"edgeqwen could not compile this schema ({type(exc).__name__}: {str(exc)[:200]}). It is valid JSON "
            f"Schema, so this is {INTERNAL}: please report it with the schema."
        ) from exc
    finally:
        if collecting:
            gc.enable()
    elapsed = time.perf_counter() - start
    if elapsed > COMPILE_TIME_LIMIT_S:
        raise GrammarError(f"Compiling this response format took {elapsed:.1f} s; simplify the schema.")
    with _lock:
        _cache[key] = relaxed
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return relaxed


def _relaxed(text: str, max_string: int | None, bound_patterns: bool, validate: Validate) -> Relaxed:
    schema = json.loads(text)  # a fresh copy, relaxed in place
    if schema is True:  # JSON Schema's boolean schemas: any value, or none
        schema = {}
    if schema is False:
        raise GrammarError("The JSON Schema allows no value: it is `false`.")
    if not isinstance(schema, dict):
        raise GrammarError(f"A JSON Schema must be a JSON object, got {type(schema).__name__}.")
    if '"pattern' in text:
        _readable_patterns(schema)
    _own_refs_local(schema)
    copied = _META_REF.search(text) is not None and _meta_schema_refs_local(schema)  # the rewrites read the copy too
    dropped: set[str] = set()
    marked = rewrite(schema, json.dumps(schema) if copied else text, dropped, closing=bool(max_string))
    if '"multipleOf"' in text:
        misread_multiples(schema, dropped)
    options: dict[str, Any] = dict(BASE_OPTIONS)

    def compiles(s: Any) -> bool:
        return _compile(s, options)[1] is None

    refused_invalid = False
    enforce, said = True, 0
    shape = True  # decoding_schema closes objects and bounds free-form ones and arrays
    for _ in range(_MAX_STEPS):
        decoding, after = decoding_schema(schema, max_string, bound_patterns, shape), dropped
        if marked:
            if decoding is schema:  # (decoding_schema copies it where it narrows anything)
                decoding = json.loads(json.dumps(decoding))  # a JSON tree: 3-5x faster than deepcopy
            left, said = dependencies_in_grammar(decoding, enforce)
            after = dropped | left
        grammar, error = _compile(decoding, options, validate)
        if error is None:
            return Relaxed(decoding, grammar, tuple(sorted(after)), bool(options.get("lenient")))
        if said:
            enforce = False  # the dependencies said in the grammar may be what it cannot take
            continue
        remote = _REMOTE.search(error)
        if remote:
            # llguidance names the first remote reference it meets, in an order that varies from run
            # to run: name every document the schema refers to, sorted, so the refusal is stable
            ids, refs = _documents(json.loads(text))
            elsewhere = sorted(refs - ids)
            if not elsewhere and urllib.parse.urldefrag(remote.group(1))[0] in ids:
                raise GrammarError(
                    f"The schema refers to {remote.group(1)!r} by the $id of a part of itself, which edgeqwen "
                    "cannot follow; refer to that part by its JSON pointer (#/$defs/NAME) instead."
                )
            named = ", ".join(repr(uri) for uri in elsewhere[:_NAMED]) or repr(remote.group(1))
            more = f" and {len(elsewhere) - _NAMED} more" if len(elsewhere) > _NAMED else ""
            raise GrammarError(
                f"The schema refers to {named}{more}, which edgeqwen does not fetch; pass "
                f"{'that document' if len(elsewhere) < 2 else 'those documents'} by URI "
                "(ResponseFormat.of(schema, resources={uri: document})), or put "
                f"{'it' if len(elsewhere) < 2 else 'each'} under $defs and refer to it as #/$defs/NAME."
            )
        nowhere = _NOWHERE.search(error)
        if (
            nowhere
            and json.dumps("#" + nowhere.group(1)) in text
            and _points_nowhere(json.loads(text), nowhere.group(1))
        ):
            # a reference the user wrote to nothing (a remote one's fragment is reported the same way):
            # every answer would fail the check when it reached it, so say so before decoding
            raise GrammarError(
                f"The schema's $ref '#{nowhere.group(1)}' points at nothing in the schema; fix the reference "
                "or add what it names (e.g. under $defs)."
            )
        if _drop_unsatisfiable_refs(schema, error, (lambda: _compile(schema, options)[1]) if max_string else None):
            continue  # exact: nothing is left to the check, and the decoding bounds stay
        if _UNDECIDED.search(error) and (fixed := _drop_undecided_lengths(schema, compiles)):
            dropped.add(fixed)  # before the decoding bounds are stepped back for it (below)
            continue
        if max_string and shape and _SHAPED_BY_US.search(error):
            shape = False  # objects and arrays as the schema gives them; strings and numbers still bounded
            continue
        if max_string and _TOO_NARROW.search(error):
            # made finite, it allows nothing (a pattern whose values are longer than the bound), or
            # too large: bound patterns no more, then shape objects no more, then leave it as given
            if bound_patterns:
                bound_patterns = False
            elif shape:
                shape = False
            else:
                max_string = None
            continue
        unimplemented = _UNIMPLEMENTED.search(error)
        if unimplemented and not options.get("lenient"):
            # keywords where this walk does not look (under a non-standard key): llguidance skips them
            options["lenient"] = True
            dropped.update(k.strip(' "') for k in unimplemented.group(1).split(","))
            continue
        fixes = [fix for pattern, fix in _FIXES if pattern.search(error)]
        if (not fixes or error.startswith("Expected ")) and not refused_invalid:
            # an error no relaxation is for, or a keyword's value of the wrong type ("Expected
            # positive integer for 'minProperties', got \"2\""): is it the schema's own mistake?
            _refuse_invalid(json.loads(text), error)
            refused_invalid = True
        fixed = next((name for fix in fixes if (name := fix(schema, compiles))), None)
        if fixed is None:
            break
        if fixed != ANNOTATIONS_ONLY:
            dropped.add(fixed)
    # nothing narrower compiles: any JSON, and the check decides
    decoding = decoding_schema({}, max_string, bound_patterns)
    return Relaxed(decoding, _compile(decoding, BASE_OPTIONS, validate)[0], ("the whole schema",))


def _own_refs_local(schema: dict[str, Any]) -> None:
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


def _meta_schema_refs_local(schema: dict[str, Any]) -> bool:
    """References into a JSON Schema meta-schema of the draft the schema is read as, made local: the
    meta-schema is copied under ``$defs`` (its own references moved with it) for llguidance, which
    fetches nothing and read such a reference as one into the schema itself. The check resolves the
    reference as written (jsonschema ships the meta-schemas). True where one was copied."""
    if not isinstance(schema.get("$defs", {}), dict):
        return False
    draft = dialect(schema)
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


_NAMED = 5  # remote documents a refusal names before "and N more"


def _documents(schema: Any) -> tuple[set[str], set[str]]:
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


def _points_nowhere(schema: dict[str, Any], pointer: str) -> bool:
    """True when the JSON pointer names nothing in the schema as its author wrote it, as jsonschema
    resolves it (the same rules as the check after), and no nested ``$id`` makes it relative to
    another part: llguidance's error is then the schema's mistake, not a rewrite's."""
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    if nested_ids(schema):
        return False
    base = "urn:edgeqwen:schema"
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    try:
        Registry().with_resource(base, resource).resolver(base).lookup("#" + pointer)
    except (Unresolvable, TypeError):  # TypeError: referencing indexes into a number or a string
        return True
    return False


def compiles() -> int:
    """How many schemas :func:`relax` has compiled in this process (its cache misses)."""
    return _misses


def relax(
    schema: Any, max_string: int | None = None, bound_patterns: bool = True, validate: Validate = validate_grammar
) -> Relaxed:
    """The tightest schema llguidance compiles that accepts every value ``schema`` accepts (made
    finite by :func:`~edgeqwen.runtime.schema.decoding_schema` when ``max_string`` is set), its
    grammar, and what it leaves out. Cached per schema; unknown formats warn once per schema.
    ``validate`` compiles each grammar tried (see :data:`Validate`); it is not part of the key."""
    # not sorted: property order is the order generated
    return _relax_text(json.dumps(schema), max_string, bound_patterns, validate)
