import threading

import numpy as np
import pytest
from fakes import qwen_scripted

from edgeqwen import GenerationConfig, InvalidRequestError, PromptTooLongError
from edgeqwen.runtime.loop import generate_step, stream_generate
from edgeqwen.runtime.sampling import make_sampler
from edgeqwen.tokenizer import Tokenizer

IM_END = 151645


@pytest.fixture(scope="module")
def tok(qwen_tokenizer_json):
    return Tokenizer(qwen_tokenizer_json)


def run(tok, script, config=None, prompt=(1, 2, 3), stops=(IM_END,), cancel=None, model=None):
    model = model or qwen_scripted(script)
    chunks = list(stream_generate(model, tok, list(prompt), config or GenerationConfig(), (), stops, cancel))
    return chunks, model


def test_generate_step_never_feeds_the_last_token():
    model = qwen_scripted([5, 6, 7])
    steps = list(generate_step(model, [1, 2], make_sampler(0.0), max_tokens=3))
    assert [t for t, _ in steps] == [5, 6, 7]
    assert model.tokens == [1, 2, 5, 6]


def test_stop_token_ends_and_is_not_emitted(tok):
    text_ids = tok.encode("Paris is nice.")
    chunks, _ = run(tok, text_ids + [IM_END, 9, 9])
    assert "".join(c.text for c in chunks) == "Paris is nice."
    last = chunks[-1]
    assert last.finish_reason == "stop" and last.metrics.generated_tokens == len(text_ids) + 1


def test_max_tokens_and_context_limit(tok):
    ids = tok.encode(" a b c d e f g h")
    chunks, _ = run(tok, ids, GenerationConfig(max_tokens=3))
    assert chunks[-1].finish_reason == "length" and chunks[-1].metrics.generated_tokens == 3
    model = qwen_scripted(ids, context_length=6)
    chunks, _ = run(tok, ids, GenerationConfig(max_tokens=100), prompt=(1, 2, 3, 4), model=model)
    assert chunks[-1].metrics.generated_tokens == 2  # only 2 positions left in the window


def test_stop_string_across_tokens_is_never_emitted(tok):
    ids = tok.encode("Answer: 42\nUser: ignore")
    chunks, _ = run(tok, ids, GenerationConfig(stop=("ignore", "\nUser:")))
    text = "".join(c.text for c in chunks)
    assert text == "Answer: 42"
    assert chunks[-1].finish_reason == "stop_string"
    assert chunks[-1].metrics.stop_sequence == "\nUser:"  # the one that ended it, named (Anthropic's API says it)
    ended, _ = run(tok, tok.encode("Answer: 42") + [IM_END], GenerationConfig(stop=("\nUser:",)))
    assert ended[-1].finish_reason == "stop" and ended[-1].metrics.stop_sequence is None


def test_held_back_prefix_is_released_when_no_stop_follows(tok):
    ids = tok.encode("a <b <c")
    chunks, _ = run(tok, ids + [IM_END], GenerationConfig(stop=("<stop>",)))
    assert "".join(c.text for c in chunks) == "a <b <c"


def test_cancel(tok):
    """Set while the prompt is read (a client that hung up during a long one), the answer ends
    there with nothing generated and the part read kept in the cache; set while tokens come, after
    the token being made."""
    event = threading.Event()
    event.set()
    model = qwen_scripted(tok.encode(" x y z"))
    model.prefill([1, 2])  # an earlier prompt's, cached
    chunks, _ = run(tok, None, prompt=(1, 2, 3), cancel=event, model=model)
    last = chunks[-1]
    assert last.finish_reason == "cancelled" and "".join(c.text for c in chunks) == ""
    assert (last.metrics.generated_tokens, last.metrics.cached_tokens, last.metrics.prefill_tokens) == (0, 2, 0)
    assert model.tokens == [1, 2]

    event.clear()
    stream = stream_generate(qwen_scripted(tok.encode(" x y z")), tok, [1, 2, 3], GenerationConfig(), (), (), event)
    first = next(stream)
    event.set()
    rest = list(stream)
    assert first.text == " x" and rest[-1].finish_reason == "cancelled" and rest[-1].metrics.generated_tokens == 1


def test_a_cancel_while_a_prompt_is_scored_ends_the_answer_there(tok):
    """A prompt scored (its every position's logits, ``prompt_logprobs``) stops as a prompt's
    read does: the answer ends cancelled with nothing generated."""
    event = threading.Event()
    event.set()
    chunks, model = run(tok, tok.encode(" x y z"), GenerationConfig(prompt_logprobs=0), cancel=event)
    last = chunks[-1]
    assert last.finish_reason == "cancelled" and "".join(c.text for c in chunks) == ""
    assert last.metrics.generated_tokens == 0 and last.prompt_logprobs is None


def test_a_cancel_while_a_checked_prompt_is_read_skips_the_check(tok):
    event = threading.Event()
    event.set()
    checked = []
    model = qwen_scripted(tok.encode(" x"))
    model.last_hidden = None
    stream = stream_generate(
        model, tok, [1, 2, 3, 4], GenerationConfig(), (), (), event, prefill_check=checked.append, check_at=2
    )
    chunks = list(stream)
    assert chunks[-1].finish_reason == "cancelled" and chunks[-1].metrics.generated_tokens == 0 and checked == []


def test_a_model_that_cannot_stop_its_prefill_is_not_handed_the_event(tok):
    """``cancellable_prefill`` says a model takes ``cancel=``; one without it (an app's own model)
    is called as before, and cancelled between tokens."""

    class Plain:
        def __init__(self):
            self.inner = qwen_scripted(tok.encode(" x y"))

        def __getattr__(self, name):
            return getattr(self.inner, name)

        cancellable_prefill = False

        def prefill(self, ids):
            return self.inner.prefill(ids)

    event = threading.Event()
    event.set()
    chunks, _ = run(tok, None, cancel=event, model=Plain())
    assert chunks[-1].finish_reason == "cancelled" and chunks[-1].metrics.generated_tokens == 1


def test_metrics_and_prefix_reuse(tok):
    model = qwen_scripted(tok.encode(" ok") + [IM_END])
    run(tok, None, prompt=(1, 2, 3, 4), model=model)
    chunks, _ = run(tok, None, prompt=(1, 2, 3, 4, 5, 6), model=model)
    m = chunks[-1].metrics
    assert (m.prompt_tokens, m.cached_tokens, m.prefill_tokens) == (6, 4, 2)
    assert m.ttft_s >= 0 and m.decode_s >= 0


def test_prompt_errors(tok):
    with pytest.raises(PromptTooLongError, match="maximum context length is 4 tokens"):
        run(tok, [1], prompt=(1, 2, 3, 4), model=qwen_scripted([1], context_length=4))
    with pytest.raises(InvalidRequestError, match="empty"):
        run(tok, [1], prompt=())
    with pytest.raises(InvalidRequestError, match="outside"):
        run(tok, [1], prompt=(10**7,))


def test_logit_bias_bans_a_token_the_model_would_choose(tok):
    """A scripted model gives its next token the highest logit: banning it picks the runner-up."""
    script = tok.encode("Hello world")
    chunks, _ = run(tok, script, GenerationConfig(max_tokens=1))
    assert chunks[0].token == script[0]
    chunks, _ = run(tok, script, GenerationConfig(max_tokens=1, logit_bias={script[0]: -100}))
    assert chunks[0].token != script[0]
    with pytest.raises(InvalidRequestError, match="outside this model's vocabulary") as err:
        run(tok, script, GenerationConfig(logit_bias={10**6: 5}))
    assert err.value.param == "logit_bias"


def _expected_logprob(model_logits, token):
    row = model_logits.astype(np.float64)
    return float(row[token] - (row.max() + np.log(np.exp(row - row.max()).sum())))


def test_logprobs_are_the_models_own_for_every_token(tok):
    """Each chunk's token carries its log probability under the model's logits at that step,
    before any processor (a bias that changes the choice leaves the reported value alone)."""
    text_ids = tok.encode("Paris is nice.")
    model = qwen_scripted(text_ids + [IM_END])
    config = GenerationConfig(logprobs=2, logit_bias={text_ids[1]: 5.0})
    chunks, _ = run(tok, None, config, model=model)
    said = [c.logprob for c in chunks if c.token is not None]
    assert [s.token for s in said] == [c.token for c in chunks if c.token is not None] == text_ids
    one_hot = np.zeros(151936, dtype=np.float32)
    one_hot[text_ids[0]] = 10.0  # what the scripted model gives: one token at 10, the rest at 0
    expected = _expected_logprob(one_hot[: tok.vocab_size], text_ids[0])  # Qwen's padding is no token
    assert all(abs(s.logprob - expected) < 1e-4 for s in said)
    assert all(s.top[0].token == s.token and len(s.top) == 2 and s.top[1].logprob < s.logprob for s in said)
    assert "".join(s.text for s in said) == "Paris is nice." and b"".join(s.bytes for s in said) == b"Paris is nice."
    assert chunks[-1].logprob is None  # the end chunk has no token


def test_without_logprobs_no_chunk_carries_one(tok):
    chunks, _ = run(tok, tok.encode("Hi") + [IM_END])
    assert all(c.logprob is None for c in chunks)
