"""Rewrites that say a keyword exactly in the grammar: every value the schema takes decodes, and
no other one does where the keyword is no longer left to the check."""

from __future__ import annotations

import itertools
import warnings

import pytest
from grammars import grammar_takes as _decodes
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeqwen.runtime.check import check
from edgeqwen.runtime.relax import relax
from edgeqwen.runtime.rewrite import INTEGER_FORMATS
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
        in_reach = not bounded or not isinstance(value, int) or abs(value) <= 2**53  # decoding's bound
        if valid and in_reach:
            assert _decodes(relaxed.grammar, value), (schema, value)
        elif not valid and relaxed.exact:
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
