"""Assistant on the tiny random-weight models: streaming, multi-turn prefix reuse, trimming."""

from __future__ import annotations

import pytest

from edgeqwen import Assistant, InvalidRequestError, Message, PromptTooLongError
from edgeqwen.backends.onnx import OnnxBackend
from edgeqwen.chat import template_for
from edgeqwen.testing import FakeBackend

PROMPTS = {
    "chinese": "请用中文介绍一下长城的历史。",
    "japanese": "日本の四季について教えてください。",
    "arabic": "ما هي عاصمة المغرب؟ أجب بالتفصيل.",
    "emoji": "Reply with emoji only 🎉🔥👩‍💻🇯🇵",
}


@pytest.mark.parametrize("lang", sorted(PROMPTS))
def test_stream_is_valid_utf8_and_equals_reply(qwen2, lang):
    for seed in range(3):
        bot = Assistant(backend=qwen2, temperature=1.0, seed=seed, max_tokens=40)
        stream = bot.stream(PROMPTS[lang])
        chunks = list(stream)
        reply = stream.reply()
        for chunk in chunks:
            chunk.encode("utf-8")  # never a lone surrogate or a split character
        assert "".join(chunks) == reply.text
        # the non-streamed text is the plain decode of the generated tokens (the end token is not one)
        assert reply.text == qwen2.tokenizer.decode(list(reply.token_ids))


def test_chat_and_stream_agree(qwen2):
    a = Assistant(backend=qwen2, max_tokens=30, temperature=0.0).chat("Hello")
    b = "".join(Assistant(backend=qwen2, max_tokens=30, temperature=0.0).stream("Hello"))
    assert a.text == b and a.metrics.generated_tokens == 30 and a.finish_reason == "length"


def test_second_turn_prefills_only_new_tokens(qwen2):
    bot = Assistant(backend=qwen2, system="Be brief.", max_tokens=12)
    first = bot.chat("What is 2+2?")
    second = bot.chat("And 3+3?")
    m1, m2 = first.metrics, second.metrics
    assert m1.cached_tokens == 0 or m1.cached_tokens < m1.prompt_tokens
    # turn one's prompt and answer come from the cache; only the last sampled token was never fed
    assert m2.cached_tokens == m1.prompt_tokens + m1.generated_tokens - 1
    assert m2.prefill_tokens == m2.prompt_tokens - m2.cached_tokens
    assert m2.prefill_tokens < m2.prompt_tokens / 2  # the new user turn (+ the last answer token)
    assert [m.role for m in bot.history] == ["user", "assistant", "user", "assistant"]


def test_history_is_trimmed_oldest_first(tiny_models):
    backend = OnnxBackend(tiny_models["qwen2"]["int4"], context_length=160)
    bot = Assistant(backend=backend, system="SYSTEM", max_tokens=20)
    trimmed = []
    for i in range(8):
        reply = bot.chat(f"turn {i}: tell me something interesting about the number {i}")
        trimmed.append(reply.trimmed_turns)
        assert reply.metrics.prompt_tokens + 20 <= 160 or reply.metrics.prompt_tokens < 160
    assert sum(trimmed) > 0
    assert bot.history[0].role == "user" and "turn 0" not in bot.history[0].content
    assert "turn 7" in bot.history[-2].content
    bot.reset()
    assert bot.history == ()


def test_prompt_longer_than_context(tiny_models):
    backend = OnnxBackend(tiny_models["qwen2"]["int4"], context_length=64)
    bot = Assistant(backend=backend)
    with pytest.raises(PromptTooLongError, match="maximum context length is 64 tokens") as err:
        bot.chat("word " * 200)
    assert "larger context_length" in str(err.value) and "reset" not in str(err.value)  # history is empty
    assert bot.history == ()  # nothing half-recorded


def test_asking_again_while_an_answer_streams_in_the_same_thread_is_an_error_not_a_hang(qwen2):
    import signal

    def hung(*_):
        raise AssertionError("chat() waited forever for the unfinished stream of its own thread")

    bot = Assistant(backend=qwen2, max_tokens=8, temperature=0, policy="none")
    it = iter(bot.stream("Count to ten"))
    next(it)
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with pytest.raises(InvalidRequestError, match="still streaming an earlier answer"):
            bot.chat("Hello")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert bot.history == ()  # an error is not an answer: nothing of the failed turn recorded
    "".join(it)  # the first answer goes on, and is remembered
    assert [m.role for m in bot.history] == ["user", "assistant"]
    assert bot.chat("Hello").finish_reason in ("stop", "length")


def test_thinking_needs_qwen3(qwen2, tiny_models):
    with pytest.raises(InvalidRequestError, match="Qwen3"):
        Assistant(backend=qwen2, enable_thinking=True)
    with pytest.raises(InvalidRequestError, match="Qwen3") as info:  # per answer too (it was ignored)
        Assistant(backend=qwen2).chat("Hi", enable_thinking=True)
    assert info.value.param == "enable_thinking"
    assert Assistant(backend=qwen2, max_tokens=2).chat("Hi", enable_thinking=False).finish_reason == "length"
    bot = Assistant(backend=OnnxBackend(tiny_models["qwen3"]["int4"], context_length=256), max_tokens=8)
    reply = bot.chat("Hi")
    assert "<think>" not in reply.text
    assert bot.history[-1].token_ids[:1] == (151667,)  # the empty think block is kept for prefix reuse


def test_break_out_of_stream_keeps_session(qwen2):
    bot = Assistant(backend=qwen2, max_tokens=50)
    stream = bot.stream("Count to fifty")
    for i, _ in enumerate(stream):
        if i == 3:
            break
    reply = stream.reply()
    assert reply.finish_reason == "cancelled"
    assert len(bot.history) == 2
    assert bot.chat("again").finish_reason == "length"  # the model is free again


@pytest.mark.parametrize("length", [20, 65, 70])
def test_a_prompt_gets_the_same_logits_fresh_or_from_the_cache(qwen2, length):
    """onnxruntime's int4 MatMul has another kernel for one row than for several: a prefill that
    ran the last prompt token alone gave logits ~1 off, and another greedy answer to the same
    prompt once it was cached. No prefill step runs one token now (docs/performance.md)."""
    import numpy as np

    model = qwen2.model
    ids = [1000 + (i * 37) % 5000 for i in range(length)]
    model.reset()
    fresh = model.prefill(ids)
    again = model.prefill(ids)
    assert model.last_reused == length - 2 and np.array_equal(fresh, again)
    # A prompt extending a cached one is computed in steps of other shapes: rounding-level
    # differences only (a single-token step was ~1 off).
    model.reset()
    model.prefill(ids[: length // 2])
    extended = model.prefill(ids)
    assert model.last_reused == length // 2 and np.abs(fresh - extended).max() < 0.25


@pytest.mark.parametrize("shared", [True, False])
def test_kept_prefixes_are_restored_after_other_prompts(tiny_models, shared):
    """Two prompts with different openings alternating (a guard's prompt and answer checks): with
    their openings kept, each prefills only its own part, and the logits are those of a fresh
    prefill bit for bit (the same multi-row kernels computed the kept positions). Both ways of
    holding the cache: one buffer bound as past and present, and present fed back as past."""
    import dataclasses

    import numpy as np

    from edgeqwen.backends.onnx import OnnxModel
    from edgeqwen.model import read_model_info

    info = dataclasses.replace(read_model_info(tiny_models["qwen2"]["int4"]), share_buffer=shared)
    model = OnnxModel(info, context_length=512)
    a_open = [1000 + (i * 37) % 5000 for i in range(70)]
    b_open = [2000 + (i * 53) % 5000 for i in range(90)]
    a = a_open + [7, 8, 9, 10, 11]
    b = b_open + [12, 13, 14]
    fresh_a, fresh_b = model.prefill(a), (model.reset(), model.prefill(b))[1]

    model.reset()
    model.keep_prefix(a_open)
    model.keep_prefix(b_open)
    model.prefill(a)
    assert model.last_reused == 0
    model.prefill(b)
    assert model.last_reused == 0  # b's opening was computed here first
    assert model.kept_bytes == sum(model._kv[k][:, :, :1].nbytes for k in model._kv) * (70 + 90)
    for _ in range(2):
        again_a = model.prefill(a)
        assert model.last_reused == 70 and np.array_equal(again_a, fresh_a)
        model.decode(5)  # an answer between checks
        again_b = model.prefill(b)
        assert model.last_reused == 90 and np.array_equal(again_b, fresh_b)
    # at least two prompt tokens run, as for the live cache; a prompt that is the opening alone
    # is not served from it
    model.prefill(a)
    model.prefill(b_open + [12])
    assert model.last_reused == 0
    model.reset()
    assert model.kept_bytes == 0 and model.prefill(a) is not None and model.last_reused == 0


def test_kept_prefixes_stay_within_their_share_of_the_context(qwen2):
    model = qwen2.model  # a 512-token context: kept prefixes hold at most 256 tokens together
    model.reset()
    openings = [[100 + k, *range(1000 + 200 * k, 1000 + 200 * k + 99)] for k in range(4)]
    for opening in openings:
        model.keep_prefix(opening)
    assert [len(k) for k in model._kept] == [100, 100]  # the two most recent
    model.keep_prefix(list(range(300)))  # more than the share alone: never kept
    assert list(model._kept) == [tuple(o) for o in openings[2:]]
    model.reset()


@pytest.mark.parametrize("backend", ["onnx", "llamacpp"])
def test_no_prefix_is_kept_where_the_copy_would_leave_too_little_memory(tiny_models, tiny_ggufs, monkeypatch, backend):
    """Copies sit beside the cache, outside the memory plan; every chat's system turn is one now.
    On a machine with less than KEPT_RESERVE free after the copy, none is made: the prompt
    prefills again, as it did before any was kept."""
    from edgeqwen.backends import prefixes
    from edgeqwen.backends.llamacpp import LlamaCppBackend
    from edgeqwen.probe import limits

    if backend == "onnx":
        model = OnnxBackend(tiny_models["qwen2"]["int4"], context_length=512).model
    else:
        model = LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=512).model
    opening = [1000 + (i * 37) % 5000 for i in range(70)]
    free = {"bytes": prefixes.KEPT_RESERVE - 1}
    monkeypatch.setattr(limits, "available_memory", lambda: free["bytes"])
    for room in (False, True):
        free["bytes"] = prefixes.KEPT_RESERVE * (4 if room else 1) - 1
        model.reset()
        model.keep_prefix(opening)
        model.prefill([*opening, 7, 8, 9])
        model.prefill([42, 43, 44, 45])  # another prompt takes the live cache
        model.prefill([*opening, 10, 11])
        assert (model.kept_bytes > 0) == room and model.last_reused == (70 if room else 0)


def test_the_next_turn_holds_the_whole_answer_before_it():
    """The history kept an answer that ended on its end token without its last word: the next
    turn's prompt read "Hello there" for "Hello there." (on every backend: the demo model on
    llama.cpp kept "The capital of France is Paris" of "... Paris."). The end token was never
    among the reply's token ids; the last real token was dropped in its place."""
    from edgeqwen.testing import FakeBackend

    fake = FakeBackend(["Hello there.", "Fine."])
    bot = Assistant(backend=fake, policy="none")
    first = bot.chat("Hi")
    assert first.finish_reason == "stop" and fake.tokenizer.decode(list(bot.history[-1].token_ids)) == "Hello there."
    bot.chat("How are you?")
    prompt = list(fake.requests[-1].prompt_ids)
    end = fake.tokenizer.token_id("<|im_end|>")
    answer = fake.tokenizer.encode("Hello there.")
    at = next(i for i in range(len(prompt)) if prompt[i : i + len(answer)] == answer)
    assert prompt[at + len(answer)] == end  # the whole answer, then the end the template writes


def test_a_tool_call_in_the_history_keeps_its_closing_tag():
    """The same cut took a call's last token, its </tool_call>: the next turn showed the model its
    own call left open, before the tool's result."""
    from edgeqwen.testing import FakeBackend

    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    fake = FakeBackend([call, "It is sunny."])
    weather = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    bot = Assistant(backend=fake, policy="none", tools=[weather])
    assert bot.chat("Weather in Paris?").tool_calls
    bot.chat([Message("tool", '{"sky": "sunny"}')])
    text = fake.tokenizer.decode(list(fake.requests[-1].prompt_ids))
    assert call + "\nuser\n<tool_response>" in text


def test_system_messages_after_the_first_are_read_not_refused():
    """Codex sends two developer messages at the start, and apps add one mid-conversation (a
    summary, a change of instructions): "Only the first message may be a system message" was a
    400 for each. Those at the start are one system prompt, which the policy's rules cover; a later
    one is a system turn where it is, as Qwen's own templates write it."""
    fake = FakeBackend(["Arr."])
    bot = Assistant(backend=fake, policy="default")
    reply = bot.answer(
        [
            Message("system", "You are a pirate."),
            Message("system", "Answer in one word."),
            Message("user", "Hi"),
            Message("assistant", "Arr."),
            Message("system", "Now answer in French."),
            Message("user", "Again"),
        ]
    ).reply()
    tok = fake.tokenizer
    turns = [tok.decode(t).split("\n", 1) for t in _turns(tok, fake.requests[-1].prompt_ids)]
    assert reply.text == "Arr." and [role for role, _ in turns] == ["system", "user", "assistant", "system", "user"]
    assert turns[0][1].startswith(
        "You are a pirate.\n\nAnswer in one word.\n\nSafety rules"
    )  # one prompt, the rules on it
    assert turns[3][1] == "Now answer in French."
    bot.answer([Message("user", "Hi"), Message("system", "Answer in French.")]).reply()  # last: answered after it
    assert [tok.decode(t) for t in _turns(tok, fake.requests[-1].prompt_ids)][-1] == "system\nAnswer in French."


def _turns(tok, ids) -> list[list[int]]:
    """A prompt's finished turns: the ids between each <|im_start|> and its <|im_end|>."""
    start, end = tok.token_id("<|im_start|>"), tok.token_id("<|im_end|>")
    out, current = [], None
    for t in ids:
        if t == start:
            current = []
        elif t == end and current is not None:
            out.append(current)
            current = None
        elif current is not None:
            current.append(t)
    return out


def test_the_system_turn_is_kept_for_the_next_prompt_whatever_runs_between():
    """Open WebUI sends a title, tags and follow-up request after each answer, each with another
    prompt: the live cache then held theirs, and the next message prefilled the system prompt and
    the tools again (its 29 built-in tools are 5,355 Qwen tokens). The system turn is named to be
    kept (``Request.keep_prefix``); where the self-check asks the model, the whole prompt is."""
    weather = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    fake = FakeBackend(["Paris.", "Madrid."])
    start = fake.tokenizer.token_id("<|im_start|>")
    for bot, expected in (
        (Assistant(backend=fake, policy="none", system="You answer in one word."), "You answer in one word."),
        (Assistant(backend=fake, policy="none", tools=[weather]), "get_weather"),
    ):
        bot.answer([{"role": "user", "content": "Capital of France?"}]).reply()
        request = fake.requests[-1]
        ids = list(request.prompt_ids)
        head = request.keep_prefix
        assert 0 < head < len(ids) and ids[head] == start and start not in ids[1:head]
        assert expected in fake.tokenizer.decode(ids[:head]) and "France" not in fake.tokenizer.decode(ids[:head])
    # no system turn: nothing is kept (the first turn is the user's); a raw prompt has no turns
    bare = FakeBackend(["Paris."])
    bare.template = template_for("qwen3", bare.tokenizer)  # Qwen3's template writes no system turn of its own
    Assistant(backend=bare, policy="none").answer([{"role": "user", "content": "Capital of France?"}]).reply()
    assert bare.template.default_system is None and bare.requests[-1].keep_prefix == 0
    Assistant(backend=fake, policy="none", system="One word.").complete("The capital of France is").reply()
    assert fake.requests[-1].keep_prefix == 0


def test_the_system_turn_comes_back_after_other_prompts_on_a_real_model(tiny_ggufs):
    """The tiny Qwen2 on llama.cpp: after a prompt with another system turn, a prompt with the
    first one's reads its system turn from the kept copy instead of computing it again, and its
    answer is the one it gets in a fresh process (the system turn computed on its own there too)."""
    from edgeqwen.backends.llamacpp import LlamaCppBackend

    system = "You are the help desk of a small library. " * 12
    ask = [{"role": "user", "content": "When do you open on Sundays?"}]

    def answer(bot, messages, system):
        return bot.answer([{"role": "system", "content": system}, *messages], max_tokens=8, temperature=0).reply()

    def load():
        return LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=1024)

    fresh = answer(Assistant(backend=load(), policy="none"), ask, system)
    backend = load()
    bot = Assistant(backend=backend, policy="none")
    first = answer(bot, [{"role": "user", "content": "Do you lend e-books?"}], system)
    answer(bot, [{"role": "user", "content": "Write a title for this chat."}], "Reply in five words.")
    again = answer(bot, ask, system)
    template = backend.template
    opening = template.render([Message("system", system)], add_generation_prompt=False)
    head = len(template.encode(backend.tokenizer, opening))
    assert first.text is not None and backend.model.last_reused >= head > 100  # not the other prompt's start
    assert again.token_ids == fresh.token_ids
