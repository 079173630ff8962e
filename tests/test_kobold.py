"""The KoboldAI API as KoboldCpp serves it (``/api/v1/generate``, its stream, abort and cards), as
SillyTavern's "KoboldAI Classic" connection and KoboldAI Lite send it: every path was a 404."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from fakes import FakeBackend
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeqwen import Assistant, InvalidRequestError
from edgeqwen.server import BackgroundServer, ServerSettings
from edgeqwen.server.kobold import fitted, parse_kobold_request

PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
# SillyTavern 1.19's getKoboldGenerationData with its RecoveredRuins preset, as its server forwards it
SILLYTAVERN = {
    "prompt": PROMPT, "use_story": False, "use_memory": False, "use_authors_note": False, "use_world_info": False,
    "max_context_length": 4096, "max_length": 200, "rep_pen": 1.1, "rep_pen_range": 600, "rep_pen_slope": 0,
    "temperature": 1, "tfs": 1, "top_a": 0, "top_k": 0, "top_p": 0.95, "min_p": 0.01, "typical": 1,
    "sampler_order": [6, 0, 1, 2, 3, 4, 5], "singleline": False, "use_default_badwordsids": False, "mirostat": 0,
    "mirostat_tau": 5, "mirostat_eta": 0.1, "grammar": "", "stop_sequence": ["\nUser:", ""],
}  # fmt: skip


def parse(body, limit=64):
    return parse_kobold_request({"prompt": "Hi", **body}, limit)


def test_koboldcpp_names_and_defaults():
    asked = parse_kobold_request(SILLYTAVERN, 512)
    s = asked.settings
    assert (s["repetition_penalty"], s["penalty_window"], s["penalty_slope"]) == (1.1, 600, 0.0)
    assert (s["top_p"], s["min_p"], s["top_a"], s["tfs"], s["typical_p"]) == (0.95, 0.01, 0.0, 1.0, 1.0)
    # KoboldCpp's numbers as names: 4 is top-p then min-p; 6, the penalty, first here anyway
    assert s["sampler_order"] == ("top_k", "top_a", "tfs", "typical_p", "top_p", "min_p", "temperature")
    assert s["stop"] == ("\nUser:",) and s["max_tokens"] == 200 and asked.context == 4096
    # what the body leaves out: KoboldCpp's order (the temperature last) and window, the server's max
    bare = parse({})
    assert bare.settings["sampler_order"][-1] == "temperature" and bare.settings["penalty_window"] == 320
    assert bare.settings["max_tokens"] == 64 and "temperature" not in bare.settings  # the model's own
    assert parse({"singleline": True, "stop_sequence": ["END"]}).settings["stop"] == ("END", "\n")
    assert parse({"sampler_seed": 7, "genkey": "KCPP1"}).settings["seed"] == 7
    assert "seed" not in parse({"sampler_seed": -1}).settings  # random, as KoboldCpp reads it
    assert parse({"memory": "M. "}).memory == "M. "
    # SillyTavern's Deterministic preset: top-p 0 keeps the best token alone (it was a 400)
    assert parse({"top_p": 0, "temperature": 0.7}).settings["temperature"] == 0.0


def test_grammar_is_gbnf_or_a_json_schemas_text():
    assert parse({"grammar": 'root ::= "yes" | "no"'}).settings["response_format"].kind == "lark"
    schema = json.dumps({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    held = parse({"grammar": schema}).settings["response_format"]
    assert held == {"type": "json_schema", "json_schema": {"schema": json.loads(schema)}}
    assert "response_format" not in parse({"grammar": ""}).settings  # SillyTavern's off


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"banned_tokens": ["Paris"]}, "banned_tokens", "only"),
        ({"mirostat": 2}, "mirostat", "not supported"),
        ({"n": 2}, "n", "only 1"),
        ({"logprobs": True}, "logprobs", "only False"),
        ({"max_length": 0}, "max_length", "max_length must be a whole number >= 1"),
        ({"top_a": 2}, "top_a", r"top_a must be in \[0, 1\]"),
        ({"rep_pen_slope": 3}, "rep_pen_slope", "rep_pen_slope: penalty_slope must be in"),
        ({"stop_sequence": "END"}, "stop_sequence", "list of texts"),
        ({"prompt": ""}, "prompt", "not empty"),
        ({"prompt": 5}, "prompt", "must be text"),
        ({"max_context_length": 0}, "max_context_length", ">= 1"),
        ({"grammar": "root ::= ("}, "grammar", "grammar"),
        # the penalty after a filter the body leaves on: this server applies it before them all
        ({"rep_pen": 1.1, "top_k": 40, "sampler_order": [0, 6, 5]}, "sampler_order", "after top_k"),
        ({"rep_pen": 1.1, "sampler_order": [0, 1, 5]}, "sampler_order", "leaves out the repetition penalty"),
        ({"sampler_order": [9]}, "sampler_order", "KoboldCpp's sampler numbers"),
        ({"sampler_order": [5, 0], "temperature_last": True}, "temperature_last", "disagree"),
    ],
)
def test_what_it_cannot_honour_is_named(body, param, says):
    with pytest.raises(InvalidRequestError, match=says) as err:
        parse(body)
    assert err.value.param == param


def test_a_grammar_nested_too_deep_is_a_400_not_a_500():
    """A JSON Schema's text nested thousands deep raised RecursionError (a 500) on this route and
    as vLLM's guided_json or llama-server's json_schema on the chat route."""
    from edgeqwen.server.protocol import parse_chat_request

    deep = '{"a": ' * 3000 + "1" + "}" * 3000
    with pytest.raises(InvalidRequestError, match="nested too deep") as err:
        parse({"grammar": deep})
    assert err.value.param == "grammar"
    for name in ("guided_json", "json_schema"):
        with pytest.raises(InvalidRequestError, match="nested too deep") as err:
            parse_chat_request({"messages": [{"role": "user", "content": "Hi"}], name: "[" * 5000 + "]" * 5000}, 64)
        assert err.value.param == name


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["prompt", "memory", "max_length", "max_context_length", "temperature", "top_k", "top_p",
                         "top_a", "tfs", "typical", "rep_pen", "rep_pen_range", "rep_pen_slope", "sampler_order",
                         "sampler_seed", "stop_sequence", "singleline", "grammar", "genkey", "logit_bias",
                         "banned_tokens", "mirostat", "n", "logprobs", "images", "trim_stop"]),
        st.one_of(st.none(), st.booleans(), st.integers(-3, 9), st.floats(allow_nan=False), st.text(max_size=6),
                  st.lists(st.one_of(st.integers(-2, 9), st.text(max_size=3)), max_size=4),
                  st.dictionaries(st.text(max_size=3), st.integers(-2, 2), max_size=2)),
    )
)  # fmt: skip
def test_any_body_is_read_or_refused_naming_a_field_it_sent(body):
    """Whatever a KoboldAI client sends, the answer is a request or a 400 naming a field of it."""
    try:
        parse_kobold_request({"prompt": "Hi", **body}, 64)
    except InvalidRequestError as exc:
        assert exc.param in {"prompt", *body}, (exc.param, exc)


def test_the_penalty_may_follow_steps_that_are_off_or_a_temperature_that_scales():
    """SillyTavern's Universal presets put the temperature first ([5, 6, 0, ...]): a temperature
    scales logits, which a repetition penalty's divide commutes with."""
    asked = parse({"rep_pen": 1.1, "temperature": 1.25, "top_k": 0, "sampler_order": [5, 6, 0, 1, 2, 3, 4]})
    assert asked.settings["sampler_order"][0] == "temperature"
    with pytest.raises(InvalidRequestError, match="after temperature"):
        parse({"rep_pen": 1.1, "presence_penalty": 0.5, "temperature": 1.25, "sampler_order": [5, 6, 0]})
    assert parse({"rep_pen": 1.1, "temperature": 0, "top_k": 40, "sampler_order": [0, 6, 5]})  # greedy


def test_the_prompts_oldest_tokens_are_cut_to_fit_and_the_memory_kept(qwen2):
    tokenizer = qwen2.tokenizer
    memory, prompt = "Remember: the sky is green. ", " ".join(f"word{i}" for i in range(100))
    asked = parse_kobold_request({"memory": memory, "prompt": prompt, "max_length": 20}, 64)
    whole = fitted(tokenizer, asked, 512)  # it fits: each read on its own, as KoboldCpp reads them
    assert whole == tokenizer.encode(memory) + tokenizer.encode(prompt)
    assert tokenizer.decode(whole) == memory + prompt
    short = parse_kobold_request({"memory": memory, "prompt": prompt, "max_length": 20, "max_context_length": 100}, 64)
    ids = fitted(tokenizer, short, 512)
    kept = tokenizer.encode(memory)
    assert len(ids) == 80 and ids[: len(kept)] == kept  # 100 less the 20 to answer
    assert tokenizer.decode(ids).endswith("word99")
    tight = parse_kobold_request({"memory": memory * 20, "prompt": prompt, "max_length": 20}, 64)
    with pytest.raises(InvalidRequestError, match="leave no room for the prompt") as err:
        fitted(tokenizer, tight, 100)
    assert err.value.param == "memory"


@pytest.fixture(scope="module")
def served(qwen2):
    with BackgroundServer(Assistant(backend=qwen2, policy="default"), ServerSettings(max_tokens=24)) as srv:
        yield srv


def test_cards_its_clients_read_first(served):
    get = lambda path: httpx.get(served.url + path).json()  # noqa: E731
    assert get("/api/v1/model")["result"].startswith("koboldcpp/")
    assert get("/api/v1/info/version") == {"result": "1.2.5"}
    extra = get("/api/extra/version")
    assert extra["result"] == "KoboldCpp" and extra["served_by"].startswith("edgeqwen")
    assert get("/api/extra/true_max_context_length") == get("/api/v1/config/max_context_length") == {"value": 512}
    assert get("/api/v1/config/max_length") == {"value": 24}
    assert get("/api/latest/model") == get("/api/v1/model")  # KoboldAI United's other prefix (the Horde worker's)


def test_generate_whole_and_streamed_as_completions_answers(served):
    body = {"prompt": PROMPT, "max_length": 8, "temperature": 0}
    said = httpx.post(served.url + "/api/v1/generate", json=body).json()["results"][0]
    assert httpx.post(served.url + "/api/latest/generate", json=body).json()["results"][0] == said
    openai = httpx.post(served.url + "/v1/completions", json={"prompt": PROMPT, "max_tokens": 8, "temperature": 0})
    assert said["text"] == openai.json()["choices"][0]["text"] and said["text"]
    assert said["finish_reason"] == "length" and said["completion_tokens"] == 8 and said["prompt_tokens"] > 10
    perf = httpx.get(served.url + "/api/extra/perf").json()  # KoboldCpp's status, of the last answer
    assert (perf["last_token_count"], perf["last_input_count"]) == (8, said["prompt_tokens"])
    assert perf["stop_reason"] == 0 and perf["idle"] == 1 and perf["queue"] == 0 and perf["total_gens"] >= 2
    assert perf["last_eval"] > 0 and perf["last_eval_speed"] > 0 and perf["uptime"] > 0
    with httpx.stream("POST", served.url + "/api/extra/generate/stream", json=body) as r:
        lines = [line for line in r.iter_lines() if line]
    assert lines[0] == "event: message" and lines[1].startswith("data: ")
    events = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert "".join(e["token"] for e in events) == said["text"]
    assert events[-1]["finish_reason"] == "length" and all(e["finish_reason"] is None for e in events[:-1])
    # a sampled answer with KoboldCpp's samplers: drawn, as long as asked
    drawn = {"prompt": PROMPT, "max_length": 6, "temperature": 0.9, "top_a": 0.2, "tfs": 0.95, "sampler_seed": 3}
    sampled = httpx.post(served.url + "/api/v1/generate", json=drawn).json()["results"][0]
    assert sampled["completion_tokens"] == 6
    assert httpx.post(served.url + "/api/v1/generate", json=drawn).json()["results"][0] == sampled  # its seed


def test_the_order_reaches_the_sampler(served):
    """A sampler_order without the temperature (5) applies none, as KoboldCpp reads it: the same
    draws at any temperature; with it, the temperature changes them."""

    def said(temperature, order):
        body = {"prompt": PROMPT, "max_length": 12, "temperature": temperature, "sampler_seed": 5, "top_k": 0,
                "top_p": 1, "min_p": 0, "sampler_order": order}  # fmt: skip
        return httpx.post(served.url + "/api/v1/generate", json=body).json()["results"][0]["text"]

    assert said(0.3, [6, 0, 1, 3, 4, 2]) == said(1.7, [6, 0, 1, 3, 4, 2])
    assert said(0.3, [6, 0, 1, 3, 4, 2, 5]) != said(1.7, [6, 0, 1, 3, 4, 2, 5])


def test_errors_in_koboldcpps_shape(served):
    r = httpx.post(served.url + "/api/v1/generate", json={"prompt": "Hi", "mirostat": 2})
    assert r.status_code == 400 and "mirostat" in r.json()["detail"]["msg"]
    r = httpx.post(served.url + "/api/v1/generate", json={"prompt": "Hi", "max_length": 20, "max_context_length": 10})
    assert r.status_code == 400 and "max_length" in r.json()["detail"]["msg"]


class Paced(FakeBackend):
    """A fake model that writes a token only when the test lets one through (``allow``)."""

    def __init__(self) -> None:
        super().__init__(["One two three four five six seven eight nine ten."], context_length=1024)
        self.permits, self.fed = threading.Semaphore(0), 0
        decode = self.model.decode

        def paced(token):
            assert self.permits.acquire(timeout=10), "the test never let a token through"
            self.fed += 1
            return decode(token)

        self.model.decode = paced

    def allow(self, n: int) -> None:
        for _ in range(n):
            self.permits.release()


def generating(url: str, body: dict) -> tuple[threading.Thread, dict]:
    """A KoboldAI generate under way in a thread (its client waiting), and where its answer will be."""
    got: dict = {}
    worker = threading.Thread(target=lambda: got.update(httpx.post(url + "/api/v1/generate", json=body).json()))
    worker.start()
    return worker, got


def test_abort_stops_the_answer_of_its_genkey():
    backend = Paced()
    with BackgroundServer(Assistant(backend=backend, policy="none"), ServerSettings(max_tokens=64)) as srv:
        body = {"prompt": "Count.", "max_length": 40, "genkey": "KCPP42"}
        worker, got = generating(srv.url, body)
        backend.allow(2)
        while backend.fed < 2:
            time.sleep(0.005)
        assert httpx.post(srv.url + "/api/extra/abort", json={"genkey": "other"}).json()["success"] == "false"
        assert httpx.post(srv.url + "/api/extra/abort", json={"genkey": "KCPP42"}).json()["success"] == "true"
        backend.allow(100)
        worker.join(10)
        said = got["results"][0]
        assert said["finish_reason"] == "stop" and 1 <= said["completion_tokens"] < 8  # of some 20
        assert backend.fed <= 4  # stopped at the next token, with a hundred let through
        assert "One two three four five six seven eight".startswith(said["text"].strip())
        full = httpx.post(srv.url + "/api/v1/generate", json={**body, "genkey": ""}).json()["results"][0]
        assert full["text"].startswith("One two three four five six seven eight")
        # ended answers are forgotten: nothing left to stop under their keys
        assert httpx.post(srv.url + "/api/extra/abort", json={"genkey": "KCPP42"}).json()["success"] == "false"
        assert httpx.post(srv.url + "/api/extra/abort").json()["success"] == "false"  # KoboldCpp's bare abort


def test_check_gives_the_text_so_far_then_the_whole_answer():
    """KoboldCpp's polled streaming (EasyNovelAssistant's: a generate in a thread, check polled
    beside it) was a 404."""
    backend = Paced()
    with BackgroundServer(Assistant(backend=backend, policy="none"), ServerSettings(max_tokens=64)) as srv:
        worker, got = generating(srv.url, {"prompt": "Count.", "max_length": 40, "genkey": "KCPP7"})
        check = lambda key: httpx.post(srv.url + "/api/extra/generate/check", json={"genkey": key}).json()  # noqa: E731
        backend.allow(4)
        deadline = time.monotonic() + 10
        while not check("KCPP7")["results"][0]["text"] and time.monotonic() < deadline:
            time.sleep(0.01)
        so_far = check("KCPP7")["results"][0]["text"]
        assert so_far and check("other") == {"results": [{"text": ""}]}
        while worker.is_alive():
            backend.allow(1)
            time.sleep(0.005)
        whole = got["results"][0]["text"]
        assert len(so_far) < len(whole) and whole.startswith(so_far)
        assert check("KCPP7")["results"][0]["text"] == whole  # once ended, the whole of it
        assert httpx.get(srv.url + "/api/extra/generate/check").json() == {"results": [{"text": ""}]}  # no key


def test_abort_of_an_answer_still_in_line_stops_it_at_its_turn():
    """Cancelling a request in line would end its client's connection with no answer: it is
    answered instead, stopped before its first token."""
    backend = Paced()
    with BackgroundServer(Assistant(backend=backend, policy="none"), ServerSettings(max_tokens=64)) as srv:
        got: dict[str, dict] = {}

        def ask(key: str, stream: bool) -> None:
            body = {"prompt": "Count.", "max_length": 30, "genkey": key}
            path = "/api/extra/generate/stream" if stream else "/api/v1/generate"
            r = httpx.post(srv.url + path, json=body, timeout=30)
            got[key] = {"status": r.status_code, "text": r.text}

        first = threading.Thread(target=ask, args=("A", False))
        first.start()
        backend.allow(1)
        while backend.fed < 1:
            time.sleep(0.005)
        waiting = [threading.Thread(target=ask, args=(key, key == "C")) for key in ("B", "C")]
        for t in waiting:
            t.start()
        deadline = time.monotonic() + 10
        while httpx.get(srv.url + "/health").json()["queue_waiting"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # both in line behind A
        for key in ("B", "C"):
            assert httpx.post(srv.url + "/api/extra/abort", json={"genkey": key}).json()["success"] == "true"
        threads = (first, *waiting)
        while any(t.is_alive() for t in threads):  # a token every 10 ms: time for the stop to land
            backend.allow(1)
            time.sleep(0.01)
        assert got["A"]["status"] == 200 and json.loads(got["A"]["text"])["results"][0]["finish_reason"] == "length"
        whole = json.loads(got["B"]["text"])["results"][0]
        assert got["B"]["status"] == 200 and whole["finish_reason"] == "stop" and whole["completion_tokens"] <= 2
        events = [json.loads(line[6:]) for line in got["C"]["text"].splitlines() if line.startswith("data: ")]
        assert got["C"]["status"] == 200 and events[-1]["finish_reason"] == "stop"
        assert "One two".startswith("".join(e["token"] for e in events))
