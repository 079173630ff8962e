"""The answer's stages, each alone: parse and filter while streaming, build, check the format."""

from __future__ import annotations

import pytest

from edgeqwen import ResponseFormat, StructuredOutputError
from edgeqwen.chat import ParsedOutput
from edgeqwen.reply import ReplyStream, build_reply, check_format
from edgeqwen.safety import SafetyEvent
from edgeqwen.types import Chunk, Metrics


def test_token_ids_survive_a_final_chunk_without_a_token():
    """The loop's last chunk flushes held text (e.g. an incomplete UTF-8 tail) with token=None;
    the reply must still keep the generated ids (regression: they were dropped as if the backend
    streamed text only)."""
    chunks = [Chunk("a", 7), Chunk("b", 8), Chunk("\ufffd", None, "length", Metrics(finish_reason="length"))]
    stream = ReplyStream(iter(chunks), lambda reply: None, prefix_ids=(1, 2))
    assert "".join(stream) == "ab\ufffd"
    assert stream.reply().token_ids == (1, 2, 7, 8)
    text_only = ReplyStream(iter([Chunk("hi", None, "stop", Metrics())]), lambda r: None)
    assert text_only.reply().token_ids == ()


def test_parse_stage_hides_thinking_and_tool_markup():
    text = '<think>\nhmm\n</think>\n\nSure.<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>'
    chunks = [Chunk(c) for c in text] + [Chunk("", None, "stop", Metrics())]
    done = []
    stream = ReplyStream(iter(chunks), done.append, thinking=True)
    assert "".join(stream) == "Sure."
    reply = stream.reply()
    assert reply.thinking == "hmm" and [c.name for c in reply.tool_calls] == ["f"] and done == [reply]


@pytest.mark.parametrize("size", [1, 3, 7, 100])
def test_thinking_streams_as_pieces_filtered_and_adds_up_to_the_replys(size):
    from edgeqwen.safety import Guard

    text = "<think>\n\nWrite to bob@example.com,\nthen wait.\n\n</think>\n\nDone: see alice@example.org."
    chunks = [Chunk(text[i : i + size]) for i in range(0, len(text), size)] + [Chunk("", None, "stop", Metrics())]
    stream = ReplyStream(iter(chunks), lambda r: None, thinking=True, output_filter=Guard("pii").output_filter(None))
    pieces = list(stream.pieces())
    kinds = [kind for kind, _ in pieces]
    assert kinds == sorted(kinds, key=["thinking", "text"].index)  # all the thinking comes first
    thought = "".join(t for kind, t in pieces if kind == "thinking")
    reply = stream.reply()
    assert thought == reply.thinking and "bob@example.com" not in thought and thought.startswith("Write to ")
    redacted = [e.evidence for e in reply.safety_events if e.action == "redact"]
    assert sorted(redacted) == ["alice@example.org", "bob@example.com"]  # the thinking's event, and the answer's
    assert "".join(t for kind, t in pieces if kind == "text") == reply.text and "thinking" in kinds
    plain = ReplyStream(
        iter([Chunk("<think>\nhm\n</think>\n\nok"), Chunk("", None, "stop", Metrics())]), lambda r: None
    )
    assert [kind for kind, _ in plain.pieces()] == ["text"]  # thinking off: the markup is the answer's text


def test_filter_stage_stops_the_answer_as_it_streams():
    from edgeqwen.safety import Guard

    output_filter = Guard("pii").output_filter(None)
    chunks = [Chunk(c) for c in "Mail bob@example.com now"] + [Chunk("", None, "stop", Metrics())]
    stream = ReplyStream(iter(chunks), lambda r: None, output_filter=output_filter)
    shown = "".join(stream)
    assert "bob@example.com" not in shown and stream.reply().filtered


def test_an_answer_stopped_before_its_last_chunk_still_counts_its_tokens():
    """A filter's stop and a caller leaving end the answer before the loop's last chunk, which
    carries the metrics: the reply said 0 prompt and 0 generated tokens (usage 0 over HTTP)."""
    from edgeqwen.safety import Guard, Policy

    def chunks():
        yield from (Chunk(c, i) for i, c in enumerate("Mail bob@example.com now"))
        yield Chunk("", None, "stop", Metrics(prompt_tokens=9, generated_tokens=24))

    stops = Guard(Policy(name="stop", pii=("email",), pii_action="stop")).output_filter(None)
    stopped = ReplyStream(chunks(), lambda r: None, output_filter=stops, prompt_tokens=9)
    "".join(stopped)
    reply = stopped.reply()
    assert reply.finish_reason == reply.metrics.finish_reason == "filtered" and reply.metrics.prompt_tokens == 9
    assert 0 < reply.metrics.generated_tokens < 24
    left = ReplyStream(chunks(), lambda r: None, prompt_tokens=9)
    pieces = iter(left)
    next(pieces), next(pieces), pieces.close()
    assert left.reply().finish_reason == "cancelled" and left.reply().metrics.generated_tokens == 2
    whole = ReplyStream(chunks(), lambda r: None, prompt_tokens=9)
    assert "".join(whole) and whole.reply().metrics.generated_tokens == 24  # the loop's own, when it ends


def test_build_keeps_token_ids_only_for_an_unchanged_normal_answer():
    parsed = ParsedOutput("hi", "", ())
    assert build_reply(parsed, "stop", Metrics(), (), token_ids=(1, 2)).token_ids == (1, 2)
    assert build_reply(parsed, "cancelled", Metrics(), (), token_ids=(1, 2)).token_ids == ()
    redacted = SafetyEvent(0.0, "output", "email", "redact")
    reply = build_reply(parsed, "stop", Metrics(), (redacted,), token_ids=(1, 2))
    assert reply.token_ids == () and reply.filtered and reply.safety_events == (redacted,)


def test_check_stage_gives_the_value_or_says_why_not():
    fmt = ResponseFormat.of({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    ok = build_reply(ParsedOutput('{"n": 3}', "", ()), "stop", Metrics(), ())
    assert check_format(fmt, ok, ok.text).parsed == {"n": 3}
    cut = build_reply(ParsedOutput('{"n": ', "", ()), "length", Metrics(), ())
    with pytest.raises(StructuredOutputError, match="max_tokens"):
        check_format(fmt, cut, cut.text)
    email = ResponseFormat.regex(r"[a-z]+@[a-z]+\.com")
    redacted = build_reply(
        ParsedOutput("[EMAIL]", "", ()), "stop", Metrics(), (SafetyEvent(0.0, "output", "email", "redact"),)
    )
    with pytest.raises(StructuredOutputError, match=r"safety policy changed the answer \(email \(redact\)\)"):
        check_format(email, redacted, redacted.text)


def test_reply_in_the_middle_of_reading_the_stream_says_to_stop_that_loop_first():
    """It said "A ReplyStream can be iterated once; use .reply() for the result" to a caller who
    was calling .reply()."""
    from edgeqwen import Assistant, InvalidRequestError
    from edgeqwen.testing import FakeBackend

    bot = Assistant(backend=FakeBackend(["Hello world, a longer answer."]), max_tokens=50)
    stream = bot.stream("hi")
    pieces = iter(stream)
    first = next(pieces)
    with pytest.raises(InvalidRequestError, match="still being read: finish that loop, or stop it"):
        stream.reply()
    pieces.close()  # stopped early: the answer so far is the reply
    assert stream.reply().text == first and stream.reply().finish_reason == "cancelled"
    with pytest.raises(InvalidRequestError, match="can be iterated once; use .reply"):
        list(stream)
