"""A JSON Schema honoured exactly: what the grammar enforces while decoding, what is checked after.

llguidance enforces most of JSON Schema token by token and refuses the rest (``not``, ``oneOf``,
``uniqueItems``, ``if``/``then``/``else``, unknown formats, some intersections...). Rather than
refusing the schema, :func:`relax` gives the tightest schema llguidance compiles that accepts
every value the user's schema accepts (a superset), and names the keywords it left out; the
finished answer is then checked with :func:`check` (``jsonschema``, formats asserted), and the
caller resamples an answer that fails. The rewrites that need no compile (and :data:`KEYWORDS`,
the table README prints) are in rewrite.py, the numbers llguidance misreads in numbers.py, the
relaxations for each kind of llguidance error in relaxations.py; here is the loop that tries them,
the compile (``validate``: a GrammarEngine's builds the matcher it decodes with) and the cache.
"""

from __future__ import annotations

import gc
import json
import re
import time
import urllib.parse
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import EdgeQwenError, GrammarError, InvalidRequestError
from ..jsontext import nesting
from ..types import check_text
from .digits import BOUND, Widths, widths
from .kept import Kept
from .matcher import default_limits, matcher_limits, over_limit, panic_message
from .numbers import crash_message, misread_multiples
from .refs import documents, fan_out, meta_schema_refs_local, own_refs_local, points_nowhere
from .relaxations import (
    ANNOTATIONS_ONLY,
    FIXES,
    drop_min_max_properties,
    drop_undecided_lengths,
    drop_unsatisfiable_refs,
    readable_patterns,
)
from .rewrite import (
    ENFORCED_FORMATS,
    KEYWORDS,
    Draft3RequiredWarning,
    OpenAPINullableWarning,
    UnknownFormatWarning,
    dependencies_in_grammar,
    dialect,
    rewrite,
    validator_class,
)
from .schema import ANY_JSON, FREE_KEY, decoding_schema

__all__ = [
    "ANNOTATIONS_ONLY",
    "Draft3RequiredWarning",
    "ENFORCED_FORMATS",
    "INTERNAL",
    "KEYWORDS",
    "MAX_FAN_OUT",
    "MAX_SCHEMA_DEPTH",
    "OpenAPINullableWarning",
    "Relaxed",
    "SlowCompileWarning",
    "UnknownFormatWarning",
    "Validate",
    "check_grammar_text",
    "compiles",
    "refuse_costly",
    "relax",
    "validate_grammar",
    "warn_if_slow",
]


_MAX_STEPS = 8  # relaxations tried, one per kind of llguidance error, before "any JSON"


@dataclass(frozen=True)
class Relaxed:
    """``schema``: what the grammar enforces (accepts every value the user's schema accepts,
    unless narrowed to be finite); ``grammar``: its llguidance grammar; ``checked_after``: the
    keywords it leaves to :func:`check` (empty: the grammar is exact); ``digits``: how many digits
    a number may have while decoding (the bound digits.DigitLimit keeps, widened by the schema's own)."""

    schema: dict[str, Any]
    grammar: str = ""
    checked_after: tuple[str, ...] = ()
    lenient: bool = False  # llguidance must also ignore keywords it cannot enforce
    digits: Widths = BOUND

    @property
    def exact(self) -> bool:
        return not self.checked_after


_UNDECIDED = re.compile(r"Unable to determine if regex is empty")
_REMOTE = re.compile(r"Resource '([^']*)' is not present in a registry")
_NOWHERE = re.compile(r"Pointer '([^']*)' does not exist")
_TOO_NARROW = re.compile(r"Unsatisfiable|regex is empty|schema too large")
# What llguidance says of decoding_schema's own narrowing of objects and arrays where it meets the
# schema's (its any-JSON definition and key pattern, the member count it adds)
_COUNTS_REFUSED = "min/maxProperties only supported"  # llguidance's words, as an error or a warning
_SHAPED_BY_US = re.compile(f"{ANY_JSON}|{re.escape(FREE_KEY)}|{_COUNTS_REFUSED}")
_UNIMPLEMENTED = re.compile(r"Unimplemented keys: \[(.*?)\]")
# Lenient (as a schema with a keyword llguidance does not implement is compiled), llguidance warns
# of the min/maxProperties it refuses otherwise and builds them anyway, wrongly: the count is held
# to the keys ``properties`` does not name, so OpenAPI 3.0's Responses (minProperties 1, "default"
# optional) refused ``{"default": {...}}``. Such a warning is read as the refusal it was.
_COUNTS = re.compile(r'"m(?:in|ax)Properties"')
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


def _misreads_counts(grammar: str) -> bool:
    """Whether llguidance, lenient, warns that it built ``grammar``'s min/maxProperties wrongly
    (see _COUNTS): a second build, of the few lenient schemas that count an object's keys."""
    from llguidance import LLMatcher

    try:
        _, messages = LLMatcher.validate_grammar_with_warnings(grammar, limits=matcher_limits())
    except BaseException as exc:
        panic_message(exc)  # anything but llguidance's panic is raised again
        return False
    return any(_COUNTS_REFUSED in message for message in messages)


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
    readable_patterns(schema)


# A compile slower than this warns (it is still used, and kept: the wait is paid once). It was a
# refusal, paid again on every request, and by wall-clock time: a schema a laptop compiles in 3 s
# (an HL7 FHIR resource: ~680 definitions) could be refused on a Pi's slower cores.
COMPILE_TIME_LIMIT_S = 10.0


class SlowCompileWarning(UserWarning):
    """A response format that took more than ``COMPILE_TIME_LIMIT_S`` to compile (kept for later answers)."""


def warn_if_slow(elapsed: float) -> None:
    if elapsed > COMPILE_TIME_LIMIT_S:
        warnings.warn(
            f"Compiling this response format took {elapsed:.1f} s; it is kept for the answers that follow. "
            "A smaller schema (fewer definitions reached, smaller unions) compiles faster.",
            SlowCompileWarning,
            stacklevel=4,
        )


# How deep a schema's own objects and arrays may nest. llguidance's JSON reader stops at 128 levels
# of the grammar, which holds the schema 3 levels down and a tool's parameters 4 more; the deepest
# real schema of the corpora here nests 27.
MAX_SCHEMA_DEPTH = 100
# How many subschemas the check may evaluate against one value (refs.fan_out): 5-10 µs each. The
# most of 1,797 real schemas (the slice, SchemaStore) is AWS SAM's 1,897, an anyOf of resource types.
MAX_FAN_OUT = 100_000
INTERNAL = "a bug in edgeqwen"  # how a crash inside relax() is reported (tests look for it)
# Relaxed schemas kept, by their texts' length too: one of 830 kB holds about 1.3 MB
_CACHE_SIZE, _CACHE_CHARS = 256, 16 << 20
_cache: Kept[tuple[str, int | None, bool], Relaxed] = Kept(_CACHE_SIZE, _CACHE_CHARS)
_misses = 0


def _relax_text(text: str, max_string: int | None, bound_patterns: bool, validate: Validate) -> Relaxed:
    global _misses
    key = (text, max_string, bound_patterns)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    _misses += 1
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
    warn_if_slow(time.perf_counter() - start)
    _cache.put(key, relaxed, len(text))
    return relaxed


def check_grammar_text(text: Any, what: str) -> None:
    """A GrammarError where ``text`` (a schema's, a regex's, a Lark grammar's) is not valid Unicode:
    no model writes a lone surrogate, and llguidance's UTF-8 encoding raised UnicodeEncodeError on one."""
    try:
        check_text(text, what)
    except InvalidRequestError as exc:
        raise GrammarError(str(exc)) from exc


def refuse_costly(schema: dict[str, Any], text: str) -> None:
    """A GrammarError where the check could not read the schema's patterns (unreadable, or too large
    to build: patterns.py), or would evaluate too many subschemas against one value (refs.fan_out).
    ``text``: the schema's JSON, to skip the walks most schemas need not."""
    if '"pattern' in text:
        readable_patterns(schema)
    # without references or unevaluated*, what the check evaluates is at most the schema's size
    if ('Ref"' in text or 'ref"' in text or '"unevaluated' in text) and (count := fan_out(schema)) > MAX_FAN_OUT:
        raise GrammarError(
            f"The JSON Schema's references fan out: checking one value would evaluate about {count:,} subschemas "
            f"(at most {MAX_FAN_OUT:,}), as when an allOf, anyOf or oneOf refers twice to a definition that does "
            "the same, level after level, or each level closes the one it extends with unevaluatedProperties. "
            "Refer to each shared part once, and close the object once, where it is used."
        )


def _too_deep() -> GrammarError:
    return GrammarError(
        f"The JSON Schema nests its objects and arrays more than {MAX_SCHEMA_DEPTH} levels deep, which "
        "edgeqwen cannot compile; define the deep parts under $defs and refer to them with $ref."
    )


def _not_json(schema: Any) -> GrammarError:
    """What json.dumps refused in a schema built in Python: where the value that is no JSON is."""
    seen: set[int] = set()

    def find(node: Any, path: str) -> str | None:
        if isinstance(node, (str, int, float, bool)) or node is None:
            return None
        if not isinstance(node, (dict, list, tuple)):
            return f"{path or '/'} is {node!r:.60}, a Python {type(node).__name__}"
        if id(node) in seen:
            return f"{path or '/'} is the schema object itself, or one above it (a cycle of Python objects)"
        seen.add(id(node))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(node, dict) and not isinstance(key, (str, int, float, bool)) and key is not None:
                return f"a key under {path or '/'} is {key!r:.60}, a Python {type(key).__name__}"
            found = find(value, f"{path}/{key}")
            if found:
                return found
        seen.discard(id(node))
        return None

    where = find(schema, "") or "a value"
    return GrammarError(
        f"The JSON Schema is not JSON: {where}. Pass only dicts, lists, strings, numbers, booleans and None "
        "(a type or a default written as a Python object: use its JSON value; a shared part: $ref)."
    )


def _relaxed(text: str, max_string: int | None, bound_patterns: bool, validate: Validate) -> Relaxed:
    schema = json.loads(text)  # a fresh copy, relaxed in place
    if nesting(schema, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH:
        raise _too_deep()
    if "\\ud" in text:  # a UTF-16 escape: an astral character, or a lone surrogate no model can write
        check_grammar_text(json.dumps(schema, ensure_ascii=False), "The JSON Schema")
    if schema is True:  # JSON Schema's boolean schemas: any value, or none
        schema = {}
    if schema is False:
        raise GrammarError("The JSON Schema allows no value: it is `false`.")
    if not isinstance(schema, dict):
        raise GrammarError(f"A JSON Schema must be a JSON object, got {type(schema).__name__}.")
    refuse_costly(schema, text)
    own_refs_local(schema)
    copied = meta_schema_refs_local(schema, text, dialect(schema))  # the rewrites read the copy too
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
        if error is None and options.get("lenient") and _COUNTS.search(text) and _misreads_counts(grammar):
            if (fixed := drop_min_max_properties(schema, compiles)) is not None:
                dropped.add(fixed)  # left to the check
                continue
        if error is None:
            return Relaxed(decoding, grammar, tuple(sorted(after)), bool(options.get("lenient")), widths(text))
        if said:
            enforce = False  # the dependencies said in the grammar may be what it cannot take
            continue
        remote = _REMOTE.search(error)
        if remote:
            # llguidance names the first remote reference it meets, in an order that varies from run
            # to run: name every document the schema refers to, sorted, so the refusal is stable
            ids, refs = documents(json.loads(text))
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
            and points_nowhere(json.loads(text), nowhere.group(1))
        ):
            # a reference the user wrote to nothing (a remote one's fragment is reported the same way):
            # every answer would fail the check when it reached it, so say so before decoding
            raise GrammarError(
                f"The schema's $ref '#{nowhere.group(1)}' points at nothing in the schema; fix the reference "
                "or add what it names (e.g. under $defs)."
            )
        if drop_unsatisfiable_refs(schema, error, (lambda: _compile(schema, options)[1]) if max_string else None):
            continue  # exact: nothing is left to the check, and the decoding bounds stay
        if _UNDECIDED.search(error) and (fixed := drop_undecided_lengths(schema, compiles)):
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
        fixes = [fix for pattern, fix in FIXES if pattern.search(error)]
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
    grammar = _compile(decoding, BASE_OPTIONS, validate)[0]
    return Relaxed(decoding, grammar, ("the whole schema",), digits=widths(text))


_NAMED = 5  # remote documents a refusal names before "and N more"


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
    try:
        text = json.dumps(schema)  # not sorted: property order is the order generated
    except RecursionError as exc:
        raise _too_deep() from exc
    except (TypeError, ValueError) as exc:  # a Python object, or a cycle of them ("Circular reference")
        raise _not_json(schema) from exc
    return _relax_text(text, max_string, bound_patterns, validate)
