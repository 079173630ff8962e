"""AsyncAssistant on the fake backend: answers awaited, one at a time on the model thread, and
stopped where their caller stops."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from fakes import FakeBackend

from edgeqwen import Assistant, AsyncAssistant, InvalidRequestError, Message, PromptTooLongError, ResponseFormat
from edgeqwen.errors import StructuredOutputError


class Paced(FakeBackend):
    """A fake model that waits at ``gate`` before each token and records how many answers run
    at once (the model thread must never run two)."""

    def __init__(self, replies=("One two three four five six seven eight.",), **kwargs) -> None:
        super().__init__(replies, **kwargs)
        self.gate = threading.Event()
        self.gate.set()
        self.running = 0
        self.most_at_once = 0
        self.tokens_fed = 0
        self.caller_threads: set[str] = set()
        decode = self.model.decode

        def paced(token):
            assert self.gate.wait(10), "the test never opened the gate"
            self.tokens_fed += 1
            return decode(token)

        self.model.decode = paced

    def stream(self, request, cancel=None):
        self.caller_threads.add(threading.current_thread().name)
        chunks = super().stream(request, cancel)

        def counted():
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            try:
                yield from chunks
            finally:
                self.running -= 1

        return counted()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


async def until(condition) -> None:
    """Wait on the loop until ``condition()`` holds (the model thread moves on meanwhile)."""
    while not condition():
        await asyncio.sleep(0.005)


def test_chat_stream_and_history_match_the_sync_assistant():
    sync = Assistant(backend=FakeBackend(["Bonjour.", "Salut."]))
    expected = [sync.chat("Hi").text, sync.chat("Again").text]
    bot = AsyncAssistant(Assistant(backend=FakeBackend(["Bonjour.", "Salut."])))

    async def main():
        first = await bot.chat("Hi")
        stream = await bot.stream("Again")
        pieces = [text async for text in stream]
        second = await stream.reply()
        return first, pieces, second

    first, pieces, second = run(main())
    assert [first.text, second.text] == expected
    assert "".join(pieces) == second.text and len(pieces) > 1  # streamed, not one block
    assert [m.content for m in bot.history] == [m.content for m in sync.history]


def test_answers_run_one_at_a_time_on_the_model_thread_without_blocking_the_loop():
    backend = Paced(["First answer here.", "Second answer here.", "Third answer here."])
    backend.gate.clear()
    bot = AsyncAssistant(Assistant(backend=backend))
    convo = [[{"role": "user", "content": f"Question {i}"}] for i in range(3)]

    async def main():
        from edgeqwen import Message

        async def ask(messages):
            stream = await bot.answer([Message(**m) for m in messages])
            return (await stream.reply()).text

        tasks = [asyncio.create_task(ask(c)) for c in convo]
        ticks = 0
        await until(lambda: bot.busy)  # the loop runs while the model waits at the gate
        for _ in range(10):
            await asyncio.sleep(0.005)
            ticks += 1
        assert bot.waiting == 2 and bot.busy
        backend.gate.set()
        return ticks, await asyncio.gather(*tasks)

    ticks, texts = run(main())
    assert ticks == 10
    assert texts == ["First answer here.", "Second answer here.", "Third answer here."]  # in the order asked
    assert backend.most_at_once == 1
    assert backend.caller_threads == {"edgeqwen-model"}
    assert not bot.busy and bot.waiting == 0
    assert bot.history == ()  # answer() leaves the assistant's own history alone


def test_a_cancelled_task_stops_its_answer_and_a_waiting_one_never_reaches_the_model():
    backend = Paced()
    backend.gate.clear()
    bot = AsyncAssistant(Assistant(backend=backend, max_tokens=64))

    async def main():
        running = asyncio.create_task(bot.chat("Tell me a long story"))
        await until(lambda: bot.busy)
        waiting = asyncio.create_task(bot.chat("Never asked"))
        await until(lambda: bot.waiting == 1)
        resetting = asyncio.create_task(bot.reset())
        await until(lambda: bot.waiting == 2)
        waiting.cancel()
        resetting.cancel()
        running.cancel()
        for task in (running, waiting, resetting):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert bot.waiting == 0
        backend.gate.set()
        started = time.monotonic()
        after = await bot.chat("Next")  # starts once the cancelled answer has let go of the model
        return after, time.monotonic() - started

    after, took = run(main())
    assert after.text.startswith("One two")
    assert len(backend.requests) == 2  # "Never asked" never reached the model
    # the cancelled story stopped at once, not at max_tokens, and is kept as far as it went (as a
    # sync Ctrl-C keeps it)
    assert [m.content for m in bot.history if m.role == "user"] == ["Tell me a long story", "Next"]
    assert len(bot.history[1].content) <= 2
    assert took < 5


def test_stop_all_ends_every_answer_with_the_reason_and_refuses_later_ones():
    """A server told to shut down: the answer running and the one waiting raise the reason where
    they are awaited (never the cut answer as if whole), an answer already ended stands, and a
    request after it is refused with the same reason."""
    backend = Paced()
    bot = AsyncAssistant(Assistant(backend=backend, max_tokens=64))

    class Down(Exception):
        pass

    async def main():
        done = await bot.answer([Message("user", "Before")])
        ended = await done.reply()
        backend.gate.clear()
        running = await bot.answer([Message("user", "Tell me a long story")])
        await until(lambda: bot.busy)
        waiting = asyncio.create_task(bot.answer([Message("user", "Never asked")]))
        await until(lambda: bot.waiting == 1)
        bot.stop_all(Down("shutting down"))
        backend.gate.set()
        with pytest.raises(Down):
            await running.reply()
        with pytest.raises(Down):
            await waiting
        with pytest.raises(Down):
            await bot.answer([Message("user", "After")])
        return ended, await done.reply()

    ended, again = run(main())
    assert ended.text.startswith("One two") and again is ended
    assert len(backend.requests) == 2  # "Never asked" and "After" never reached the model
    assert not bot._streams


def test_leaving_the_loop_early_stops_the_answer():
    """The model waits at the gate after its first token, so what it did after the loop was left
    is counted, not raced: a break alone (the stream's generator closed by the loop), and aclose."""
    backend = Paced()
    bot = AsyncAssistant(Assistant(backend=backend, max_tokens=64))

    async def leave(close: bool):
        backend.gate.clear()
        stream = await bot.stream("Count")
        async for _ in stream:
            break
        if close:
            stream.cancel()  # what aclose() does first; it then waits for the model, held at the gate here
        await asyncio.sleep(0.05)  # the loop closes the generator left behind, which stops the answer
        fed = backend.tokens_fed
        backend.gate.set()
        if close:
            await stream.aclose()
        return await stream.reply(), backend.tokens_fed - fed

    for close in (False, True):
        reply, after = run(leave(close))
        assert reply.finish_reason == "cancelled" and after <= 1 and not bot.busy  # at most the step it was in


def test_prompt_errors_are_raised_where_the_answer_is_started():
    bot = AsyncAssistant(Assistant(backend=FakeBackend(["Hi"], context_length=1024)))

    async def main():
        with pytest.raises(PromptTooLongError):
            await bot.stream("word " * 1000)
        with pytest.raises(InvalidRequestError, match="temperature"):
            await bot.chat("Hi", temperature=-1)
        stream = await bot.stream("Hi")
        [text async for text in stream]
        with pytest.raises(InvalidRequestError, match="iterated once"):
            stream.__aiter__()
        return await bot.chat("Hi")

    assert run(main()).text == "Hi"  # a failed request leaves the model usable


def test_structured_answers_and_their_failures():
    bot = AsyncAssistant(Assistant(backend=FakeBackend(['{"city":"Paris"}', "maybe", "maybe", "yes"])))
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

    async def main():
        value = await bot.json("Where?", schema)
        with pytest.raises(StructuredOutputError):
            await bot.regex("Sure?", r"yes|no", max_tokens=1)  # cut before the pattern is matched
        stream = await bot.stream("Sure?", response_format=ResponseFormat.regex(r"yes|no"), max_tokens=1)
        with pytest.raises(StructuredOutputError):  # as the sync stream: raised where the loop ends
            [text async for text in stream]
        cut = await stream.reply(strict=False)
        assert cut.finish_reason == "length" and stream.error is not None
        return value, await bot.choice("Sure?", ["yes", "no"])

    assert run(main()) == ({"city": "Paris"}, "yes")


def test_one_assistant_serves_successive_event_loops_and_closes():
    bot = AsyncAssistant(Assistant(backend=FakeBackend(["Hi"])))
    assert run(bot.chat("a")).text == "Hi"
    assert run(bot.chat("b")).text == "Hi"  # a second asyncio.run: a new loop, the same model thread
    run(bot.reset("Be brief."))
    assert bot.history == () and bot.assistant.system == "Be brief."
    run(bot.reset(history=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "Hi"}]))
    assert [m.content for m in bot.history] == ["a", "Hi"] and bot.assistant.system == "Be brief."
    assert bot.waiting == 0 and not bot.busy
    run(bot.aclose())
    with pytest.raises(InvalidRequestError, match="closed"):
        run(bot.chat("c"))


def test_load_and_wrap():
    async def main():
        async with await AsyncAssistant.load(backend=FakeBackend(["Hi"]), system="Be brief.") as bot:
            return bot.assistant.system, (await bot.chat("x")).text

    assert run(main()) == ("Be brief.", "Hi")
    with pytest.raises(InvalidRequestError, match="AsyncAssistant.load"):
        AsyncAssistant("qwen2.5-1.5b-instruct")  # type: ignore[arg-type]


def test_cancelling_before_the_answer_starts_reports_it_cancelled():
    backend = Paced()
    backend.gate.clear()
    bot = AsyncAssistant(Assistant(backend=backend))

    async def main():
        first = asyncio.create_task(bot.chat("a"))
        await until(lambda: bot.busy)
        # a stream opened and cancelled while the first answer holds the model
        opening = asyncio.create_task(bot.stream("b"))
        await until(lambda: bot.waiting == 1)
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
        backend.gate.set()
        await first

    run(main())
    assert len(backend.requests) == 1 and bot.waiting == 0


def test_a_server_made_from_an_async_assistant_shares_its_line():
    from starlette.testclient import TestClient

    from edgeqwen.server import create_app

    backend = Paced(["From the program.", "From HTTP."])
    backend.gate.clear()
    bot = AsyncAssistant(Assistant(backend=backend, policy="none"))
    client = TestClient(create_app(bot))
    own: list[str] = []
    program = threading.Thread(target=lambda: own.append(run(bot.chat("mine")).text))
    program.start()
    deadline = time.monotonic() + 10
    while not bot.busy and time.monotonic() < deadline:
        time.sleep(0.005)
    answers: list[dict] = []
    body = {"model": "x", "messages": [{"role": "user", "content": "theirs"}]}
    http = threading.Thread(target=lambda: answers.append(client.post("/v1/chat/completions", json=body).json()))
    http.start()
    while client.get("/health").json()["queue_waiting"] != 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    health = client.get("/health").json()
    assert health["generating"] and health["queue_waiting"] == 1  # the program's answer, then the request
    backend.gate.set()
    program.join(10)
    http.join(10)
    assert own == ["From the program."]
    assert answers[0]["choices"][0]["message"]["content"] == "From HTTP."
    assert backend.most_at_once == 1 and [m.content for m in bot.history] == ["mine", "From the program."]


def test_prompt_tokens_counts_what_answer_reads_without_a_turn_on_the_model():
    fake = FakeBackend(["Paris."])
    bot = AsyncAssistant(Assistant(backend=fake, system="Be brief."))
    convo = [Message("system", "Answer in French."), Message("user", "Capital of France?")]

    async def main():
        counted = await bot.prompt_tokens(convo)
        assert not fake.requests  # counted without the model
        await (await bot.answer(convo)).reply()
        return counted

    assert run(main()) == len(fake.requests[-1].prompt_ids) == bot.assistant.prompt_tokens(convo)


def test_work_in_the_models_turn_waits_for_the_answers_asked_before_it():
    """The server's moderation runs a guard model this way: on the model thread, in line."""
    backend = Paced(["First answer here."])
    backend.gate.clear()
    bot = AsyncAssistant(Assistant(backend=backend))
    order = []

    def job(assistant):
        order.append(("job", threading.current_thread().name, assistant is bot.assistant, backend.running))
        return 42

    def failing(assistant):
        raise InvalidRequestError("no")

    async def main():
        answer = asyncio.create_task(bot.chat("Question"))
        await until(lambda: bot.busy)
        work = asyncio.create_task(bot.in_turn(job))
        await until(lambda: bot.waiting == 1)
        assert not order  # it waits for the answer
        backend.gate.set()
        order.append(("answer", (await answer).text))
        result = await work
        with pytest.raises(InvalidRequestError, match="no"):
            await bot.in_turn(failing)
        return result

    assert run(main()) == 42
    # on the model thread, given the assistant, after the answer had let go of the model
    assert ("job", "edgeqwen-model", True, 0) in order and not bot.busy and bot.waiting == 0
