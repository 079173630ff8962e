"""A JSON Schema honoured exactly: what the grammar enforces while decoding, what is checked after.

llguidance enforces most of JSON Schema token by token and refuses the rest (``not``, ``oneOf``,
``uniqueItems``, ``if``/``then``/``else``, unknown formats, some intersections...). Rather than
refusing the schema, :func:`relax` gives the tightest schema llguidance compiles that accepts
every value the user's schema accepts (a superset), and names the keywords it left out; the
finished answer is then checked with :func:`check` (``jsonschema``, formats asserted), and the
caller resamples an answer that fails. :data:`KEYWORDS` is the table README prints.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import GrammarError
from .schema import decoding_schema

__all__ = [
    "ENFORCED_FORMATS",
    "KEYWORDS",
    "Relaxed",
    "UnknownFormatWarning",
    "Violation",
    "check",
    "compiles",
    "matcher_limits",
    "relax",
]


class UnknownFormatWarning(UserWarning):
    """A ``format`` JSON Schema does not define: an annotation, as 2019-09 and later say it is."""


# Formats llguidance enforces while decoding; the other standard ones are checked after.
ENFORCED_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid", "uri"}
)
# checked after (jsonschema's checkers; iri and iri-reference are not among them: their checker
# costs 3 s per import, so they are annotations like unknown formats)
STANDARD_FORMATS = ENFORCED_FORMATS | {
    "idn-email", "idn-hostname", "uri-reference", "uri-template", "json-pointer",
    "relative-json-pointer", "regex",
}  # fmt: skip

DECODING, PARTLY, AFTER = "enforced in decoding", "in decoding where it can, else checked after", "checked after"
# How each validation keyword is honoured (annotations such as title/description/default are not listed).
KEYWORDS: dict[str, str] = {
    "type": DECODING, "enum": DECODING, "const": DECODING, "anyOf": DECODING, "$ref": DECODING,
    "properties": DECODING, "required": DECODING, "additionalProperties": DECODING,
    "items": DECODING, "prefixItems": DECODING, "minItems": DECODING, "maxItems": DECODING,
    "minLength": DECODING, "maxLength": DECODING,
    "minimum": DECODING, "maximum": DECODING, "exclusiveMinimum": DECODING, "exclusiveMaximum": DECODING,
    "multipleOf": DECODING,
    "format": PARTLY, "pattern": PARTLY, "patternProperties": PARTLY, "allOf": PARTLY, "oneOf": PARTLY,
    "minProperties": PARTLY, "maxProperties": PARTLY,
    "not": AFTER, "if": AFTER, "then": AFTER, "else": AFTER, "uniqueItems": PARTLY,
    "dependentRequired": AFTER, "dependentSchemas": AFTER, "dependencies": AFTER,
    "contains": AFTER, "minContains": AFTER, "maxContains": AFTER, "propertyNames": AFTER,
    "unevaluatedProperties": AFTER, "unevaluatedItems": AFTER, "additionalItems": DECODING,
}  # fmt: skip

# Where subschemas sit: a schema, a list of schemas, a map of schemas.
_ONE = ("items", "additionalProperties", "additionalItems", "not", "if", "then", "else", "contains",
        "propertyNames", "unevaluatedProperties", "unevaluatedItems")  # fmt: skip
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")
# left out of the grammar (uniqueItems only where _unique_choices cannot say it)
_DROPPED = (*(k for k, how in KEYWORDS.items() if how == AFTER), "uniqueItems")
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


_HOLDS = {**dict.fromkeys(_ONE, "one"), **dict.fromkeys(_MANY, "many"), **dict.fromkeys(_MAP, "map")}


def _subschemas(node: dict[str, Any]) -> Iterator[Any]:
    for key, value in node.items():
        kind = _HOLDS.get(key)
        if kind is None:
            continue
        if isinstance(value, dict):
            if kind == "map":
                yield from (v for v in value.values() if isinstance(v, dict))
            else:
                yield value
        elif isinstance(value, list) and kind == "many":
            yield from (v for v in value if isinstance(v, dict))


def _walk(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema object in ``schema`` (each once), parents before children."""
    stack, seen = [schema], set()
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(reversed(list(_subschemas(node))))


def _distinct_branches(branches: list[Any]) -> bool:
    """No value can match two branches: each pair differs in its type, or in the const/enum of a
    property both require. Then ``anyOf`` says exactly what ``oneOf`` does."""

    def types(b: dict[str, Any]) -> set[str] | None:
        t = b.get("type")
        if t is None:
            return None
        found = set(t) if isinstance(t, list) else {t}
        return found | {"number"} if "integer" in found else found | ({"integer"} if "number" in found else set())

    def values(b: dict[str, Any], key: str) -> list[Any] | None:
        prop = (b.get("properties") or {}).get(key)
        if key not in (b.get("required") or ()) or not isinstance(prop, dict):
            return None
        return [prop["const"]] if "const" in prop else prop.get("enum")

    if not all(isinstance(b, dict) for b in branches):
        return False
    for i, a in enumerate(branches):
        for b in branches[i + 1 :]:
            ta, tb = types(a), types(b)
            if ta is not None and tb is not None and not ta & tb:
                continue
            keys = set(a.get("properties") or {}) & set(b.get("properties") or {})
            if not any(
                (va := values(a, k)) is not None
                and (vb := values(b, k)) is not None
                and not any(x == y for x in va for y in vb)
                for k in keys
            ):
                return False
    return True


_STATIC_WORK = re.compile('"(?:' + "|".join(re.escape(k) for k in (*_DROPPED, "oneOf", "format")) + ')":')
_UNIQUE_CHOICES = 100  # the most arrays a uniqueItems-of-an-enum is spelled out as


def _resolve(node: Any, root: dict[str, Any]) -> Any:
    """A local ``#/$defs/X`` (or ``#/definitions/X``) reference followed, once."""
    ref = node.get("$ref") if isinstance(node, dict) else None
    if isinstance(ref, str) and ref.count("/") == 2 and ref.split("/")[1] in ("$defs", "definitions"):
        return (root.get(ref.split("/")[1]) or {}).get(ref.split("/")[2], node)
    return node


def _unique_choices(node: dict[str, Any], root: dict[str, Any]) -> bool:
    """``uniqueItems`` over a small enum, said exactly: the node becomes the list of every array
    of distinct values its length bounds allow (in any order). False where that list is too long."""
    items = _resolve(node.get("items"), root)
    if not isinstance(items, dict) or "prefixItems" in node or "contains" in node:
        return False
    values = [items["const"]] if "const" in items else items.get("enum")
    if not isinstance(values, list) or not values or len(values) > 6:
        return False
    values = [v for i, v in enumerate(values) if v not in values[:i]]
    low, high = int(node.get("minItems", 0)), min(int(node.get("maxItems", len(values))), len(values))
    arrays = [list(p) for n in range(low, high + 1) for p in itertools.permutations(values, n)]
    if len(arrays) > _UNIQUE_CHOICES:
        return False
    for key in ("items", "minItems", "maxItems", "uniqueItems"):
        node.pop(key, None)
    node["enum"] = arrays
    return True


def _static(schema: dict[str, Any], dropped: set[str]) -> None:
    """Drop in place what llguidance cannot enforce, naming it in ``dropped``."""
    for node in _walk(schema):
        if node.get("uniqueItems") is True:
            _unique_choices(node, schema)  # enforced in decoding where it can be
        for key in _DROPPED:
            if key in node and not (key == "uniqueItems" and node[key] is False):
                value = node.pop(key)
                if not (key == "dependencies" and isinstance(value, dict) and not any(value.values())):
                    dropped.add(key)  # (empty dependency lists constrain nothing)
        if "oneOf" in node:
            branches = node.pop("oneOf")
            if not _distinct_branches(branches):
                dropped.add("oneOf")
            if "anyOf" in node:
                node.setdefault("allOf", []).append({"anyOf": branches})
            else:
                node["anyOf"] = branches
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt not in ENFORCED_FORMATS:
            del node["format"]
            if fmt in STANDARD_FORMATS:
                dropped.add("format")
            else:
                warnings.warn(
                    f"format {fmt!r} is not one edgeqwen checks: treated as an annotation, as JSON Schema "
                    "2019-09 and later treat formats.",
                    UnknownFormatWarning,
                    stacklevel=2,
                )


# -- relaxations, one per kind of llguidance error -------------------------------------------
def _drop_bad_patterns(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    changed = False
    for node in _walk(schema):
        if isinstance(node.get("pattern"), str) and not compiles({"type": "string", "pattern": node["pattern"]}):
            _python_regex(node["pattern"])  # one the check cannot run either is the schema's mistake
            del node["pattern"]
            changed = True
    return "pattern" if changed else None


def _python_regex(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise GrammarError(f"Invalid JSON Schema: the pattern {pattern!r} does not compile ({exc}).") from exc


def _merge_pattern_properties(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    """Overlapping (or uncompilable) patternProperties: every key not named in ``properties`` may
    then hold a value of any of their schemas (or of additionalProperties)."""
    changed = False
    for node in _walk(schema):
        pp = node.get("patternProperties")
        if not isinstance(pp, dict) or not pp:
            continue
        if len(pp) == 1 and compiles({"type": "object", "patternProperties": pp}):
            continue
        extra = node.get("additionalProperties", True)
        options = [s for s in pp.values()] + ([] if extra is False else [extra])
        node["additionalProperties"] = True if any(o is True or o == {} for o in options) else {"anyOf": options}
        del node["patternProperties"]
        changed = True
    return "patternProperties" if changed else None


def _drop(schema: dict[str, Any], name: str, keys: Callable[[dict[str, Any]], list[str]]) -> str | None:
    """Delete ``keys(node)`` from every schema object; ``name`` if that changed anything."""
    changed = False
    for node in _walk(schema):
        for key in keys(node):
            del node[key]
            changed = True
    return name if changed else None


def _huge(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > 2**53


def _drop_huge_bounds(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    bounds = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    return _drop(schema, "minimum/maximum", lambda node: [k for k in bounds if _huge(node.get(k))])


def _drop_min_max_properties(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    counts = ("minProperties", "maxProperties")
    return _drop(schema, "minProperties/maxProperties", lambda node: [k for k in counts if k in node])


def _drop_ref_siblings(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    def siblings(node: dict[str, Any]) -> list[str]:
        return [k for k in node if k in KEYWORDS and k != "$ref"] if "$ref" in node else []

    return _drop(schema, "$ref siblings", siblings)


def _drop_all_of(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    return _drop(schema, "allOf", lambda node: ["allOf"] if "allOf" in node else [])


# llguidance's message -> the relaxation that removes its cause (each keeps a superset)
_FIXES: tuple[tuple[re.Pattern[str], Callable[[dict[str, Any], Callable[[Any], bool]], str | None]], ...] = (
    (re.compile(r"patternProperty|patternProperties"), _merge_pattern_properties),
    (re.compile(r"regex|look-?around|lookahead", re.I), _drop_bad_patterns),
    (re.compile(r"regex|look-?around", re.I), _merge_pattern_properties),
    (re.compile(r"integer range|number range"), _drop_huge_bounds),
    (re.compile(r"min/maxProperties|minProperties|maxProperties"), _drop_min_max_properties),
    (re.compile(r"circular references with sibling"), _drop_ref_siblings),
    (re.compile(r"circular references with sibling"), _drop_all_of),
    (re.compile(r"intersection|allOf"), _drop_all_of),
)


_REMOTE = re.compile(r"Resource '([^']*)' is not present in a registry")
_TOO_NARROW = re.compile(r"Unsatisfiable|regex is empty")
_UNIMPLEMENTED = re.compile(r"Unimplemented keys: \[(.*?)\]")
BASE_OPTIONS = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}


def _compile(schema: Any, options: dict[str, Any]) -> tuple[str, str | None]:
    """llguidance's grammar for this schema, and its error (None: it compiles)."""
    from llguidance import LLMatcher

    try:
        grammar = LLMatcher.grammar_from_json_schema(schema, overrides=options)
    except ValueError as exc:
        return "", str(exc)
    is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar, limits=_limits(DEFAULT_LIMITS))
    if is_error and _OVER_LIMIT.search(messages[0]):
        # too big for llguidance's defaults: matchers run with raised limits (matcher_limits)
        is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar, limits=matcher_limits())
    return grammar, (messages[0] if is_error else None)


# llguidance's resource limits. Matchers get more parser/lexer fuel per step and a larger grammar
# than its defaults (a step that needs them costs tens of ms, rarely; a grammar that needs them
# would otherwise be refused), never more lexer states (their memory, ~2 kB each, is what a Pi lacks).
DEFAULT_LIMITS: dict[str, int] = {}
RAISED_LIMITS = {
    "initial_lexer_fuel": 4_000_000,
    "step_lexer_fuel": 800_000,
    "step_max_items": 200_000,
    "max_grammar_size": 2_000_000,
}
_OVER_LIMIT = re.compile(r"too big|too complex|TooComplex|fuel|limit", re.I)


def _limits(values: dict[str, int]) -> Any:
    from llguidance import LLParserLimits

    return LLParserLimits(**values, verbose_errors=False) if values else None


def matcher_limits() -> Any:
    """The ``LLParserLimits`` every matcher runs with (see RAISED_LIMITS)."""
    return _limits(RAISED_LIMITS)


def _refuse_invalid(schema: dict[str, Any], error: str) -> None:
    """A schema that is not valid JSON Schema, or that no value satisfies, is the caller's to fix:
    relaxing it would only hide the mistake."""
    import jsonschema

    if error.startswith("Unsatisfiable schema"):
        raise GrammarError(
            f"The JSON Schema allows no value: {error.splitlines()[0][len('Unsatisfiable schema: ') :]}."
        )
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
        raise GrammarError(f"Invalid JSON Schema at {where}: {exc.message[:200]}") from exc
    for node in _walk(schema):
        if isinstance(node.get("pattern"), str):
            _python_regex(node["pattern"])


COMPILE_TIME_LIMIT_S = 10.0


@lru_cache(maxsize=256)
def _relax_text(text: str, max_string: int | None, bound_patterns: bool) -> Relaxed:
    # the limit is checked here, before the result is cached, so an over-long compile is refused
    # every time it is asked for (an exception is never cached)
    start = time.perf_counter()
    relaxed = _relaxed(text, max_string, bound_patterns)
    elapsed = time.perf_counter() - start
    if elapsed > COMPILE_TIME_LIMIT_S:
        raise GrammarError(f"Compiling this response format took {elapsed:.1f} s; simplify the schema.")
    return relaxed


def _relaxed(text: str, max_string: int | None, bound_patterns: bool) -> Relaxed:
    schema = json.loads(text)  # a fresh copy, relaxed in place
    if not isinstance(schema, dict):
        raise GrammarError(f"A JSON Schema must be a JSON object, got {type(schema).__name__}.")
    dropped: set[str] = set()
    if _STATIC_WORK.search(text):  # most schemas use none of these: no walk
        _static(schema, dropped)
    options: dict[str, Any] = dict(BASE_OPTIONS)

    def compiles(s: Any) -> bool:
        return _compile(s, options)[1] is None

    refused_invalid = False
    for _ in range(_MAX_STEPS):
        decoding = decoding_schema(schema, max_string, bound_patterns)
        grammar, error = _compile(decoding, options)
        if error is None:
            return Relaxed(decoding, grammar, tuple(sorted(dropped)), bool(options.get("lenient")))
        remote = _REMOTE.search(error)
        if remote:
            raise GrammarError(
                f"The schema refers to {remote.group(1)!r}, which edgeqwen does not fetch; put that schema "
                "under $defs and refer to it as #/$defs/NAME."
            )
        if max_string and _TOO_NARROW.search(error):
            # made finite, it allows nothing (a pattern whose values are longer than the bound):
            # bound patterns no more, then leave it as given
            bound_patterns, max_string = False, (max_string if bound_patterns else None)
            continue
        unimplemented = _UNIMPLEMENTED.search(error)
        if unimplemented and not options.get("lenient"):
            # keywords where this walk does not look (under a non-standard key): llguidance skips them
            options["lenient"] = True
            dropped.update(k.strip(' "') for k in unimplemented.group(1).split(","))
            continue
        fixes = [fix for pattern, fix in _FIXES if pattern.search(error)]
        if not fixes and not refused_invalid:  # an error no relaxation is for: is it the schema's own?
            _refuse_invalid(json.loads(text), error)
            refused_invalid = True
        fixed = next((name for fix in fixes if (name := fix(schema, compiles))), None)
        if fixed is None:
            break
        dropped.add(fixed)
    # nothing narrower compiles: any JSON, and the check decides
    decoding = decoding_schema({}, max_string, bound_patterns)
    return Relaxed(decoding, _compile(decoding, BASE_OPTIONS)[0], ("the whole schema",))


def compiles() -> int:
    """How many schemas :func:`relax` has compiled in this process (its cache misses)."""
    return _relax_text.cache_info().misses


def relax(schema: Any, max_string: int | None = None, bound_patterns: bool = True) -> Relaxed:
    """The tightest schema llguidance compiles that accepts every value ``schema`` accepts (made
    finite by :func:`~edgeqwen.runtime.schema.decoding_schema` when ``max_string`` is set), its
    grammar, and what it leaves out. Cached per schema; unknown formats warn once per schema."""
    # not sorted: property order is the order generated
    return _relax_text(json.dumps(schema), max_string, bound_patterns)


# -- the check after ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Violation:
    """Why a value is not valid: the keyword that fails, where, and jsonschema's message."""

    keyword: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.keyword!r} at {self.path}: {self.message}"


@lru_cache(maxsize=256)
def _validator(text: str) -> Any:
    import jsonschema

    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def check(value: Any, schema: Any) -> Violation | None:
    """Why ``value`` is not valid for ``schema``, or None. Standard formats are asserted (not
    annotations), as decoding enforces them."""
    import jsonschema
    from referencing.exceptions import Unresolvable

    try:
        validator = _validator(json.dumps(schema))
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except (Unresolvable, jsonschema.exceptions.UnknownType, re.error, RecursionError) as exc:
        raise GrammarError(f"The schema cannot be checked: {str(exc).splitlines()[0][:300]}") from exc
    if error is None:
        return None
    where = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
    return Violation(str(error.validator), where, error.message[:300])
