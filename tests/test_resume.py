"""Going on with the last answer where it was cut (``Assistant.resume``, ``/continue`` in ``edgeqwen
chat``): the model continues its own text, the history's last answer grows by what it adds, and
nothing is lost when the resumed answer fails."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from edgeqwen import Assistant, AsyncAssistant, InvalidRequestError, Message, ToolCall
from edgeqwen.chat import template_for
from edgeqwen.cli import main
from edgeqwen.testing import FakeBackend

STORY = "Once upon a time there was a lighthouse keeper."


def test_the_last_answer_goes_on_and_grows_in_the_history():
    fake = FakeBackend([STORY])
    bot = Assistant(backend=fake, policy="none", max_tokens=12)
    first = bot.chat("Tell me a story.")
    assert first.finish_reason == "length" and first.text == STORY[:12]
    prompt = list(fake.requests[-1].prompt_ids)
    fake.script = [*fake.tokenizer.encode(STORY[12:]), *fake.info.eos_token_ids]
    rest = bot.resume(max_tokens=100).reply()
    assert rest.text == STORY[12:] and rest.finish_reason == "stop"
    resumed = list(fake.requests[-1].prompt_ids)
    assert fake.tokenizer.decode(resumed).endswith("assistant\n" + STORY[:12])  # open: it goes on from there
    assert resumed[: len(prompt)] == prompt  # the same start: the cache holds it
    assert [(m.role, m.content) for m in bot.history] == [("user", "Tell me a story."), ("assistant", STORY)]
    fake.script = [*fake.tokenizer.encode("The end."), *fake.info.eos_token_ids]
    bot.chat("And then?")  # the grown answer is history like any other
    assert "assistant\n" + STORY + "\nuser\nAnd then?" in fake.tokenizer.decode(list(fake.requests[-1].prompt_ids))


def test_the_models_own_words_are_not_screened_as_the_callers():
    """A resumed answer is the model's own text: the input checks read the request when it was
    asked, not the answer (an answer that names a weapon it declines to explain is no request). The
    same text sent as a continued message is the caller's words, and is read."""
    said = "Building a pipe bomb is something I will not explain, but here is a story instead."
    fake = FakeBackend([said])
    bot = Assistant(backend=fake, policy="default", max_tokens=30)
    assert bot.chat("Tell me a story.").finish_reason == "length"
    assert bot.resume().reply().finish_reason != "refused"
    caller = bot.answer([Message("user", "Tell me a story."), Message("assistant", said[:30])]).reply()
    assert caller.finish_reason == "refused"


def test_nothing_to_resume_is_said_and_a_failed_resume_loses_nothing():
    fake = FakeBackend([STORY])
    bot = Assistant(backend=fake, policy="none", max_tokens=12)
    with pytest.raises(InvalidRequestError, match="Nothing to resume: there is no answer yet"):
        bot.resume()
    bot.chat("Tell me a story.")
    before = bot.history

    def broken(request, cancel=None):
        raise RuntimeError("the model fell over")
        yield  # pragma: no cover

    real = fake.stream
    fake.stream = broken
    with pytest.raises(RuntimeError):
        bot.resume().reply()
    assert bot.history == before  # the cut answer is still there, to resume again
    fake.stream = real
    with pytest.raises(InvalidRequestError, match="temperature"):
        bot.resume(temperature=-1)
    assert bot.history == before
    bot.reset()
    bot._history = [Message("user", "Weather?"), Message("assistant", "", tool_calls=(ToolCall("f", {}),))]
    with pytest.raises(InvalidRequestError, match="it ended in tool calls"):
        bot.resume()


def test_a_cut_thinking_goes_on_thinking(qwen3_tokenizer_json):
    fake = FakeBackend(["<think>\nThe user wants a number.\n</think>\n\nSeven."], tokenizer_json=qwen3_tokenizer_json)
    fake.template = template_for("qwen3", fake.tokenizer)
    bot = Assistant(backend=fake, policy="none", enable_thinking=True, max_tokens=8)
    cut = bot.chat("Pick a number.")
    assert cut.finish_reason == "length" and cut.text == "" and cut.thinking
    fake.script = [*fake.tokenizer.encode(" a number.\n</think>\n\nSeven."), *fake.info.eos_token_ids]
    more = bot.resume(max_tokens=50).reply()
    assert more.text == "Seven." and (cut.thinking + more.thinking).endswith("a number.")
    last = bot.history[-1]
    assert last.content == "Seven." and last.thinking == cut.thinking + more.thinking
    with pytest.raises(InvalidRequestError, match="resume it with thinking on"):
        bot.resume(enable_thinking=False)


def test_async_resume():
    fake = FakeBackend([STORY])

    async def run() -> str:
        bot = AsyncAssistant(Assistant(backend=fake, policy="none", max_tokens=12))
        await bot.chat("Tell me a story.")
        fake.script = [*fake.tokenizer.encode(STORY[12:]), *fake.info.eos_token_ids]
        stream = await bot.resume(max_tokens=100)
        return (await stream.reply()).text

    assert asyncio.run(run()) == STORY[12:]


def test_chat_says_where_an_answer_was_cut_and_continue_goes_on(monkeypatch):
    fake = FakeBackend([STORY, STORY[12:]])
    real = Assistant.__init__

    def init(self, model=None, system=None, **kwargs):
        for key in ("backend", "context_length", "threads", "device", "announce"):
            kwargs.pop(key, None)
        real(self, None, system, backend=fake, **kwargs)

    monkeypatch.setattr(Assistant, "__init__", init)
    result = CliRunner().invoke(main, ["chat", "-n", "12"], input="Tell me a story.\n/continue\n/exit\n")
    assert result.exit_code == 0, result.output
    assert "(cut at 12 tokens: /continue goes on)" in result.stderr
    assert STORY[:12] in result.stdout and STORY[12:24] in result.stdout
    nothing = CliRunner().invoke(main, ["chat"], input="/continue\n/exit\n")
    assert "Nothing to resume" in nothing.stderr and nothing.exit_code == 0


def test_the_resumed_prompt_holds_the_answers_own_tokens(qwen_tokenizer_json):
    """An answer is cut anywhere, inside a word too, where its text written out again would be
    tokenized otherwise; the model goes on from the tokens it wrote, which the cache holds."""
    fake = FakeBackend(tokenizer_json=qwen_tokenizer_json)
    tok = fake.tokenizer
    written = [*tok.encode("The light"), *tok.encode("house keeper")]  # "lighthouse" as two pieces
    assert tok.encode(tok.decode(written)) != written  # its text alone would be read as other tokens
    fake.script = [*written, *fake.info.eos_token_ids]
    bot = Assistant(backend=fake, policy="none", max_tokens=len(written) - 1)
    first = bot.chat("Who keeps the light?")
    prompt = list(fake.requests[-1].prompt_ids)
    fake.script = [written[-1], *fake.info.eos_token_ids]
    rest = bot.resume(max_tokens=10).reply()
    resumed = list(fake.requests[-1].prompt_ids)
    assert resumed == prompt + written[:-1]  # the prompt, then every token the answer has so far
    assert rest.metrics.cached_tokens == len(resumed) - 1  # all but the one never fed
    assert bot.history[-1].content == first.text + rest.text == tok.decode(written)
    assert list(bot.history[-1].token_ids) == written  # kept whole for the next turn
