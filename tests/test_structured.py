"""Grammar-constrained output on the tiny random-weight Qwen models: the model is garbage, so only
the constraint can make the output valid."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Literal

import jsonschema
import numpy as np
import pytest
from data.schemas import INVOICE, MEDIUM
from pydantic import BaseModel, Field

from edgeqwen import Assistant, GrammarError, ResponseFormat, StructuredOutputError
from edgeqwen.backends.onnx import OnnxBackend
from edgeqwen.runtime.digits import FRACTION_DIGITS, INTEGER_DIGITS
from edgeqwen.runtime.schema import ANY_DEPTH, ANY_MEMBERS, DEFAULT_MAX_STRING, MAX_KEY, bound_numbers, decoding_schema
from edgeqwen.runtime.walk import walk


class LineItem(BaseModel):
    description: str
    quantity: int = Field(ge=1)
    price: float


class Order(BaseModel):
    customer: str
    status: Literal["new", "paid", "shipped"]
    items: list[LineItem]
    express: bool = False


@pytest.fixture(scope="module")
def qwen2(tiny_models):
    return OnnxBackend(tiny_models["qwen2"]["int4"], context_length=2048)


def _short(spec):
    """``spec`` as a response format whose strings have a maxLength of 64: a random model closes a
    string only where it must, and one it fills to the decoding bound is reported cut."""
    fmt = ResponseFormat.of(spec)
    schema = json.loads(json.dumps(fmt.schema))
    for node in walk(schema):
        types = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
        if "string" in types and not {"maxLength", "enum", "const"} & node.keys():
            node["maxLength"] = 64
    return replace(fmt, schema=schema)


@pytest.mark.parametrize("schema", [MEDIUM, INVOICE], ids=["medium", "invoice"])
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_every_output_parses_and_validates(qwen2, schema, temperature):
    bot = Assistant(backend=qwen2, max_tokens=1800, temperature=temperature)
    for seed in range(4 if temperature else 1):
        bot.reset()
        reply = bot.chat("Extract the data.", response_format=_short(schema), seed=seed)
        assert reply.finish_reason == "stop"
        jsonschema.validate(json.loads(reply.text), schema)
        assert reply.parsed == json.loads(reply.text)
        assert " " not in reply.text.replace(" ", "X") or "\n" not in reply.text  # compact: no free whitespace


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_pydantic_model(qwen2, temperature):
    bot = Assistant(backend=qwen2, max_tokens=1800, temperature=temperature)
    for seed in range(3):
        bot.reset()
        order = bot.chat("Make an order.", response_format=_short(Order), seed=seed).parsed
        assert isinstance(order, Order) and order.status in ("new", "paid", "shipped")
        assert all(item.quantity >= 1 for item in order.items)


def test_pydantic_ip_types_are_answered(qwen2):
    """pydantic's own formats (ipvanyaddress, ipv4network...) were annotations to the grammar: the
    random model wrote any string and pydantic refused every answer (0 of 3 each)."""
    import ipaddress

    from pydantic import BaseModel, IPvAnyAddress, IPvAnyInterface

    class Host(BaseModel):
        address: IPvAnyAddress
        net: ipaddress.IPv4Network
        iface: IPvAnyInterface

    bot = Assistant(backend=qwen2, max_tokens=300, temperature=1.0, policy="none")
    for seed in range(3):
        bot.reset()
        assert isinstance(bot.json("A host.", Host, seed=seed), Host)


def test_choice_regex_and_any_json(qwen2):
    bot = Assistant(backend=qwen2, max_tokens=1800, temperature=1.0)
    for seed in range(5):
        assert bot.choice("Which?", ["red", "green", "blue"], seed=seed) in ("red", "green", "blue")
        assert bot.regex("Date?", r"20[0-9]{2}-[01][0-9]-[0-3][0-9]", seed=seed)[:2] == "20"
        try:  # 400 tokens: a random model's free-form answer is cut either way (the bounds' own tests reach them)
            value = bot.json("Anything", seed=seed, max_tokens=400)
        except StructuredOutputError as exc:  # a random model closes a key or a string only at its bound
            assert exc.cut and exc.text.startswith("{")
        else:
            assert isinstance(value, dict)
    reply = bot.chat("Stream it", response_format=ResponseFormat.choice(["yes", "no"]))
    assert reply.parsed in ("yes", "no") and reply.text == reply.parsed
    with pytest.raises(GrammarError, match="got one string 'yes'"):  # not the choices 'y', 'e', 's'
        bot.choice("Spam?", "yes")


def test_streamed_json_equals_parsed(qwen2):
    bot = Assistant(backend=qwen2, max_tokens=1800, temperature=1.0, seed=3)
    stream = bot.stream("data", response_format=_short(MEDIUM))
    text = "".join(stream)
    assert json.loads(text) == stream.reply().parsed


def test_qwen3_thinking_block_is_allowed_and_kept_out(tiny_models):
    backend = OnnxBackend(tiny_models["qwen3"]["int4"], context_length=2048)
    bot = Assistant(backend=backend, enable_thinking=True, max_tokens=1800, temperature=1.0)
    fmt = replace(_short(MEDIUM), thinking_budget=200)  # a garbage model never stops thinking
    for seed in range(3):
        bot.reset()
        reply = bot.chat("Think, then answer.", response_format=fmt, seed=seed)
        jsonschema.validate(reply.parsed, MEDIUM)
        assert reply.thinking and "<think>" not in reply.text and reply.thinking not in reply.text
    off = Assistant(backend=backend, max_tokens=1800, temperature=1.0, seed=1)
    jsonschema.validate(off.chat("No thinking.", response_format=_short(MEDIUM)).parsed, MEDIUM)


def test_digits_in_a_think_block_are_not_held_to_a_numbers_bound(tiny_models):
    """The bound on a number's digits starts where the JSON does, after ``</think>``."""
    backend = OnnxBackend(tiny_models["qwen3"]["int4"], context_length=1024)
    bot = Assistant(backend=backend, enable_thinking=True, max_tokens=300, temperature=1.0)
    digits = {backend.tokenizer.token_id(str(d)): 30.0 for d in range(10)}
    fmt = ResponseFormat.of({"type": "object", "properties": {"i": {"type": "integer"}}, "required": ["i"]})
    reply = bot.chat("Count.", response_format=replace(fmt, thinking_budget=60), logit_bias=digits, seed=0)
    assert re.search(r"\d{" + str(INTEGER_DIGITS + 10) + "}", reply.thinking), reply.thinking
    assert reply.finish_reason == "stop" and len(str(abs(reply.parsed["i"]))) == INTEGER_DIGITS, reply.text


def test_sampling_still_applies_inside_the_allowed_set(qwen2):
    options = ["alpha", "beta", "gamma", "delta"]

    def pick(**sampling):
        return Assistant(backend=qwen2, max_tokens=64, **sampling).choice("?", options)

    assert len({pick(temperature=1.0, seed=s) for s in range(12)}) > 1  # not collapsed to one option
    assert len({pick(temperature=0.0) for _ in range(3)}) == 1


def test_mask_is_applied_exactly(qwen2):
    engine = qwen2.grammar_engine
    constraint = engine.constraint(ResponseFormat.choice(["yes", "no"]), prompt_len=0)
    logits = np.zeros(qwen2.info.vocab_size, dtype=np.float32)
    out = constraint(np.array([], dtype=np.int64), logits)
    allowed = np.flatnonzero(np.isfinite(out))
    texts = {qwen2.tokenizer.decode([int(t)]) for t in allowed}
    assert texts and all("yes".startswith(t) or "no".startswith(t) for t in texts)
    assert 151645 not in allowed.tolist()  # cannot stop before the answer


def test_compiled_grammars_are_cached(qwen2):
    engine = qwen2.grammar_engine
    n = len(engine.compile_times)
    engine.compile(ResponseFormat.of(INVOICE))
    engine.compile(ResponseFormat.of(INVOICE))
    assert len(engine.compile_times) <= n + 1


def test_grammar_cache_is_bounded_and_keeps_recent_ones(qwen2):
    from edgeqwen.runtime.grammar import GRAMMAR_CACHE_SIZE

    engine = qwen2.grammar_engine
    first = ResponseFormat.choice(["first"])
    for i in range(GRAMMAR_CACHE_SIZE + 10):  # a server's clients may send any number of schemas
        engine.compile(first)  # used all along: never evicted
        engine.compile(ResponseFormat.choice([f"option-{i}"]))
    assert len(engine._cache) == GRAMMAR_CACHE_SIZE
    n = len(engine.compile_times)
    engine.compile(first)
    assert len(engine.compile_times) == n  # still cached
    engine.compile(ResponseFormat.choice(["option-0"]))
    assert len(engine.compile_times) == n + 1  # evicted long ago: compiled again


def test_decoding_schema_only_narrows():
    narrowed = decoding_schema({"type": "object", "properties": {"a": {"type": "string"}, "b": {}}}, 100)
    assert narrowed["properties"]["a"]["maxLength"] == 100
    assert narrowed["additionalProperties"] is False
    assert decoding_schema({"type": "string", "minLength": 300}, 100)["maxLength"] == 300
    assert "maxLength" not in decoding_schema({"type": "string", "enum": ["x"]}, 100)
    # parts of an allOf that intersects two shapes stay open (closed apart, nothing satisfies both);
    # a lone part (a wrapper for a description) is closed as any object is
    user = {"type": "object", "properties": {"login": {"type": "string"}}}
    two = decoding_schema({"allOf": [{"$ref": "#/$defs/u"}, {"properties": {"role": {}}}], "$defs": {"u": user}}, 100)
    assert "additionalProperties" not in two["$defs"]["u"] and "additionalProperties" not in two["allOf"][1]
    one = decoding_schema({"properties": {"home": {"allOf": [{"$ref": "#/$defs/u"}]}}, "$defs": {"u": user}}, 100)
    assert one["$defs"]["u"]["additionalProperties"] is False
    # closed by a schema no key meets (google-genai writes {"not": {}}): said as false, not as a
    # pattern of every other key held to that schema (which cost its largest models 3x the compile)
    for nothing in ({"not": {}}, {"not": True}, False):
        closed = decoding_schema({"type": "object", "properties": {"a": {}}, "additionalProperties": nothing}, 100)
        assert closed["additionalProperties"] is False and "patternProperties" not in closed


def test_a_name_a_part_holds_needs_no_any_json_of_its_own():
    """A closed object lists the names its allOf part gives; where the part holds a name to a scalar
    or an array of scalars the name is left {} (the part bounds it, and intersecting bounded any JSON
    with it cost llguidance twice the compile), elsewhere it is the bounded any JSON."""
    from grammars import grammar_takes

    from edgeqwen.runtime.relax import relax

    rule = {
        "type": "object",
        "properties": {
            "active": {"type": "boolean"},
            "excludes": {"type": "array", "items": {"$ref": "#/$defs/glob"}},
            "level": {"enum": ["warn", "error"]},
            "tags": {"type": "array", "items": {"type": "object"}},  # not scalars: any JSON's bounds
            "extra": {"type": "object"},
        },
    }
    schema = {
        "type": "object",
        "allOf": [{"$ref": "#/$defs/rule"}],
        "properties": {"threshold": {"type": "integer"}},
        "$defs": {"rule": rule, "glob": {"type": "string"}},
    }
    named = decoding_schema(schema, 100)["properties"]
    assert named["active"] == named["excludes"] == named["level"] == {}
    assert named["tags"] == named["extra"] == {"$ref": "#/$defs/edgeqwen_any"}
    grammar = relax(schema, 100).grammar
    # (keys in the order llguidance writes an intersection's: the part's first)
    assert grammar_takes(grammar, {"active": True, "excludes": ["a*"], "level": "warn", "threshold": 3})
    assert grammar_takes(grammar, {"tags": [{}], "extra": {"k": [1]}})
    for wrong in ({"active": "yes"}, {"excludes": [1]}, {"level": "info"}, {"excludes": ["x" * 101]}, {"other": 1}):
        assert not grammar_takes(grammar, wrong), wrong
    # only a part that always applies bounds a name: a branch of an anyOf may not be the one taken
    branch = {"type": "object", "anyOf": [{"$ref": "#/$defs/rule"}, {"required": ["threshold"]}],
              "properties": {"threshold": {"type": "integer"}}, "$defs": schema["$defs"]}  # fmt: skip
    assert decoding_schema(branch, 100)["properties"]["active"] == {"$ref": "#/$defs/edgeqwen_any"}
    # a pattern string is bounded only while patterns are
    pattern = {**schema, "$defs": {**schema["$defs"], "glob": {"type": "string", "pattern": "^[a-z*]+$"}}}
    assert decoding_schema(pattern, 100)["properties"]["excludes"] == {}
    assert decoding_schema(pattern, 100, bound_patterns=False)["properties"]["excludes"] != {}


# -- bad input: clear errors -------------------------------------------------------------------


def test_keywords_decoding_cannot_enforce_are_honoured_on_a_real_model(qwen2):
    """A garbage model at T=1: every value returned is valid for the whole schema, and an answer
    that is not becomes a StructuredOutputError naming the keyword, after resampling."""
    schema = {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": True}},
        "required": ["tags"],
        "not": {"required": ["extra"]},
    }
    bot = Assistant(backend=qwen2, max_tokens=200, temperature=1.0, policy="none")
    outcomes = []
    for seed in range(6):
        try:
            reply = bot.chat("tags", response_format=schema, seed=seed)
        except StructuredOutputError as exc:
            assert exc.keyword in ("uniqueItems", "not") and exc.text
            outcomes.append("failed")
            continue
        jsonschema.validate(reply.parsed, schema)
        outcomes.append(reply.metrics.attempts)
    assert any(isinstance(o, int) for o in outcomes), outcomes


def test_invalid_schema_regex_and_pydantic(qwen2):
    bot = Assistant(backend=qwen2, max_tokens=50)
    with pytest.raises(GrammarError):
        bot.json("x", {"type": "strnig"})
    with pytest.raises(GrammarError):
        bot.json("x", {"type": "integer", "minimum": 5, "maximum": 1})
    with pytest.raises(GrammarError, match="does not compile"):
        bot.regex("x", "[a-z")
    with pytest.raises(GrammarError):
        bot.json("x", ["not", "a", "schema"])

    class Weird:
        pass

    class Bad(BaseModel):
        model_config = {"arbitrary_types_allowed": True}
        thing: Weird

    with pytest.raises(GrammarError, match="Bad"):
        bot.json("x", Bad)
    with pytest.raises(GrammarError, match="non-empty"):
        bot.choice("x", [])


def test_truncated_answer_raises_with_the_text(qwen2):
    bot = Assistant(backend=qwen2, max_tokens=3, temperature=1.0, seed=0)
    with pytest.raises(StructuredOutputError, match="max_tokens") as err:
        bot.json("x", INVOICE)
    assert err.value.text.startswith("{")
    stream = bot.stream("x", response_format=INVOICE)
    with pytest.raises(StructuredOutputError):
        list(stream)
    with pytest.raises(StructuredOutputError):  # not a reply with parsed=None
        stream.reply()


def test_the_bench_counts_a_value_the_grammar_writes_in_another_key_order_and_no_invalid_one():
    """JSON objects are unordered; llguidance writes keys in the schema's order."""
    from pathlib import Path

    import jsonschema_bench as bench
    from llguidance import LLTokenizer

    from edgeqwen.runtime.grammar import GrammarEngine
    from edgeqwen.tokenizer import byte_level_tokenizer

    text = Path(byte_level_tokenizer()).read_text()
    engine = GrammarEngine(text, LLTokenizer(text).vocab_size, [0])
    item = {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}}
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "string"},
            "c": {"type": "number", "multipleOf": 0.5},
            "d": {"type": "array", "items": item},
        },
        "required": ["b"],
        "additionalProperties": {"type": "boolean"},
    }
    grammar = engine.compile(ResponseFormat("json_schema", schema=schema, max_string_length=None))

    def accepts(value) -> bool:
        return bench.accepts_value(engine.tokenizer, engine.matcher(grammar), value)

    # an extra key first, named ones reversed, nested objects reversed, 75.0 written as 75
    assert accepts({"z": True, "d": [{"y": 1, "x": 2}, {"x": 3}], "c": 75.0, "b": "s", "a": 1})
    assert accepts({"b": "s"})
    assert not accepts({"a": 1})  # "b" is required
    assert not accepts({"b": "s", "a": "1"})
    assert not accepts({"b": "s", "z": 1})  # an extra key holds a boolean
    assert not accepts({"b": "s", "d": [{"y": "1"}]})
    assert not accepts({"b": "s", "c": 0.3})

    # a union of open objects (GitHub's owner: a user or an organization): the user's earliest key,
    # "name", is an organization's extra one, taken only after its own keys
    user = {"properties": {"name": {"type": "string"}, "login": {"type": "string"}, "followers": {"type": "integer"}}}
    org = {"properties": {"login": {"type": "string"}, "members": {"type": "integer"}}}
    union = {"anyOf": [{**user, "required": ["login", "followers"]}, {**org, "required": ["login", "members"]}]}
    grammar = engine.compile(ResponseFormat("json_schema", schema=union, max_string_length=None))
    assert accepts({"name": "Octo", "login": "octo", "members": 3})
    assert not accepts({"name": "Octo", "login": "octo"})


def test_jsonschema_bench_smoke(tiny_models):
    """CI runs the benchmark on a few schemas so the script keeps working."""
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsonschemabench"
    if not data.is_dir():
        pytest.skip("../shared/data/jsonschemabench is not present")
    import jsonschema_bench as bench

    result = bench.run(data, limit=15)
    ours, plain = result["edgeqwen"], result["plain_llguidance"]
    assert result["schemas"] == 15 and ours["compiled"] == 15 and ours["invalid_accepted"] == 0
    assert ours["valid_accepted"] == result["valid"] and ours["passing"] >= plain["passing"]
    assert "| schemas compiled |" in bench.table(result) and "compile as decoded" in bench.table(result)
    assert result["decoded_ms_p50"] > 0 and result["decoded_ms_over_20"] <= 15
    slowest = list(result["slowest_to_a_matcher_ms"].values())
    assert len(slowest) == 15 and slowest == sorted(slowest, reverse=True)
    generated = bench.generate(data, 2, tiny_models["qwen2"]["int4"])
    assert generated["answers"] + generated["refused"] == 2 and generated["returned_invalid"] == 0


def test_jsonschema_bench_times_compiles_after_a_decode_step(tiny_models, tmp_path):
    """``--after-decode``: a decode step of the model before each timed compile (four a schema),
    and back to the prompt before the cache is full; the corpus is unfrozen after, even after an
    error."""
    import gc

    import jsonschema_bench as bench

    case = {"schema": {"type": "integer"}, "tests": [{"data": 1, "valid": True}]}
    for i in range(3):
        (tmp_path / f"c{i}.json").write_text(json.dumps(case))
    from edgeqwen.backends.onnx import OnnxBackend

    model = OnnxBackend(tiny_models["qwen2"]["int4"], context_length=77).model
    step = bench.after_decode(model)
    calls = []

    def counted() -> None:
        calls.append(len(model.tokens))
        step()

    result = bench.run(tmp_path, before=counted)
    assert result["edgeqwen"]["compiled"] == 3 and calls == list(range(64, 76))  # a token a step
    step()  # 76 of 77 positions held: back to the prompt first
    assert len(model.tokens) == 64 + 1
    frozen = gc.get_freeze_count()

    def broken() -> None:
        raise RuntimeError("a step failed")

    with pytest.raises(RuntimeError):
        bench.run(tmp_path, before=broken)
    # nothing left frozen (gc.unfreeze takes all: from Python 3.12 that includes the few hundred
    # objects the interpreter froze at its start, so the count may fall below what it was)
    assert gc.get_freeze_count() <= frozen


def test_jsonschema_bench_takes_bare_schemas_from_anywhere(tmp_path):
    """A folder of schemas without instances (SchemaStore's) is compiled, with what refused each."""
    import jsonschema_bench as bench

    case = {"schema": {"type": "integer"}, "tests": [{"data": 1, "valid": True}, {"data": "1", "valid": False}]}
    (tmp_path / "a_case.json").write_text(json.dumps(case))
    (tmp_path / "b_bare.json").write_text("\ufeff" + json.dumps({"type": "object", "properties": {"n": {}}}))
    (tmp_path / "c_remote.json").write_text(json.dumps({"$ref": "https://example.com/s.json"}))
    (tmp_path / "d_list.json").write_text("[1, 2]")
    (tmp_path / "e_broken.json").write_text("{")
    shaped = {  # a free-form property its object's branches shape: any JSON once made finite, before
        "type": "object",
        "properties": {"kind": {"type": "string"}, "data": {"type": "object"}},
        "oneOf": [
            {"properties": {"kind": {"const": "a"}, "data": {"properties": {"x": {"type": "string"}}}}},
            {"properties": {"kind": {"const": "b"}, "data": {"properties": {"y": {"type": "string"}}}}},
        ],
    }
    (tmp_path / "f_shaped.json").write_text(json.dumps(shaped))
    assert [p.stem for p, _ in bench.corpus(tmp_path)] == ["a_case", "b_bare", "c_remote", "f_shaped"]
    result = bench.run(tmp_path)
    assert result["schemas"] == 4 and result["edgeqwen"]["compiled"] == 3
    assert result["any_json_when_finite"] == 0 and "| grammar any JSON only once made finite" in bench.table(result)
    assert result["valid"] == 1 and result["invalid"] == 1 and result["edgeqwen"]["invalid_accepted"] == 0
    assert any("does not fetch" in reason for reason in result["fail_closed_reasons"])
    # compile times compared on the schemas both compile (plain llguidance refuses the remote one too)
    assert result["both_compiled"] == 2 and "on the 2 schemas both compile" in bench.table(result)
    # --resources: the folder's schemas are the documents the others refer to, by BASE + file name
    (tmp_path / "s.json").write_text(json.dumps({"enum": [1, 2]}))
    resources = bench.documents(tmp_path, "https://example.com/")
    assert resources["https://example.com/s.json"] == resources["https://example.com/s"] == {"enum": [1, 2]}
    bundled = dict((p.stem, c["schema"]) for p, c in bench.corpus(tmp_path, resources=resources))
    assert bundled["c_remote"]["$defs"]["edgeqwen_doc_0"] == {"enum": [1, 2]}
    assert bench.run(tmp_path, resources=resources)["edgeqwen"]["compiled"] == 5  # and s.json itself


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "maxLength": 60},
                    "unit": {"enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city", "unit"],
            },
        },
    },
    {
        "name": "add",
        "description": "Add two integers",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
]


PARAMETERS = {t.get("function", t)["name"]: t.get("function", t)["parameters"] for t in TOOLS}


@pytest.mark.parametrize("arch", ["qwen2", "qwen3"])
def test_constrained_tool_calls(tiny_models, arch):
    backend = OnnxBackend(tiny_models[arch]["int4"], context_length=2048)
    bot = Assistant(backend=backend, tools=TOOLS, max_tokens=600, temperature=1.0)
    names = set()
    for seed in range(6):
        bot.reset()
        reply = bot.chat("What is the weather in Paris?", tool_choice="required", seed=seed)
        assert len(reply.tool_calls) == 1 and reply.parsed == reply.tool_calls
        call = reply.tool_calls[0]
        names.add(call.name)
        jsonschema.validate(call.arguments, PARAMETERS[call.name])
        assert "<tool_call>" not in reply.text
    bot.reset()
    forced = bot.chat("Add 2 and 3", tool_choice={"name": "add"}, seed=0)
    assert forced.tool_calls[0].name == "add"
    # the call and its result go back into the conversation as Qwen's template renders them
    from edgeqwen import Message

    follow = bot.chat([Message("tool", '{"result": 5}')], max_tokens=5)
    assert follow.metrics.cached_tokens > 0
    assert [m.role for m in bot.history] == ["user", "assistant", "tool", "assistant"]


def test_a_call_the_model_opens_is_held_to_the_tools(qwen_tokenizer_json):
    """tool_choice="auto": the model's own <tool_call> was returned as written, so a call to a tool
    nobody listed, or arguments its schema refuses, reached the app. From the marker to the close
    the tools' grammar now holds (llama.cpp's lazy grammars); before and after, text is free."""
    from edgeqwen.chat import _parse_tool_calls
    from edgeqwen.runtime.grammar import GrammarEngine
    from edgeqwen.tokenizer import Tokenizer

    tok = Tokenizer(qwen_tokenizer_json)
    engine = GrammarEngine(tok.json_text, tok.vocab_size, [tok.token_id("<|im_end|>")])
    rng = np.random.default_rng(0)
    for seed in range(3):
        prompt = [tok.token_id("<|im_start|>")] * 3
        held = engine.tool_calls(TOOLS, len(prompt))
        ids = prompt + tok.encode("Let me look that up.\n")
        logits = rng.standard_normal(tok.vocab_size).astype(np.float32)
        assert held(np.array(ids), logits) is logits  # free text: untouched, no mask computed
        for _call in range(2):  # a second call is held the same way
            ids.append(tok.token_id("<tool_call>"))
            for _step in range(3000):
                logits = np.random.default_rng(seed * 10_000 + len(ids)).standard_normal(tok.vocab_size)
                out = held(np.array(ids), logits.astype(np.float32))
                if out is not logits and np.isfinite(out).all():
                    break  # the call is closed: free again
                ids.append(int(np.argmax(out)))
            else:
                raise AssertionError("the call never closed")
        calls, all_parsed = _parse_tool_calls(tok.decode(ids[len(prompt) :]))
        assert all_parsed and len(calls) == 2
        for call in calls:
            jsonschema.validate(call.arguments, PARAMETERS[call.name])


def test_tool_choice_is_kept_in_the_answer(qwen_tokenizer_json):
    """An unlisted tool becomes a listed one under "auto"; under "none" no call is written (both
    were returned as the model wrote them)."""
    from edgeqwen.testing import FakeBackend

    wants = '<tool_call>\n{"name": "send_email", "arguments": {"to": "boss"}}\n</tool_call>'
    fake = FakeBackend([wants], tokenizer_json=qwen_tokenizer_json)
    bot = Assistant(backend=fake, tools=TOOLS, policy="none", max_tokens=300)
    call = bot.chat("Weather in Paris?").tool_calls[0]
    assert call.name in PARAMETERS
    jsonschema.validate(call.arguments, PARAMETERS[call.name])
    reply = bot.chat("Weather in Paris?", tool_choice="none")
    assert reply.tool_calls == () and "<tool_call>" not in reply.text
    assert fake.tokenizer.token_id("<tool_call>") not in bot.history[-1].token_ids
    # tools whose schemas cannot be compiled: "auto" answers as before, and says calls are not held
    remote = {"name": "f", "parameters": {"type": "object", "properties": {"a": {"$ref": "https://x.org/a.json"}}}}
    loose = Assistant(backend=FakeBackend([wants], tokenizer_json=qwen_tokenizer_json), tools=[remote], policy="none")
    with pytest.warns(UserWarning, match="not held to the tools' schemas"):
        assert loose.chat("Mail the boss").tool_calls[0].name == "send_email"
    # no tools, no constraint: the text is the model's own
    plain = Assistant(backend=FakeBackend(["<tool_call> is a tag"], tokenizer_json=qwen_tokenizer_json), policy="none")
    assert plain.chat("Say it").text == "<tool_call> is a tag"


# Parameters as pydantic writes a model holding another model (its "$defs", "#/$defs/..."
# references), beside a free-form object: the call's grammar holds each tool's parameters inside
# itself, where those references had pointed at nothing ("Pointer '/$defs/Guest' does not exist").
BOOK = {
    "name": "book",
    "parameters": {
        "type": "object",
        # (no member: a random model fills a free-form key to its bound, which is then said cut)
        "properties": {"guest": {"$ref": "#/$defs/Guest"}, "extras": {"type": "object", "maxProperties": 0}},
        "required": ["guest", "extras"],
        "$defs": {
            "Guest": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 12}, "nights": {"$ref": "#/$defs/Nights"}},
                "required": ["name", "nights"],
            },
            "Nights": {"type": "integer", "minimum": 1, "maximum": 9},
        },
    },
}


def test_tool_calls_whose_parameters_have_definitions(qwen2):
    bot = Assistant(backend=qwen2, tools=[BOOK, TOOLS[1]], max_tokens=400, temperature=1.0)
    for seed, choice in enumerate(({"name": "book"}, "required", {"name": "book"})):
        bot.reset()
        call = bot.chat("Book a room for Ann", tool_choice=choice, seed=seed).tool_calls[0]
        jsonschema.validate(call.arguments, BOOK["parameters"] if call.name == "book" else TOOLS[1]["parameters"])


def test_bad_tool_choice(qwen2):
    bot = Assistant(backend=qwen2, tools=TOOLS)
    with pytest.raises(GrammarError, match="'mul'"):
        bot.chat("x", tool_choice={"name": "mul"})
    with pytest.raises(GrammarError, match="no tools"):
        Assistant(backend=qwen2).chat("x", tool_choice="required")
    with pytest.raises(Exception, match="tool_choice"):
        bot.chat("x", tool_choice="sometimes")


def test_fast_forward_skips_sampling_of_forced_tokens(qwen2):
    from edgeqwen import GenerationConfig
    from edgeqwen.runtime.loop import stream_generate

    ids = qwen2.template.encode(qwen2.tokenizer, qwen2.template.render([]))
    texts = {}
    for fast in (False, True):
        constraint = qwen2.grammar_engine.constraint(replace(ResponseFormat.of(MEDIUM), fast_forward=fast), len(ids))
        chunks = list(
            stream_generate(
                qwen2.model, qwen2.tokenizer, ids, GenerationConfig(max_tokens=1500), [constraint], qwen2.stop_token_ids
            )
        )
        texts[fast] = "".join(c.text for c in chunks)
        generated = chunks[-1].metrics.generated_tokens
        sampled = len(constraint.mask_times)
        assert (sampled < generated) if fast else (sampled == generated)
        jsonschema.validate(json.loads(texts[fast]), MEDIUM)
    assert texts[True].startswith('{"name":"')


@pytest.mark.slow
def test_demo_model_extraction_is_always_valid(demo_model):
    import extraction_eval as ev

    # the first 6 of the 22 cases (the whole set is the benchmark: tools/bench/extraction_eval.py)
    result = ev.evaluate(str(demo_model), limit=6)
    constrained, free = result["constrained"], result["unconstrained"]
    # valid, or said cut with its text (a 135M model rambles in a name past max_tokens): never invalid
    assert constrained["valid"] + constrained["cut"] == constrained["cases"] == 6 and constrained["valid"] >= 5
    assert constrained["field_accuracy"] > free["field_accuracy"]
    assert constrained["field_accuracy"] >= 0.4  # SmolLM2-135M gets about half the fields right


def test_lark_grammar(qwen2):
    grammar = 'start: "The answer is " NUM "."\nNUM: /[0-9]{1,3}/'
    bot = Assistant(backend=qwen2, max_tokens=40, temperature=1.0)
    for seed in range(3):
        reply = bot.chat("?", response_format=ResponseFormat.lark(grammar), seed=seed)
        assert reply.text.startswith("The answer is ") and reply.text.endswith(".")
        assert reply.text[len("The answer is ") : -1].isdigit()
    with pytest.raises(GrammarError):
        bot.chat("?", response_format=ResponseFormat.lark("start: undefined_rule"))


# -- a model that loops cannot run a value to the token limit ---------------------------------
LOOPING = {  # token id -> what a model stuck on it writes again and again
    16: "1",  # digits
    64: "a",  # letters
}
BOUNDED = [
    {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]},
    {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
    {"type": "object", "properties": {"e": {"type": "string", "format": "email"}}, "required": ["e"]},
    {"type": "object", "properties": {"d": {"type": "string", "format": "date-time"}}, "required": ["d"]},
    {"type": "object", "properties": {"p": {"type": "string", "pattern": "^[a-z0-9]+$"}}, "required": ["p"]},
    {"type": "array", "items": {"type": "number", "minimum": 0}, "maxItems": 2},
    {"type": "json_object"},
    {"type": "object", "additionalProperties": {"type": "integer"}},  # a map: its keys ran to the limit
    {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "integer"}},
]
FREE_FORM = BOUNDED[-3:]  # each key and value bounded, their number not below max_tokens


@pytest.fixture(scope="module")
def looping(qwen_tokenizer_json):
    from fakes import FakeBackend

    return FakeBackend(tokenizer_json=qwen_tokenizer_json)


@pytest.mark.parametrize("stuck_on", sorted(LOOPING))
@pytest.mark.parametrize("schema", BOUNDED, ids=lambda s: json.dumps(s)[:40])
def test_a_looping_model_cannot_run_a_value_to_the_limit(looping, schema, stuck_on):
    looping.script = [stuck_on]
    # Greedy: where the grammar masks the token the model is stuck on, the lowest allowed id wins.
    # Nothing a schema names may run to the limit.
    bot = Assistant(backend=looping, max_tokens=4096, temperature=0.0)
    stream = bot.stream("go", response_format=schema)
    try:
        reply, cut = stream.reply(), None
    except StructuredOutputError as exc:
        reply, cut = stream.reply(strict=False), exc
    if schema in FREE_FORM:
        # every key and value is bounded, their number (64 members) not below max_tokens: a model
        # looping over members runs to it, and is said cut with its text, never returned
        assert cut is not None and cut.cut and reply.finish_reason == "length" and reply.parsed is None
        runs = re.findall(f"{re.escape(looping.tokenizer.decode([stuck_on]))}+", reply.text)
        assert reply.text.startswith("{") and max(map(len, runs)) <= DEFAULT_MAX_STRING
        return
    assert reply.metrics.generated_tokens < 3000, reply.text[:200]
    if max(map(len, _strings(json.loads(reply.text))), default=0) == DEFAULT_MAX_STRING:
        # the loop filled a string to the bound: said to be cut, never returned as a value
        assert cut is not None and cut.cut and reply.finish_reason == "length" and reply.parsed is None
    else:
        assert cut is None and reply.finish_reason == "stop"
        if schema != {"type": "json_object"}:
            jsonschema.validate(reply.parsed, schema)


def _strings(value):
    if isinstance(value, str):
        yield value
    for item in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
        yield from _strings(item)


def test_a_string_the_bound_closed_is_reported_cut_not_returned_short(looping, qwen_tokenizer_json):
    from edgeqwen.testing import FakeBackend

    looping.script = [64]  # "a", again and again: a string only the bound ends
    bot = Assistant(backend=looping, max_tokens=4096, temperature=0.0)
    story = {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}
    with pytest.raises(StructuredOutputError, match=r"\$\.story reached 2,048 characters.*maxLength") as caught:
        bot.chat("go", response_format=story)
    assert caught.value.cut and caught.value.keyword is None and len(json.loads(caught.value.text)["story"]) == 2048
    # a forced tool call writing a file: its content cut at the bound is said, with the call's text
    write = {"type": "function", "function": {"name": "write_file", "parameters": story}}
    call = {"name": "write_file", "arguments": {"story": "a" * DEFAULT_MAX_STRING}}
    fake = FakeBackend([f"<tool_call>\n{json.dumps(call)}\n</tool_call>"], tokenizer_json=qwen_tokenizer_json)
    writer = Assistant(backend=fake, tools=[write], max_tokens=4096, policy="none")
    with pytest.raises(StructuredOutputError, match=r"\$\[0\]\.story reached") as caught:
        writer.chat("go", tool_choice="required")
    assert caught.value.cut and "a" * DEFAULT_MAX_STRING in caught.value.text
    # and a call the model makes on its own ("auto"), held to the same grammar and bound
    for length, finish in ((DEFAULT_MAX_STRING, "length"), (DEFAULT_MAX_STRING - 1, "stop")):
        call = {"name": "write_file", "arguments": {"story": "a" * length}}
        fake = FakeBackend([f"<tool_call>\n{json.dumps(call)}\n</tool_call>"], tokenizer_json=qwen_tokenizer_json)
        stream = Assistant(backend=fake, tools=[write], max_tokens=4096, policy="none").stream("go")
        try:
            reply, cut = stream.reply(), None
        except StructuredOutputError as exc:
            reply, cut = stream.reply(strict=False), exc
        assert reply.finish_reason == finish and (cut is not None) == (finish == "length")
        assert reply.tool_calls[0].arguments["story"] == "a" * length  # nothing lost
    # the schema's own maxLength of the same length: its strings may be that long
    bot.reset()
    story["properties"]["story"]["maxLength"] = DEFAULT_MAX_STRING
    reply = bot.chat("go", response_format=story)
    assert reply.finish_reason == "stop" and len(reply.parsed["story"]) == DEFAULT_MAX_STRING


def _nested(depth: int) -> object:
    """A value with ``depth`` containers, alternately objects and arrays."""
    return "leaf" if depth == 0 else {"k": _nested(depth - 1)} if depth % 2 else [_nested(depth - 1)]


# what an app asks json_object for: a list of records with text, their parts (five levels), and
# more keys beside
CITIES = {
    "cities": [
        {
            "name": f"City {i}",
            "population": 100_000 * (i + 1),
            "description": f"City {i} lies on a river; its old town, markets and museums draw visitors.",
            "districts": [{"name": f"D{j}", "central": j == 0} for j in range(2)],
        }
        for i in range(9)
    ],
    "source": "a census",
    "a key longer than thirty-two characters, as a sentence": True,
    **{f"field_{i}": i for i in range(12)},
}


def test_free_form_json_holds_what_apps_ask_for(qwen_tokenizer_json):
    """json_object and free-form values were two levels of at most 8 members with strings of 32
    characters: a list of records, a paragraph or a ninth key could not be written (37% of the
    slice's valid objects could). Now they are ANY_DEPTH containers deep, ANY_MEMBERS each."""
    from edgeqwen.testing import FakeBackend

    assert len(CITIES) > 8 and len(CITIES["cities"]) > 8
    deep = {"a": _nested(ANY_DEPTH)}  # the top object and ANY_DEPTH containers below it
    wide = {"xs": list(range(ANY_MEMBERS - 1)), "k" * (MAX_KEY - 1): "v" * 300}
    with_data = {"type": "object", "properties": {"id": {"type": "integer"}, "data": {}}, "required": ["id", "data"]}
    too_deep = {"a": _nested(ANY_DEPTH + 1)}  # one level deeper than the bound
    cases = [
        ({"type": "json_object"}, CITIES),
        ({"type": "json_object"}, deep),
        ({"type": "json_object"}, wide),
        (with_data, {"id": 1, "data": CITIES["cities"][:2]}),  # a free-form property: ANY_DEPTH containers
        ({"type": "json_object"}, too_deep),
    ]
    texts = [json.dumps(value, separators=(",", ":")) for _, value in cases]
    bot = Assistant(backend=FakeBackend(texts, tokenizer_json=qwen_tokenizer_json), max_tokens=1000, policy="none")
    for fmt, value in cases[:-1]:
        reply = bot.chat("go", response_format=fmt)
        assert reply.finish_reason == "stop" and reply.parsed == value
        bot.reset()
    # the grammar refuses the fifth container; the script, off its path, samples among the allowed
    # tokens at random and then runs to max_tokens (said cut) or finds its way back and closes
    stream = bot.stream("go", response_format=cases[-1][0], max_tokens=100)
    try:
        value = stream.reply().parsed
    except StructuredOutputError:
        value = None
    assert texts[-1] not in stream.reply(strict=False).text
    assert value is None or _depth(value) <= ANY_DEPTH + 1


def _depth(value: object) -> int:
    """Containers nested in ``value``, itself included."""
    if isinstance(value, dict | list):
        inner = value.values() if isinstance(value, dict) else value
        return 1 + max((_depth(v) for v in inner), default=0)
    return 0


@pytest.mark.parametrize(
    "value, where",
    [
        ({"xs": list(range(ANY_MEMBERS))}, r"The array at \$\.xs reached 64 items.*maxItems"),
        ({str(i): i for i in range(ANY_MEMBERS)}, r"The object at \$ reached 64 members.*maxProperties"),
        ({"a": {"k" * MAX_KEY: 1}}, r"A key of the object at \$\.a reached 128 characters"),
        ({"a": [{"b": [{"c": {}}]}]}, r"reached 4 levels of nesting.*closed empty"),
    ],
    ids=["array", "object", "key", "depth"],
)
def test_a_free_form_value_at_a_bound_is_reported_cut(qwen_tokenizer_json, value, where):
    from edgeqwen.testing import FakeBackend

    text = json.dumps(value, separators=(",", ":"))
    fake = FakeBackend([text], tokenizer_json=qwen_tokenizer_json)
    bot = Assistant(backend=fake, max_tokens=4096, policy="none")
    with pytest.raises(StructuredOutputError, match=where) as caught:
        bot.chat("go", response_format={"type": "json_object"})
    assert caught.value.cut and caught.value.text == text  # nothing lost


def test_only_bounds_decoding_adds_are_reported_cut():
    named = ResponseFormat.of({"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "integer"}}}})
    named.check_cut({"xs": list(range(ANY_MEMBERS))}, "")  # a named array has no count bound: 64 is 64
    own = ResponseFormat.of({"type": "object", "properties": {"xs": {"type": "array", "maxItems": ANY_MEMBERS}}})
    own.check_cut({"xs": list(range(ANY_MEMBERS))}, "")  # the schema's own maxItems: may be full
    free = ResponseFormat.of({"type": "object", "properties": {"xs": {"type": "array"}}})
    with pytest.raises(StructuredOutputError, match=r"\$\.xs reached 64 items"):
        free.check_cut({"xs": list(range(ANY_MEMBERS))}, "")
    free.check_cut({"xs": list(range(ANY_MEMBERS - 1))}, "")
    counts = ResponseFormat.of({"type": "object", "additionalProperties": {"type": "integer"}})  # a map
    with pytest.raises(StructuredOutputError, match=r"object at \$ reached 64 members"):
        counts.check_cut({f"w{i}": i for i in range(ANY_MEMBERS)}, "")
    with pytest.raises(StructuredOutputError, match=r"key of the object at \$ reached 128"):
        counts.check_cut({"w" * MAX_KEY: 1}, "")
    integer = {"type": "integer"}
    others = ResponseFormat.of({"type": "object", "properties": {"a": integer}, "additionalProperties": integer})
    with pytest.raises(StructuredOutputError, match=r"key of the object at \$ reached 128"):
        others.check_cut({"a": 1, "w" * MAX_KEY: 1}, "")
    others.check_cut({"a": 1, "w" * (MAX_KEY - 1): 1}, "")
    # a pattern of the schema's own elsewhere: the bound decoding adds here is still told apart
    own_pattern = {"type": "object", "patternProperties": {"^x": integer}, "additionalProperties": False}
    beside = ResponseFormat.of({**others.schema, "properties": {"a": integer, "b": own_pattern}})
    with pytest.raises(StructuredOutputError, match=r"key of the object at \$ reached 128"):
        beside.check_cut({"a": 1, "w" * MAX_KEY: 1}, "")
    ResponseFormat.of(own_pattern).check_cut({"x" * MAX_KEY: 1}, "")  # the schema's own: never said cut
    with pytest.raises(StructuredOutputError, match=r"string at \$\.a\[0\] reached 2,048 characters"):
        ResponseFormat("json_object").check_cut({"a": ["s" * DEFAULT_MAX_STRING]}, "")
    unbounded = ResponseFormat("json_object", max_string_length=None)  # no bound added: none reached
    unbounded.check_cut({"xs": list(range(ANY_MEMBERS)), "s": "s" * DEFAULT_MAX_STRING}, "")


def test_numbers_are_bounded_below_ten_to_the_sixteen_in_the_schema_form():
    # a round, exclusive bound: every integer a double holds exactly is in reach, and llguidance
    # builds its automaton faster than one to 2^53 - 1 (for engines that take only JSON Schema;
    # our own loop's grammar leaves it to digits.DigitLimit)
    assert decoding_schema({"type": "number"}, 100) == {"type": "number"}
    node = bound_numbers(decoding_schema({"type": "number"}, 100))
    assert node["exclusiveMaximum"] == 10**16 and node["exclusiveMinimum"] == -(10**16) and node["multipleOf"] == 1e-10
    assert 10**16 > 2**53 and "maximum" not in node and "minimum" not in node
    assert "multipleOf" not in bound_numbers({"type": "integer"})
    kept = {"type": "number", "minimum": 0, "exclusiveMaximum": 5, "multipleOf": 0.5}
    assert bound_numbers(kept) == kept
    assert bound_numbers({"type": "integer", "minimum": 2**60})["minimum"] == 2**60  # no empty range
    assert "maximum" not in bound_numbers({"type": "integer", "minimum": 2**60})
    assert bound_numbers({"enum": [1, 2], "type": "integer"}) == {"enum": [1, 2], "type": "integer"}
    fmt = ResponseFormat.of({"type": "object", "properties": {"n": {"type": "number"}, "free": {}}})
    schema, _ = fmt.json_schema_form()
    said = json.dumps(schema)
    assert said.count('"exclusiveMaximum": 10000000000000000') == 2  # "n", and the free-form value's numbers
    assert "exclusiveMaximum" not in json.dumps(fmt.relaxed().schema)  # the kept decoding schema is untouched
    # max_string_length=None: values are not made finite, numbers included (in the loop or the schema)
    unbounded = ResponseFormat("json_schema", schema=fmt.schema, max_string_length=None)
    assert "exclusiveMaximum" not in json.dumps(unbounded.json_schema_form()[0])


def test_a_pattern_longer_than_the_default_bound_still_compiles(qwen2):
    fmt = ResponseFormat.of({"type": "string", "pattern": "^a{3000}$"})
    assert qwen2.grammar_engine.compile(fmt)  # maxLength 2,048 would leave no value: left unbounded
    assert decoding_schema({"type": "string", "pattern": "^a+$"}, 100)["maxLength"] == 100


def test_a_random_model_at_t1_finishes_numbers(qwen2):
    schema = {
        "type": "object",
        "properties": {"n": {"type": "number"}, "i": {"type": "integer"}},
        "required": ["n", "i"],
    }
    bot = Assistant(backend=qwen2, max_tokens=200, temperature=1.0)
    for seed in range(4):
        reply = bot.chat("numbers", response_format=schema, seed=seed)
        assert reply.finish_reason == "stop"
        jsonschema.validate(reply.parsed, schema)


def test_a_model_that_loops_on_digits_ends_its_numbers_at_the_bound(qwen2):
    """The grammar leaves a number open (a bound said in it cost llguidance ~0.45 ms a schema to
    build); digits.DigitLimit ends it: a model pushed to write nothing but digits writes 16 before
    the point and 10 after it, and the answer ends there, valid, instead of at max_tokens; a
    schema's own wider bound (``maximum: 10**18``) lets it write the digits that bound allows."""
    digits = {qwen2.tokenizer.token_id(str(d)): 30.0 for d in range(10)}
    point = {qwen2.tokenizer.token_id("."): 20.0}
    schema = {
        "type": "object",
        "properties": {"i": {"type": "integer"}, "n": {"type": "number"}},
        "required": ["i", "n"],
    }
    bot = Assistant(backend=qwen2, max_tokens=120, temperature=1.0)
    reply = bot.chat("numbers", response_format=schema, logit_bias={**digits, **point}, seed=0)
    assert reply.finish_reason == "stop", reply.text
    whole, fraction = re.fullmatch(r'\{"i":(-?\d+),"n":(-?\d+)\.(\d+)\}', reply.text).group(1, 3)
    assert len(whole.lstrip("-")) == INTEGER_DIGITS and len(fraction) == FRACTION_DIGITS
    tools = [
        {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}}
    ]
    caller = Assistant(backend=qwen2, tools=tools, max_tokens=120, temperature=1.0)
    call = caller.chat("call f", tool_choice="required", logit_bias=digits, seed=0)
    assert call.finish_reason in ("stop", "tool_calls") and abs(call.tool_calls[0].arguments["x"]) < 10**INTEGER_DIGITS
    wide = bot.chat("numbers", response_format={"type": "integer", "minimum": 0, "maximum": 10**18}, logit_bias=digits)
    assert wide.finish_reason == "stop" and len(wide.text) > INTEGER_DIGITS and wide.parsed <= 10**18, wide.text
    # max_string_length=None asks for values not made finite: numbers too
    open_fmt = ResponseFormat("json_schema", schema={"type": "integer"}, max_string_length=None)
    assert qwen2.grammar_engine.digit_limit(open_fmt) is None
    long = bot.chat("numbers", response_format=open_fmt, logit_bias=digits, max_tokens=24)
    assert len(long.text) > INTEGER_DIGITS, long.text


# -- tool calls where <tool_call> is not a special token (the demo model, any ChatML model) --------
@pytest.mark.slow
def test_forced_tool_call_on_the_demo_model(demo_model):
    from edgeqwen.backends.onnx import OnnxBackend

    backend = OnnxBackend(demo_model, context_length=1024)
    assert backend.grammar_engine.special_markers == frozenset()  # the markers are text there
    weather = {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    bot = Assistant(backend=backend, tools=[weather], max_tokens=80)
    for choice in ("required", {"name": "get_weather"}):
        reply = bot.chat("What is the weather in Paris?", tool_choice=choice)
        assert [c.name for c in reply.tool_calls] == ["get_weather"] and isinstance(
            reply.tool_calls[0].arguments["city"], str
        )


def test_qwen_markers_stay_special_tokens(qwen2):
    assert qwen2.grammar_engine.special_markers == frozenset({"<tool_call>", "</tool_call>"})


def test_grammar_errors_are_one_short_line(qwen2):
    with pytest.raises(GrammarError) as err:
        qwen2.grammar_engine.compile(ResponseFormat.lark('start: <nonexistent_token> "x"'))
    message = str(err.value)
    assert "\n" not in message and len(message) < 400 and "nonexistent_token" in message


def test_a_free_form_value_past_its_depth_bound_is_closed_and_reported_cut():
    """The any JSON's last level holds scalars and containers closed as they open: a model that goes
    deeper there gets "{}" or "[]" (not a string in the value's place), and the answer is said cut.
    A last level of scalars, or a schema's own depth, is not."""
    from llguidance import LLMatcher, LLTokenizer

    from edgeqwen.runtime.matcher import matcher_limits
    from edgeqwen.tokenizer import byte_level_tokenizer

    fmt = ResponseFormat("json_object")
    tok = LLTokenizer(Path(byte_level_tokenizer()).read_text())

    def takes(text: str) -> bool:
        matcher = LLMatcher(tok, fmt.relaxed().grammar, log_level=0, limits=matcher_limits())
        return matcher.consume_tokens(tok.tokenize_str(text)) and matcher.is_accepting()

    # the root object, then four containers of the any JSON, then the last level
    assert takes('{"a":[{"b":[{"c":{}}]}]}') and takes('{"a":[{"b":[{"c":[]}]}]}')
    assert takes('{"a":[{"b":[{"c":"x"}]}]}')
    assert not takes('{"a":[{"b":[{"c":{"d":1}}]}]}') and not takes('{"a":[{"b":[{"c":[1]}]}]}')
    deep = {"a": [{"b": [{"c": {}}]}]}
    with pytest.raises(StructuredOutputError, match="4 levels of nesting") as caught:
        fmt.check_cut(deep, "")
    assert caught.value.cut
    fmt.check_cut({"a": [{"b": [{"c": 1}]}]}, "")  # scalars at the last level: as written
    fmt.check_cut({"a": [{"b": [{}]}]}, "")  # an empty container a level up: the model closed it
    ResponseFormat("json_object", max_string_length=None).check_cut(deep, "")  # no bound added
    nested = ResponseFormat.of({"type": "object", "properties": {"x": {"type": "object", "properties": {"y": {}}}}})
    with pytest.raises(StructuredOutputError, match="4 levels of nesting"):
        nested.check_cut({"x": {"y": [{"b": [{"c": []}]}]}}, "")  # "y" free-form two levels down
    nested.check_cut({"x": {"y": [{"b": [{"c": 2}]}]}}, "")
    own = {"type": "object", "properties": {"v": {"type": "array", "maxItems": 0}}}
    for _ in range(5):  # a schema's own nesting, however deep, has no bound decoding added
        own = {"type": "array", "items": own}
    ResponseFormat.of(own).check_cut([[[[[{"v": []}]]]]], "")
    tools = ResponseFormat.tool_call([{"name": "f", "parameters": {"type": "object", "properties": {"d": {}}}}])
    with pytest.raises(StructuredOutputError, match="4 levels of nesting"):
        tools.check_cut([{"d": [{"b": [{"c": {}}]}]}], "")
    tools.check_cut([{"d": [{"b": [{"c": "s"}]}]}], "")


def test_an_answer_nested_deeper_than_the_check_reads_is_resampled_not_blamed_on_the_schema():
    """A recursive schema (a tree) lets the model nest without end, and jsonschema recurses per level:
    an answer nested 300 levels was a GrammarError ("The schema cannot be checked", a 400 over HTTP)
    though the schema was fine, and at the dependency floors a Rust panic. The check reads no deeper
    than a schema may nest (MAX_SCHEMA_DEPTH): deeper fails it, so the answer is resampled; in every
    attempt, a StructuredOutputError names the nesting. At the limit the answer is read and valid."""
    from edgeqwen.runtime.relax import MAX_SCHEMA_DEPTH
    from edgeqwen.testing import FakeBackend

    tree = {"type": "object", "properties": {"c": {"type": "array", "items": {"$ref": "#"}}}}

    def nested(levels):  # levels of {"c": [...]}: two containers each, and the innermost {}
        value = {}
        for _ in range(levels):
            value = {"c": [value]}
        return value

    def bot(*values):
        replies = [json.dumps(v, separators=(",", ":")) for v in values]
        return Assistant(backend=FakeBackend(replies), policy="none", max_tokens=4000)

    reply = bot(nested(300), nested(3)).chat("a tree", response_format=tree)
    assert reply.parsed == nested(3) and reply.metrics.attempts == 2
    with pytest.raises(StructuredOutputError, match=f"more than {MAX_SCHEMA_DEPTH} levels deep") as err:
        bot(nested(300)).chat("a tree", response_format=tree)
    assert err.value.keyword == "nesting"
    deepest = (MAX_SCHEMA_DEPTH - 1) // 2  # 2 x 49 + 1 = 99 containers
    assert bot(nested(deepest)).chat("a tree", response_format=tree).parsed == nested(deepest)
    with pytest.raises(StructuredOutputError, match="levels deep"):
        bot(nested(deepest + 1)).chat("a tree", response_format=tree)  # 101


def test_a_format_the_check_cannot_assert_here_is_refused_before_answering(monkeypatch):
    """jsonschema asserts `uri` with rfc3986-validator and silently takes any string where it cannot
    import it: with rfc3986-validator 0.1.0 (which the floor allowed: a wheel with no module in it),
    `{"format": "uri"}` answers were returned unchecked and `iri` raised ModuleNotFoundError after
    the answer. Such a schema is refused when the format is made, naming the package; others run."""
    import importlib.util

    from edgeqwen.errors import BackendUnavailableError
    from edgeqwen.runtime import check as check_module
    from edgeqwen.testing import FakeBackend

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "rfc3986_validator" else real(name, *a)
    )
    check_module._missing_format_packages.cache_clear()
    check_module._validators.clear()
    try:
        fake = FakeBackend(['"http://a.example/"'])
        bot = Assistant(backend=fake, policy="none")
        for schema in ({"type": "string", "format": "uri"}, {"properties": {"a": {"format": "iri-reference"}}}):
            with pytest.raises(BackendUnavailableError, match="needs the rfc3986-validator package.*pip install -U"):
                bot.json("a link", schema)
        with pytest.raises(BackendUnavailableError, match="rfc3986-validator"):
            ResponseFormat.tool_call([{"name": "f", "parameters": {"properties": {"u": {"format": "uri"}}}}])
        assert fake.requests == []  # nothing generated
        assert bot.json("a link", {"type": "string"}) == "http://a.example/"  # a schema without those formats runs
    finally:
        monkeypatch.undo()
        check_module._missing_format_packages.cache_clear()
        check_module._validators.clear()
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '"rfc3986-validator>=0.1.1"' in pyproject
