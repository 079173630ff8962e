"""Rewrites that say a keyword exactly in the grammar: every value the schema takes decodes, and
no other one does where the keyword is no longer left to the check."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from grammars import grammar_takes as _decodes
from grammars import llg_tokenizer
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeqwen.errors import GrammarError
from edgeqwen.runtime.check import check
from edgeqwen.runtime.digits import in_reach
from edgeqwen.runtime.numbers import INTEGER_FORMATS, crashes_llguidance
from edgeqwen.runtime.relax import INTERNAL, relax
from edgeqwen.runtime.schema import DEFAULT_MAX_STRING

KEYS = "abcd"  # the values below write their keys in this order, the properties' (as decoding does)


_BRANCHES = st.lists(st.lists(st.sampled_from(KEYS), max_size=3, unique=True), min_size=2, max_size=3)


@settings(max_examples=25, deadline=None)
@given(_BRANCHES, st.sampled_from(["object", None, ["object", "null"]]), st.booleans(), st.booleans())
def test_one_of_over_required_keys_decodes_exactly_the_objects_that_meet_one_branch(sets, kind, closed, bounded):
    schema: dict = {"properties": {k: {"type": "integer"} for k in KEYS}, "oneOf": [{"required": s} for s in sets]}
    if kind is not None:
        schema["type"] = kind
    if closed:
        schema["additionalProperties"] = False
    relaxed = relax(schema, DEFAULT_MAX_STRING if bounded else None)
    exact = "oneOf" not in relaxed.checked_after
    for value in [*({k: 1 for k in keys} for n in range(5) for keys in itertools.combinations(KEYS, n)), 1, None]:
        valid = check(value, schema) is None
        if valid:
            assert _decodes(relaxed.grammar, value), (sets, value)
        elif exact:
            assert not _decodes(relaxed.grammar, value), (sets, value)


@pytest.mark.parametrize(
    ("sets", "valid", "invalid"),
    [
        ([["S3Destination"], ["KinesisStream"]], {"S3Destination": 1}, {"S3Destination": 1, "KinesisStream": 1}),
        ([[], ["IncludeFilters", "ExcludeFilters"]], {"IncludeFilters": 1}, {"IncludeFilters": 1, "ExcludeFilters": 1}),
    ],
)
def test_cloudformations_exclusive_settings_are_enforced_while_decoding(sets, valid, invalid):
    names = list(dict.fromkeys([*valid, *invalid, *(k for s in sets for k in s)]))  # the values' order
    schema = {"type": "object", "properties": {k: {"type": "integer"} for k in names}}
    schema["oneOf"] = [{"required": s} if s else {} for s in sets]
    relaxed = relax(schema, DEFAULT_MAX_STRING)
    assert relaxed.exact  # it was left to the check before
    assert _decodes(relaxed.grammar, valid) and not _decodes(relaxed.grammar, invalid)
    assert check(invalid, schema) is not None


def test_one_of_over_many_branches_of_shared_keys_is_left_to_the_check_not_walked():
    # 14 branches of the same two keys: 2^13 choices of absent keys for the first branch alone, a
    # product that grows past walking with each branch (a crafted schema must not stall the compile)
    schema = {"type": "object", "oneOf": [{"required": ["a"]}, *[{"required": ["b", "c"]}] * 13]}
    relaxed = relax(schema)
    assert "oneOf" in relaxed.checked_after
    assert _decodes(relaxed.grammar, {"a": 1}) and check({"a": 1}, schema) is None


_TYPES = st.sampled_from(["integer", ["integer", "null"], "number", None, "string"])
_OWN_BOUNDS = st.sampled_from([None, ("minimum", -5), ("minimum", 3), ("maximum", 100), ("exclusiveMaximum", 2**70)])


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(INTEGER_FORMATS)), _TYPES, _OWN_BOUNDS, st.booleans())
def test_integer_formats_are_their_types_range_in_decoding_and_asserted_after(fmt, kind, own, bounded):
    """OpenAPI's int32 / int64 and schemars' uint8..uint64 (Rust's serde refuses a value out of
    range) were unknown formats: annotations, with a warning, so a model could write 300 for a u8."""
    schema: dict = {"format": fmt}
    if kind is not None:
        schema["type"] = kind
    if own is not None:
        schema[own[0]] = own[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a format edgeqwen knows: no UnknownFormatWarning
        relaxed = relax(schema, DEFAULT_MAX_STRING if bounded else None)
    low, high = INTEGER_FORMATS[fmt]
    for value in (low - 1, low, 0, 5, high, high + 1, 7.5, "300", None):
        valid = check(value, schema) is None
        # decoding's bound on digits, kept beside the grammar (digits.DigitLimit): past it, no answer
        reach = not bounded or in_reach(value)
        if valid and reach:
            assert _decodes(relaxed.grammar, value), (schema, value)
        elif not valid and relaxed.exact and reach:
            assert not _decodes(relaxed.grammar, value), (schema, value)
    if kind in ("integer", ["integer", "null"]) and own is None and (bounded or -(2**63) < low <= high < 2**63):
        assert relaxed.exact  # the whole range said in the grammar (int64 and uint64 once made finite)


def test_integer_formats_are_asserted_and_float_and_double_are_known():
    assert check(2**31, {"type": "integer", "format": "int32"}).keyword == "format"
    assert check(2**31 - 1, {"type": "integer", "format": "int32"}) is None
    assert check(255.0, {"type": "number", "format": "uint8"}) is None  # an integer written with a fraction
    assert check(1.5, {"type": "number", "format": "int8"}) is not None
    assert check("300", {"format": "uint8"}) is None  # a format reads only the type it is defined for
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fmt in ("float", "double"):
            assert relax({"type": "number", "format": fmt}).exact


@pytest.mark.parametrize("key", ["maximum", "exclusiveMaximum"])
@pytest.mark.parametrize("bound", [2**64, 1e19])
def test_an_upper_bound_past_2_63_is_left_to_the_check_not_cut_to_it(key, bound):
    """llguidance took an integer's upper bound past 2^63 - 1 as 2^63 - 1, without an error: valid
    integers above it could not be written."""
    schema = {"type": "integer", key: bound}
    relaxed = relax(schema)
    assert "minimum/maximum" in relaxed.checked_after
    assert check(2**63, schema) is None and _decodes(relaxed.grammar, 2**63)
    assert check(2**66, schema) is not None  # the check still holds the bound


_I64_MIN = -(2**63)
_CRASHING = [_I64_MIN, _I64_MIN + 1, _I64_MIN + 512, -(10**20)]  # a double reads each as -2^63 or less


@pytest.mark.parametrize("value", _CRASHING)
@pytest.mark.parametrize(
    "where",
    ["const", "typed", "enum", "nested", "range", "default"],
)
def test_an_integer_llguidance_crashes_on_never_reaches_it(value, where):
    """llguidance 1.9 took the whole process down (a stack overflow, no exception) on an integer
    near -2^63 as a const or enum value (msgspec's tests write i64::MIN in an enum): a server died
    on one request. The keyword is left to the check instead. As given the value still decodes; made
    finite for decoding (numbers within 10^16) it cannot be written, and an answer that must be it
    fails the check: an error, where there was a crash."""
    node = {
        "const": {"const": value},
        "typed": {"type": "integer", "const": value},  # an integer range of one value: any below -2^63
        "enum": {"enum": [1, value]},
        "nested": {"enum": [{"a": [value]}, "b"]},
        "range": {"type": "integer", "minimum": value, "maximum": value},
        "default": {"type": "integer", "default": value},  # an annotation: out of the grammar, exact
    }[where]
    schema = {"type": "object", "properties": {"x": node, "y": {"type": "integer"}}, "required": ["x"]}
    for bounded in (False, True):
        relaxed = relax(schema, DEFAULT_MAX_STRING if bounded else None)
        assert crashes_llguidance(relaxed.grammar) is None  # checked before llguidance reads it
        assert relaxed.exact == (where == "default")
        good = {"x": {"a": [value]} if where == "nested" else value}
        assert check(good, schema) is None
        assert bounded or _decodes(relaxed.grammar, good)  # decoding bounds numbers at 10^16: not there
        assert where == "default" or check({"x": 2}, schema) is not None  # the check still holds the keyword


@pytest.mark.parametrize("value", [_I64_MIN - 1, -1e19, -1e308])
def test_an_integer_range_of_one_value_below_minus_2_63_never_reaches_llguidance(value):
    schema = {"type": "integer", "minimum": value, "maximum": value}  # it crashed on these too
    relaxed = relax(schema)
    assert crashes_llguidance(relaxed.grammar) is None and "minimum/maximum" in relaxed.checked_after
    assert check(value, schema) is None and check(5, schema) is not None


@given(st.integers(_I64_MIN - 2048, _I64_MIN + 2048) | st.floats(-1e30, -1e17))
def test_the_numbers_kept_from_llguidance_are_those_it_reads_as_minus_2_63_or_less(value):
    found = crashes_llguidance(json.dumps({"enum": [value, 1.5, "s"]}))
    assert (found is not None) == (value <= _I64_MIN + 512 if isinstance(value, int) else value <= -(2.0**63))


@given(st.sampled_from(["", " ", ":", "[", ",", '"', "-", "a", "_", ".", "7", "é"]),
       st.sampled_from(["-9223372036854775809", "-1e30", "-1.5E+300", "-123456789012345678901.5e-1"]))  # fmt: skip
def test_a_big_negative_number_is_read_only_where_a_number_starts(before, literal):
    """A minus sign inside a word or after a number's point starts no number ("a-1e30" is a name,
    "1.-1e30" no JSON number): only a number written as one is kept from llguidance."""
    found = crashes_llguidance('{"k": x' + before + literal + "}")
    previous = before or "x"  # the character the minus sign follows
    assert found == (None if previous.isalnum() or previous in "_." else literal)


@pytest.mark.parametrize(
    ("text", "unreadable"),
    [('{"default": NaN}', True), ('{"default": -Infinity}', True), ('{"minimum": Infinity}', True),
     ('{"enum": ["NaN", "Infinity"]}', False), ('{"NaNny": 1, "xInfinity": 2}', False),
     ('{"enum": [' + "9" * 309 + "]}", True), ('{"enum": [' + "9" * 308 + "]}", False)],
)  # fmt: skip
def test_what_json_has_no_number_for_is_found_in_a_schemas_text(text, unreadable):
    from edgeqwen.runtime.numbers import _unreadable_text

    assert _unreadable_text(text) == unreadable


@pytest.mark.parametrize(("value", "crashes"), [(_I64_MIN + 512, True), (_I64_MIN + 513, False)])
def test_llguidance_itself_still_crashes_there(value, crashes):
    """The guard's reason, kept true: when a newer llguidance stops crashing, this fails, and the
    guard (and the keywords it leaves to the check) can go."""
    code = (
        "import sys\nfrom llguidance import LLMatcher\n"
        f'g = \'{{"grammars":[{{"name":"j","json_schema":{{"const":{value}}}}}]}}\'\n'
        "LLMatcher.validate_grammar_with_warnings(g)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert (run.returncode != 0) == crashes, run.stderr[-300:]


def test_a_grammar_written_with_such_an_integer_is_refused_not_compiled():
    from llguidance import LLMatcher

    from edgeqwen.errors import GrammarError
    from edgeqwen.runtime.formats import ResponseFormat
    from edgeqwen.runtime.grammar import GrammarEngine
    from edgeqwen.runtime.relax import validate_grammar
    from edgeqwen.tokenizer import byte_level_tokenizer

    lark = f'start: %json {{"const": {_I64_MIN}}}'
    assert "would crash llguidance" in validate_grammar(LLMatcher.grammar_from_lark(lark))
    text = Path(byte_level_tokenizer()).read_text()
    engine = GrammarEngine(text, llg_tokenizer().vocab_size, [0])
    with pytest.raises(GrammarError, match="write it as a string or leave it out"):
        engine.compile(ResponseFormat.lark(lark))


_NAMES = st.text(st.characters(blacklist_characters='%"\\', blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(_NAMES)
def test_a_reference_written_with_any_characters_resolves_as_jsonschema_resolves_it(name):
    """`#/$defs/Line Item`, `#/$defs/名前`: a URI allows neither character, so llguidance refused
    the reference, and the schema with it; jsonschema resolves it (datamodel-code-generator's
    tests write such names)."""
    ref = "#/$defs/" + name.replace("~", "~0").replace("/", "~1")
    schema = {
        "$defs": {name: {"type": "integer", "minimum": 3}},
        "type": "object",
        "properties": {"raw": {"$ref": ref}},
        "required": ["raw"],
        "additionalProperties": False,
    }
    relaxed = relax(schema)
    assert relaxed.exact
    assert check({"raw": 5}, schema) is None and _decodes(relaxed.grammar, {"raw": 5})
    assert check({"raw": 1}, schema) is not None and not _decodes(relaxed.grammar, {"raw": 1})


@pytest.mark.parametrize(
    ("step", "kind", "in_grammar"),
    [(2**31, "integer", False), (1000003, "integer", False), (5 * 10**8, "integer", False), (2**62, "integer", False),
     (0.25, "number", False), (0.0007, "number", False), (1e-20, "number", False),
     (10**8, "integer", True), (0.05, "number", True), (7, "number", True), (1e-10, "number", True)],
)  # fmt: skip
def test_a_multiple_of_llguidance_cannot_build_or_read_is_left_to_the_check(step, kind, in_grammar):
    """llguidance's matcher for multipleOf has a state per remainder: 2^31 took minutes and
    gigabytes to build (a request could stall a server), 1,000,003 seven seconds. It also misreads
    some steps: for 0.25 it refused 0.5, for 0.0007 every multiple, for 5e8 every number, 0 too
    (valid answers refused while decoding); 1e-20 and 2^62 it refused, and the schema fell back to
    any JSON. Each step is tried on llguidance's own reading once per process."""
    schema = {"type": "object", "properties": {"n": {"type": kind, "multipleOf": step}}, "required": ["n"]}
    relaxed = relax(schema)
    assert ("multipleOf" in relaxed.grammar) == in_grammar
    assert ("multipleOf" in relaxed.checked_after) != in_grammar and "the whole schema" not in relaxed.checked_after
    for k in (0, 1, 2, -2):
        value = step * k
        assert check({"n": value}, schema) is None
        # under multipleOf llguidance takes plain decimals only (1e-10 as 0.0000000001), as answers are written
        assert "e" in json.dumps(value) or _decodes(relaxed.grammar, {"n": value}), k
    if kind == "integer":
        assert check({"n": step + 1}, schema) is not None


@pytest.mark.parametrize(
    "node",
    [{"type": "number", "default": float("inf")}, {"type": "number", "examples": [float("nan")]},
     {"type": "integer", "x-limit": 10**400}, {"type": "number", "minimum": float("-inf")},
     {"type": "integer", "enum": [10**400, 3]}],
)  # fmt: skip
def test_numbers_json_cannot_write_are_kept_from_llguidance_not_the_schema(node):
    """Python writes NaN and Infinity, which are no JSON; an integer past a double's range
    llguidance cannot read: the whole schema had fallen back to any JSON."""
    schema = {"type": "object", "properties": {"n": node, "s": {"type": "string"}}, "required": ["n", "s"]}
    relaxed = relax(schema)
    assert "the whole schema" not in relaxed.checked_after
    assert relaxed.exact == (not {"minimum", "enum"} & node.keys())  # annotations go silently
    assert _decodes(relaxed.grammar, {"n": 3, "s": "x"}) and not _decodes(relaxed.grammar, {"n": 3, "s": 4})


_KEYWORD = st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "const"])
_EXTREME = st.sampled_from([10**400, -(10**400), 10**20, -(10**20), -(2**63) - 1, 2**64, 1e308, -1e308, 5e-324])


@settings(max_examples=60, deadline=None)
@given(_KEYWORD, _EXTREME, st.sampled_from(["integer", "number", None]), st.booleans())
def test_numbers_of_any_size_in_any_numeric_keyword_are_never_a_crash_of_edgeqwen(key, value, kind, bounded):
    """Three of datamodel-code-generator's schemas (bounds of 10^400) met an OverflowError in the
    code that keeps such bounds from llguidance: reported as a bug in edgeqwen."""
    schema: dict = {key: value, "format": "int64"}
    if kind is not None:
        schema["type"] = kind
    try:
        relaxed = relax(schema, DEFAULT_MAX_STRING if bounded else None)
    except GrammarError as exc:
        assert INTERNAL not in str(exc)
    else:
        assert crashes_llguidance(relaxed.grammar) is None


def test_a_reference_through_a_number_or_a_string_points_at_nothing():
    """referencing raised TypeError walking into a number, which was reported as a bug in edgeqwen."""
    schema = {"type": "object", "properties": {"a": {"$ref": "#/x-ext/k/j"}}, "x-ext": {"k": 5}}
    with pytest.raises(GrammarError, match="points at nothing"):
        relax(schema)


@pytest.mark.parametrize("step", ["2147483648", "0.25"])
def test_a_tool_schema_or_lark_grammar_with_a_multiple_llguidance_cannot_take_is_refused(step):
    """Schemas in a Lark grammar's %json and in tools are not relaxed: the guard on the grammar's
    text refuses a step that would stall the matcher's build (2^31: minutes) or be misread."""
    from llguidance import LLMatcher

    from edgeqwen.runtime.relax import validate_grammar

    lark = f'start: %json {{"type": "integer", "multipleOf": {step}}}'
    assert "cannot decode multipleOf" in validate_grammar(LLMatcher.grammar_from_lark(lark))
    assert validate_grammar(LLMatcher.grammar_from_lark('start: %json {"type": "number", "multipleOf": 0.5}')) is None


_TREE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://example.com/tree",
    "$dynamicAnchor": "node",
    "type": "object",
    "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$dynamicRef": "#node"}}},
    "required": ["v"],
    "additionalProperties": False,
}
_TREES = [
    ({"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}]}, True),
    ({"v": 1, "kids": [{"v": "two"}]}, False),
    ({"v": 1, "kids": [{"v": 2, "kids": [{}]}]}, False),
]


@pytest.mark.parametrize(("value", "valid"), _TREES)
def test_a_dynamic_reference_with_one_target_is_decoded_as_the_reference_it_is(value, valid):
    """2020-12's recursive "tree" as its authors write it: llguidance does not read $dynamicRef
    (the items were any JSON, left to the check); in one document with the anchor declared once the
    reference has one target, and the grammar says it exactly."""
    relaxed = relax(_TREE)
    assert relaxed.exact
    assert (check(value, _TREE) is None) is valid
    assert _decodes(relaxed.grammar, value) is valid


@pytest.mark.parametrize(("value", "valid"), _TREES)
def test_a_recursive_reference_of_2019_09_is_decoded_the_same(value, valid):
    schema = {**_TREE, "$schema": "https://json-schema.org/draft/2019-09/schema", "$recursiveAnchor": True}
    del schema["$dynamicAnchor"]
    schema["properties"] = {**_TREE["properties"], "kids": {"type": "array", "items": {"$recursiveRef": "#"}}}
    relaxed = relax(schema)
    assert relaxed.exact and (check(value, schema) is None) is valid and _decodes(relaxed.grammar, value) is valid


def test_a_dynamic_anchor_declared_twice_or_a_draft_without_them_is_left_as_written():
    """Two resources declaring the anchor (the "extend this tree" pattern) move the target with the
    scope: the check decides. In draft 7, "$dynamicRef" is no keyword at all: nothing changes."""
    twice = relax({**_TREE, "$defs": {"other": {"$dynamicAnchor": "node", "type": "string"}}})
    assert twice.checked_after == ("$dynamicAnchor",) and twice.schema["properties"]["kids"]["items"] == {
        "$dynamicRef": "#node"
    }
    draft7 = relax({**_TREE, "$schema": "http://json-schema.org/draft-07/schema#"})
    assert draft7.exact and draft7.schema["properties"]["kids"]["items"] == {"$dynamicRef": "#node"}
