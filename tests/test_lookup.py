"""Prompt lookup (speculative decoding without a draft model): the guess (lookup.py), the
acceptance rule (sampling.make_judge), and the loop's check and rewind (loop.generate_step) on the
scripted model, whose logits are exact; llama.cpp's one-pass check on real GGUF files."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from fakes import qwen_scripted
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeqwen import GenerationConfig, InvalidRequestError
from edgeqwen.backends.base import Request, UnsupportedSettingWarning
from edgeqwen.runtime.lookup import find_draft
from edgeqwen.runtime.loop import Lookup, generate_step, stream_generate
from edgeqwen.runtime.sampling import _distribution, make_judge, make_sampler
from edgeqwen.testing import FakeBackend, ScriptedModel
from edgeqwen.tokenizer import Tokenizer

IM_END = 151645


@pytest.fixture(scope="module")
def tok(qwen_tokenizer_json):
    return Tokenizer(qwen_tokenizer_json)


# -- the guess ------------------------------------------------------------------------------------
def test_the_guess_follows_the_last_occurrence_of_the_longest_tail():
    tokens = np.array([1, 2, 3, 40, 41, 9, 2, 3, 50, 51, 52, 7, 2, 3])
    assert find_draft(tokens, 2).tolist() == [50, 51]  # "2 3" last seen before 50 51, not before 40
    tokens = np.array([5, 1, 2, 3, 60, 61, 1, 2, 3, 70, 9, 1, 2, 3])
    assert find_draft(tokens, 4).tolist() == [70, 9, 1, 2]  # the 3-token tail, most recent first
    assert find_draft(np.array([1, 2, 3, 4, 5]), 4).size == 0  # nothing recurs
    assert find_draft(np.array([7, 1, 7, 2, 7]), 4).size == 0  # one token alone is no guess
    assert find_draft(np.array([1, 2, 9, 1, 2]), 0).size == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=0, max_size=40), st.integers(0, 6))
def test_a_guess_is_what_followed_an_earlier_copy_of_the_tail(values, width):
    tokens = np.array(values, dtype=np.int64)
    draft = find_draft(tokens, width).tolist()
    assert len(draft) <= width
    if not draft and width:
        n = len(values)
        for size in (2, 3):  # no earlier copy of a 2- or 3-token tail has anything after it
            if n > size:
                tail = values[n - size :]
                assert all(values[s : s + size] != tail for s in range(n - size))
        return
    if not draft:
        return
    n = len(values)
    starts = [
        s + size for size in (3, 2) if n > size for s in range(n - size) if values[s : s + size] == values[n - size :]
    ]
    assert any(values[s : s + len(draft)] == draft for s in starts)


# -- the acceptance rule --------------------------------------------------------------------------
def test_greedy_judge_writes_the_best_token_whatever_the_guess():
    judge = make_judge(0.0)
    logits = np.array([0.1, 3.0, 2.9, -1.0], dtype=np.float32)
    assert judge(logits, 1) == 1 and judge(logits, 2) == 1 and judge(logits, 3) == 1


@pytest.mark.parametrize(("guess", "filters"), [(1, {}), (0, {"top_k": 3}), (4, {"top_k": 3}), (2, {"top_p": 0.8})])
def test_sampled_tokens_keep_the_samplers_distribution_whatever_the_guess(guess, filters):
    """Accepting a guess with its probability and else drawing from the rest gives each token
    exactly its probability: 40,000 draws against the sampler's own distribution."""
    logits = np.array([1.0, 2.0, 0.5, 0.0, -0.5], dtype=np.float32)
    temperature = 0.8
    ids, probs = _distribution(temperature, filters.get("top_p", 1.0), filters.get("top_k", 0), 0.0)(logits)
    want = np.zeros(logits.size)
    want[ids] = probs
    judge = make_judge(temperature, rng=np.random.default_rng(7), **filters)
    got = np.bincount([judge(logits, guess) for _ in range(40_000)], minlength=logits.size) / 40_000
    assert np.abs(got - want).max() < 0.01
    assert (got[want == 0] == 0).all()  # a guess the filters drop is never written


def test_the_sampler_draws_as_before_from_one_seed():
    logits = np.array([1.0, 2.0, 0.5, 0.0], dtype=np.float32)
    a = make_sampler(0.9, seed=3)
    b = make_sampler(0.9, rng=np.random.default_rng(3))
    assert [a(logits) for _ in range(50)] == [b(logits) for _ in range(50)]


# -- the loop -------------------------------------------------------------------------------------
PROMPT = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]


def steps(model, script_prompt, width, max_tokens=40, judge=None):
    lookup = Lookup(width, judge or make_judge(0.0)) if width else None
    out = [t for t, _ in generate_step(model, script_prompt, make_sampler(0.0), (), max_tokens, None, lookup)]
    return out, lookup


def test_guesses_copied_from_the_prompt_are_taken_and_the_answer_is_unchanged():
    script = [30, *PROMPT[2:10], 31, *PROMPT[4:12], 32]  # an answer quoting its prompt twice
    plain, _ = steps(qwen_scripted(script), PROMPT, 0, max_tokens=len(script))
    model = qwen_scripted(script)
    guessed, lookup = steps(model, PROMPT, 4, max_tokens=len(script))
    assert guessed == plain == script
    assert lookup.accepted >= 8 and lookup.drafted >= lookup.accepted
    assert model.tokens == PROMPT + script[:-1]  # as without guesses: the last token is never fed


def test_a_wrong_guess_is_replaced_and_the_cache_rewound():
    script = [30, *PROMPT[2:5], 99, 98, 97, *PROMPT[0:3], 96]  # quotes three tokens, then goes its own way
    model = qwen_scripted(script)
    guessed, lookup = steps(model, PROMPT, 6, max_tokens=len(script))
    assert guessed == script
    assert lookup.drafted > lookup.accepted
    assert model.tokens == PROMPT + script[:-1]


@pytest.mark.parametrize("max_tokens", [1, 2, 3, 5, 7])
def test_max_tokens_cuts_inside_a_run_of_taken_guesses(max_tokens):
    script = PROMPT[:10]
    model = qwen_scripted(script)
    guessed, _ = steps(model, PROMPT, 5, max_tokens=max_tokens)
    assert guessed == script[:max_tokens]
    assert model.tokens == PROMPT + script[: max_tokens - 1]


def test_a_stop_on_a_guessed_token_leaves_it_out_of_the_cache(tok):
    """The consumer stops on a token that came as a guess: it and the guesses after it were fed in
    the checking pass, and are taken back out, so the next turn's prefix reuse sees the truth."""
    prompt = tok.encode("a b c d e f g h i j")
    script = [*tok.encode(" c d e f"), IM_END]
    prompt = [*prompt, *tok.encode(" c d e f"), IM_END, *tok.encode(" g h")]  # the stop token recurs
    model = qwen_scripted(script)
    config = GenerationConfig(prompt_lookup=6, max_tokens=20)
    chunks = list(stream_generate(model, tok, prompt, config, (), (IM_END,)))
    assert "".join(c.text for c in chunks) == " c d e f" and chunks[-1].finish_reason == "stop"
    assert chunks[-1].metrics.accepted_tokens >= 3
    assert model.tokens == prompt + script[:-1]


def test_metrics_count_guesses_and_are_zero_without_lookup(tok):
    ids = tok.encode(" the cat sat on the mat, the cat sat on the mat, the cat sat")
    for width, counted in ((0, False), (5, True)):
        chunks = list(
            stream_generate(qwen_scripted([*ids, IM_END]), tok, ids[:12], GenerationConfig(prompt_lookup=width))
        )
        m = chunks[-1].metrics
        assert "".join(c.text for c in chunks) == tok.decode(ids)
        assert (m.accepted_tokens > 0) == counted and m.drafted_tokens >= m.accepted_tokens


def test_guesses_are_held_to_a_grammar_like_any_token(tok):
    fake = FakeBackend(replies=['{"a": "a", "b": "a"}'], tokenizer_json=tok.path)
    from edgeqwen.runtime.formats import ResponseFormat

    fmt = ResponseFormat.of({"type": "object", "properties": {"a": {"enum": ["a"]}}, "required": ["a"]})
    request = Request(tuple(tok.encode("x")), GenerationConfig(prompt_lookup=4, max_tokens=30), response_format=fmt)
    text = "".join(c.text for c in fake.stream(request))
    assert text.startswith('{"a"') and text.endswith("}")


def test_prompt_lookup_is_checked():
    for bad in (-1, 33, 1.5, True, "4"):
        with pytest.raises(InvalidRequestError) as caught:
            GenerationConfig(prompt_lookup=bad)
        assert caught.value.param == "prompt_lookup"


def test_a_backend_that_cannot_check_guesses_says_so_once(tok):
    class OneRow(ScriptedModel):
        verify = property(lambda self: (_ for _ in ()).throw(AttributeError("verify")))

    fake = FakeBackend(replies=["ok"])
    fake.model = OneRow(fake.model.script, fake.model.vocab)
    assert not fake.supports_prompt_lookup
    request = Request(tuple(fake.tokenizer.encode("hi")), GenerationConfig(prompt_lookup=4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            assert "".join(c.text for c in fake.stream(request)) == "ok"
    assert [w.category for w in caught] == [UnsupportedSettingWarning]
    assert "fake backend" in str(caught[0].message) and "verify" in str(caught[0].message)


def test_guesses_and_a_grammars_forced_tokens_share_a_pass(tok):
    """An extraction copies its prompt into a structured answer: the grammar forces the keys and
    punctuation (fast-forward), the guesses cover the copied values, in the same passes."""
    from edgeqwen.runtime.formats import ResponseFormat

    reply = '{"who":"Ada Lovelace wrote the first published program for a machine","year":1843}'
    prompt = tuple(tok.encode("Note: Ada Lovelace wrote the first published program for a machine in 1843."))
    schema = {
        "type": "object",
        "properties": {"who": {"type": "string"}, "year": {"type": "integer"}},
        "required": ["who", "year"],
    }
    fmt = ResponseFormat.of(schema)
    assert fmt.fast_forward
    said = {}
    for width in (0, 4):
        fake = FakeBackend(replies=[reply], tokenizer_json=tok.path)
        chunks = list(
            fake.stream(Request(prompt, GenerationConfig(prompt_lookup=width, max_tokens=60), response_format=fmt))
        )
        said[width] = ("".join(c.text for c in chunks), chunks[-1].metrics)
        written = [c.token for c in chunks if c.token is not None]
        assert chunks[-1].finish_reason == "stop"  # on the end token, which is neither written nor fed
        assert fake.model.tokens == [*prompt, *written]
    assert said[4][0] == said[0][0] == reply
    assert said[4][1].accepted_tokens >= 5


def test_log_probabilities_are_each_tokens_own_with_guesses(tok):
    """Each token's log probabilities come from the row that chose it, guessed or not."""
    ids = tok.encode(" one two three, one two three, one two three")
    said = {}
    for width in (0, 3):
        config = GenerationConfig(prompt_lookup=width, logprobs=2)
        chunks = list(stream_generate(qwen_scripted([*ids, IM_END]), tok, ids[:6], config, (), (IM_END,)))
        said[width] = [(c.logprob.token, round(c.logprob.logprob, 5)) for c in chunks if c.logprob is not None]
        assert [t for t, _ in said[width]] == ids
        assert (chunks[-1].metrics.accepted_tokens > 0) == bool(width)
    assert said[3] == said[0]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=30),
    st.lists(st.integers(1, 6), min_size=2, max_size=20),
    st.integers(1, 6),
    st.integers(1, 40),
    st.one_of(st.none(), st.integers(1, 6)),
)
def test_any_script_any_width_the_same_tokens_and_cache(script, prompt, width, max_tokens, stop):
    """Whatever the answer repeats, however wide the guess, wherever it stops: the tokens are those
    written without guesses, and the cache holds the prompt and every token before the last."""

    def run(lookup):
        model = qwen_scripted(script)
        steps = generate_step(model, prompt, make_sampler(0.0), (), max_tokens, None, lookup)
        out = []
        for token, _ in steps:
            out.append(token)
            if token == stop:
                break
        steps.close()
        return out, model.tokens

    plain, plain_cache = run(None)
    guessed, cache = run(Lookup(width, make_judge(0.0)))
    assert guessed == plain and cache == plain_cache == [*prompt, *plain[:-1]]
