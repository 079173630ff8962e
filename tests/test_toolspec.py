"""A Python function as a tool: the spec its hints and docstring give, and the errors for what has
no JSON Schema."""

from __future__ import annotations

import enum
import json
from decimal import Decimal
from typing import Annotated, Any, Literal, Optional

import jsonschema
import pytest

from edgeqwen import Assistant, InvalidRequestError
from edgeqwen.testing import FakeBackend
from edgeqwen.toolspec import function_spec


def get_weather(city: str, unit: Literal["C", "F"] = "C", days: Optional[int] = None) -> str:  # noqa: UP045
    """Weather for a city,
    today or for a few days.

    Args:
        city: The city's name, e.g. "Paris".
        unit (str): Celsius or Fahrenheit.

    Returns:
        A sentence.
    """
    return "sunny"


def test_a_typed_documented_function_becomes_its_spec():
    assert function_spec(get_weather) == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city, today or for a few days.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": 'The city\'s name, e.g. "Paris".'},
                    "unit": {"enum": ["C", "F"], "description": "Celsius or Fahrenheit.", "default": "C"},
                    "days": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


def test_a_default_is_said_as_json_or_not_at_all():
    """The spec left defaults out, so the model could not know what leaving a parameter out means."""

    def forecast(colour: Colour = Colour.BLUE, days: tuple[int, int] = (1, 3), when: object = object()) -> None:
        pass

    props = function_spec(forecast)["function"]["parameters"]["properties"]
    assert props["colour"]["default"] == "blue" and props["days"]["default"] == [1, 3]
    assert "default" not in props["when"]  # no JSON for it: nothing rather than something wrong
    assert function_spec(forecast)["function"]["parameters"]["required"] == []


@pytest.mark.parametrize(
    ("hint", "valid", "invalid"),
    [
        (list[int], [1, 2], [1, "2"]),
        (dict[str, float], {"a": 1.5}, {"a": "x"}),
        (tuple[int, str], [1, "a"], [1, "a", 2]),
        (set[str], ["a", "b"], ["a", "a"]),
        (Colour, "red", "green"),
        (int | None, None, "1"),
        (Annotated[bool, "a flag"], True, 1),
        (Any, {"any": ["json"]}, None),
        (float, 1.5, "1.5"),
    ],
)
def test_each_hint_allows_what_python_would_take_and_refuses_the_rest(hint, valid, invalid):
    def tool(x):
        """A tool."""

    tool.__annotations__ = {"x": hint}  # the hint itself: this module's annotations are strings
    schema = function_spec(tool)["function"]["parameters"]
    jsonschema.validate({"x": valid}, schema)
    if invalid is not None:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"x": invalid}, schema)


def test_a_pydantic_model_parameter_gets_the_schema_a_response_format_of_it_gets():
    """Nested models' ``$defs`` move to the parameters object, where their references are read;
    a Decimal is a number or a decimal's string (edgeqwen's pattern), not any string."""
    pydantic = pytest.importorskip("pydantic")

    class Street(pydantic.BaseModel):
        name: str

    class Address(pydantic.BaseModel):
        street: Street
        deposit: Decimal

    def ship(to, also=None):
        """Ship an order."""

    ship.__annotations__ = {"to": Address, "also": list[Address] | None}  # $defs inside items, too
    schema = function_spec(ship)["function"]["parameters"]
    assert "Street" in schema["$defs"] and '"$defs":' not in json.dumps(schema["properties"])
    address = {"street": {"name": "Main"}, "deposit": "12.50"}
    jsonschema.validate({"to": address, "also": [address]}, schema)
    for bad in ({"street": {}, "deposit": 1}, {"street": {"name": "Main"}, "deposit": "lots"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"to": bad}, schema)
    arguments = '{"to": {"street": {"name": "Main"}, "deposit": "lots"}}'
    call = f'<tool_call>\n{{"name": "ship", "arguments": {arguments}}}\n</tool_call>'
    bot = Assistant(backend=FakeBackend(replies=[call]), policy="none", tools=[ship])
    reply = bot.chat("go", tool_choice="required")
    jsonschema.validate(reply.tool_calls[0].arguments, schema)  # "lots" could not be written


class Opaque:
    pass


def _star(*names: str) -> None: ...


def _stars(**options: str) -> None: ...


def _opaque(x: Opaque) -> None: ...


def _int_keys(x: dict[int, str]) -> None: ...


def _objects(x: Literal[b"bytes"]) -> None: ...


def _unresolvable(x: Local) -> None: ...  # noqa: F821 - a class defined inside a function, say


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        (lambda x: x, "needs a name: define it with def"),
        (_star, r"'_star': \*names has no JSON Schema; name each parameter"),
        (_stars, r"'_stars': \*\*options has no JSON Schema"),  # it said *options
        (_opaque, "parameter 'x' is annotated 'Opaque', which has no JSON Schema here"),
        (_int_keys, "a dict's keys are JSON object keys, so str"),
        (_objects, "a Literal of JSON values only"),
        (_unresolvable, "its type hints cannot be read .*'Local' is not defined.*define the types they name"),
    ],
)
def test_what_has_no_json_schema_is_refused_by_name(tool, message):
    with pytest.raises(InvalidRequestError, match=message):
        function_spec(tool)
    with pytest.raises(InvalidRequestError, match=message):  # and where an app passes it
        Assistant(backend=FakeBackend(), tools=[tool])


def test_an_assistant_takes_functions_and_specs_side_by_side():
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "K"}}\n</tool_call>'
    fake = FakeBackend(replies=[call])
    other = {"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {}}}}
    bot = Assistant(backend=fake, policy="none", tools=[get_weather, other])
    reply = bot.chat("Weather in Paris, in Fahrenheit?", tool_choice="required")
    # the function's own Literal is enforced while decoding: the scripted "K" cannot be written
    args = reply.tool_calls[0].arguments
    assert args["city"] == "Paris" and args["unit"] in ("C", "F")
    prompt = fake.tokenizer.decode(fake.requests[0].prompt_ids)
    assert '"name": "get_weather"' in prompt and '"description": "Weather for a city, today' in prompt
    assert '"name": "add"' in prompt
    with pytest.raises(InvalidRequestError, match="list of function specs or functions, got one function"):
        Assistant(backend=fake, tools=get_weather)  # type: ignore[arg-type]


def every_kind(
    a: list[int],
    b: dict[str, float],
    c: tuple[int, str],
    d: set[str],
    e: Colour,
    f: int | None,
    g: Annotated[bool, "a flag"],
    h: Any,
    i: Literal["x", 2, None] = None,
    j: tuple[int, ...] = (),
) -> None:
    """Every kind of hint at once."""


def test_every_kind_of_hint_compiles_into_the_tool_call_grammar():
    """The spec is not only valid JSON Schema: llguidance builds the call's grammar from it, and
    the call that comes back is valid for it."""
    call = (
        '<tool_call>\n{"name": "every_kind", "arguments": {"a": [1], "b": {"k": 1.5}, "c": [1, "s"], '
        '"d": ["p", "q"], "e": "red", "f": null, "g": true, "h": {"z": [1]}}}\n</tool_call>'
    )
    fake = FakeBackend(replies=[call])
    reply = Assistant(backend=fake, policy="none", tools=[every_kind]).chat("go", tool_choice="required")
    spec = function_spec(every_kind)["function"]["parameters"]
    jsonschema.Draft202012Validator.check_schema(spec)
    assert reply.tool_calls[0].name == "every_kind"
    jsonschema.validate(reply.tool_calls[0].arguments, spec)
