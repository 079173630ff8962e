"""Rewrites that say a keyword exactly in the grammar: every value the schema takes decodes, and
no other one does where the keyword is no longer left to the check."""

from __future__ import annotations

import itertools

import pytest
from grammars import grammar_takes as _decodes
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeqwen.runtime.check import check
from edgeqwen.runtime.relax import relax
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
