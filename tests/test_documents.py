"""A schema that refers to other documents compiles when the caller passes them, and means what a
validator given the same documents says it means."""

from __future__ import annotations

import jsonschema
import pytest
from grammars import grammar_takes
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from edgeqwen import GrammarError, ResponseFormat
from edgeqwen.runtime.check import check

ORDER = {
    "$id": "https://example.com/schemas/order.json",
    "type": "object",
    "properties": {
        "ship_to": {"$ref": "address.json"},  # relative to the schema's own $id
        "items": {"type": "array", "items": {"$ref": "https://example.com/schemas/item.json#/$defs/item"}},
    },
    "required": ["ship_to", "items"],
}
DOCUMENTS = {
    "https://example.com/schemas/address.json": {
        "$id": "https://example.com/schemas/address.json",
        "type": "object",
        "properties": {"zip": {"$ref": "#/$defs/zip"}, "country": {"$ref": "countries.json"}},
        "required": ["zip"],
        "$defs": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
    },
    "https://example.com/schemas/item.json": {
        "$defs": {"item": {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}}
    },
    "https://example.com/schemas/countries.json": {"enum": ["US", "CA"]},  # reached through address.json only
}
VALUES = [
    ({"ship_to": {"zip": "12345", "country": "US"}, "items": [{"sku": "a-1"}]}, True),
    ({"ship_to": {"zip": "12345"}, "items": []}, True),
    ({"ship_to": {"zip": "1234"}, "items": []}, False),
    ({"ship_to": {"zip": "12345", "country": "FR"}, "items": []}, False),
    ({"ship_to": {"zip": "12345"}, "items": [{}]}, False),
]


def test_without_the_documents_the_refusal_names_them_and_says_how_to_pass_them():
    with pytest.raises(GrammarError, match=r"address\.json.*item\.json.*resources=") as caught:
        ResponseFormat.of(ORDER).relaxed()
    assert "does not fetch" in str(caught.value)


@pytest.mark.parametrize(("value", "valid"), VALUES)
def test_with_them_the_grammar_and_the_check_read_what_a_validator_with_a_registry_reads(value, valid):
    fmt = ResponseFormat.of(ORDER, resources=DOCUMENTS)
    registry = Registry().with_resources((uri, DRAFT202012.create_resource(doc)) for uri, doc in DOCUMENTS.items())
    assert jsonschema.Draft202012Validator(ORDER, registry=registry).is_valid(value) is valid
    relaxed = fmt.relaxed()
    assert relaxed.exact and grammar_takes(relaxed.grammar, value) is valid  # zip's pattern, the enum: decoded
    assert (check(value, fmt.schema) is None) is valid
    assert "$defs" not in ORDER  # the caller's schema is not changed


def test_documents_the_schema_does_not_reach_are_left_out_and_odd_ones_refused():
    fmt = ResponseFormat.of({"$ref": "b.json"}, resources={"b.json": {"type": "integer"}, "c.json": {}})
    assert fmt.schema == {"$ref": "#/$defs/edgeqwen_doc_0", "$defs": {"edgeqwen_doc_0": {"type": "integer"}}}
    nested = {"b.json": {"properties": {"x": {"$id": "x.json", "type": "string"}}}}
    with pytest.raises(GrammarError, match=r"by \$id 'x\.json'.*JSON pointer"):
        ResponseFormat.of({"$ref": "b.json"}, resources=nested)
    draft7 = {"b.json": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "integer"}}
    with pytest.raises(GrammarError, match="draft-07.*2020-12"):
        ResponseFormat.of({"$ref": "b.json"}, resources=draft7)
    with pytest.raises(GrammarError, match="resources maps"):
        ResponseFormat.of({"$ref": "b.json"}, resources={"b.json": "integer"})


def test_documents_that_refer_to_each_other_and_to_the_schema_are_bundled_once():
    root = {"$id": "https://x.org/a.json", "properties": {"b": {"$ref": "b.json"}}, "$defs": {"n": {"type": "integer"}}}
    docs = {"https://x.org/b.json": {"properties": {"a": {"$ref": "a.json"}, "n": {"$ref": "a.json#/$defs/n"}}}}
    fmt = ResponseFormat.of(root, resources=docs)
    bundled = fmt.schema["$defs"]["edgeqwen_doc_0"]
    assert bundled["properties"] == {"a": {"$ref": "#"}, "n": {"$ref": "#/$defs/n"}}
    assert check({"b": {"n": 3, "a": {"b": {"n": 4}}}}, fmt.schema) is None
    assert check({"b": {"n": "3"}}, fmt.schema) is not None


def test_a_property_named_like_a_data_keyword_is_still_a_schema_whose_references_are_bundled():
    # lsdlschema (SchemaStore) has a property called "examples", whose items refer into its document
    doc = {"properties": {"examples": {"items": {"$ref": "#/definitions/example"}}}, "definitions": {"example": {}}}
    fmt = ResponseFormat.of({"$ref": "lsdl.json"}, resources={"lsdl.json": doc})
    items = fmt.schema["$defs"]["edgeqwen_doc_0"]["properties"]["examples"]["items"]
    assert items == {"$ref": "#/$defs/edgeqwen_doc_0/definitions/example"}
    assert fmt.relaxed().grammar  # compiles: every reference points at something
    with pytest.raises(GrammarError, match=r"refers to 'lsdl\.json', 'other\.json'"):  # both named when refused
        ResponseFormat.of({"properties": {"a": {"$ref": "lsdl.json"}, "examples": {"$ref": "other.json"}}}).relaxed()
