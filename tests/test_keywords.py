"""Keys JSON Schema ignores though the schema's author likely meant a keyword: said, never refused."""

from __future__ import annotations

import warnings

import pytest

from edgeqwen import ResponseFormat
from edgeqwen.runtime.keywords import MisspelledKeywordWarning, meant
from edgeqwen.runtime.relax import relax


@pytest.mark.parametrize(
    ("key", "keyword"),
    [
        # each as real schemas of JSONSchemaBench and SchemaStore write it (in-sample: the rule was set on them)
        ("minLenght", "minLength"),
        ("Required", "required"),
        ("additional_properties", "additionalProperties"),
        ("additonalProperties", "additionalProperties"),
        ("exclusiveMinimumm", "exclusiveMinimum"),
        ("minitems", "minItems"),
        ("minium", "minimum"),
        ("anyof", "anyOf"),
        ("type:", "type"),
        ("item", "items"),
        ("ref", "$ref"),
    ],
)
def test_a_misspelled_keyword_is_named_with_the_keyword_it_misspells(key, keyword):
    assert meant(key) == keyword


@pytest.mark.parametrize(
    "key",
    # known words, extensions, keywords put out of use on purpose, words of their own built on one
    ["title", "nullable", "$defs", "x-order", "_format", "xrequired", "tsAdditionalProperties", "container",
     "markdownDescription", "preferredOrder", "javaType", "deprecationMessage", "propertyDependencies", "ifs"],
)  # fmt: skip
def test_other_words_are_no_misspelling(key):
    assert meant(key) is None


def _warned(schema: dict) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        relax(schema)
    return [str(w.message) for w in caught if issubclass(w.category, MisspelledKeywordWarning)]


@pytest.mark.filterwarnings("ignore::edgeqwen.runtime.keywords.MisspelledKeywordWarning")
def test_a_schema_with_misspelled_keywords_warns_once_and_still_answers():
    """`"minLenght": 3` asserted nothing, in the grammar and the check alike, and nobody was told."""
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string", "minLenght": 3}, "b": {"type": "string", "minLenght": 1}},
        "Required": ["a"],
    }
    said = _warned(schema)
    assert said == [
        "The JSON Schema holds keys that JSON Schema ignores, so they assert nothing in decoding or in the check: "
        "'Required' (did you mean 'required'?), 'minLenght' in 2 places (did you mean 'minLength'?)."
    ]
    assert ResponseFormat.of(schema).parse('{"a": ""}') == {"a": ""}  # JSON Schema's meaning, unchanged
    assert _warned({"type": "object", "properties": {"a": {"type": "string", "patterns": []}}}) == []  # not a pattern
    assert _warned({"type": "object", "properties": {"a": {"type": "integer", "minimum": 1}}}) == []


@pytest.mark.filterwarnings("ignore::edgeqwen.runtime.keywords.MisspelledKeywordWarning")
@pytest.mark.parametrize("schema", [{"name": "Bob", "age": 3}, {"Person": {"type": "object"}}])
def test_a_schema_with_no_keyword_at_its_top_says_it_takes_any_value(schema):
    """An example value, or the schema under a name, passed as the schema: any JSON answered it."""
    said = _warned(schema)
    assert len(said) == 1 and "has no keyword at its top" in said[0] and "any JSON value is an answer" in said[0]
    assert ResponseFormat.of(schema).parse('"anything"') == "anything"
    assert _warned({"title": "Anything", "$comment": "any value"}) == [] and _warned({}) == []
