"""Text cut into chunks for an embedding model (``split_text``, ``Embedder.split``), on the real
Qwen3 tokenizer: every chunk within the bound as the tokenizer counts it alone, nothing lost."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeqwen.chunks import chunk_spans, split_text
from edgeqwen.errors import InvalidRequestError
from edgeqwen.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def tok(qwen3_tokenizer_json) -> Tokenizer:
    return Tokenizer(qwen3_tokenizer_json)


WORDS = st.sampled_from(["the", "Paris", "kilogram", "naïve", "日本語", "😀", "x", "3.14", "internationalization"])
GAPS = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", ". ", "? ", "\t", ""])
TEXT = st.lists(st.tuples(WORDS, GAPS), max_size=120).map(lambda pairs: "".join(w + g for w, g in pairs))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(TEXT, st.text(max_size=300)), max_tokens=st.integers(4, 40), data=st.data())
def test_chunks_are_within_the_bound_in_order_and_lose_nothing_but_blank_stretches(tok, text, max_tokens, data):
    overlap = data.draw(st.integers(0, max_tokens - 1))
    spans = chunk_spans(text, tok.offsets, max_tokens, overlap)
    chunks = split_text(text, tok.offsets, max_tokens, overlap)
    assert chunks == [text[a:b] for a, b in spans if text[a:b].strip()]  # the blank ones left out, nothing else
    assert all(len(tok.encode(chunk)) <= max_tokens for chunk in chunks), [len(tok.encode(c)) for c in chunks]
    assert [a for a, _ in spans] == sorted(a for a, _ in spans) and all(a < b for a, b in spans)
    assert [b for _, b in spans] == sorted(b for _, b in spans)
    covered = {i for a, b in spans for i in range(a, b)}
    assert covered == set(range(len(text)))  # every character in a chunk (a blank one at worst)
    tiles = chunk_spans(text, tok.offsets, max_tokens)
    assert all(a == b for (_, a), (b, _) in zip(tiles, tiles[1:], strict=False))  # no overlap: they tile
    assert "".join(text[a:b] for a, b in tiles) == text


def test_a_chunk_ends_at_the_strongest_boundary_in_its_second_half(tok):
    para = "The boiler was serviced in March. The pressure should read 1.2 bar. Call the engineer if not."
    text = "\n\n".join([para] * 6)
    chunks = split_text(text, tok.offsets, 60)
    assert "".join(chunks) == text
    assert all(chunk.endswith("\n\n") for chunk in chunks[:-1])  # paragraph ends, not mid-sentence
    one_line = " ".join([para] * 4)
    sentences = split_text(one_line, tok.offsets, 30)
    assert all(chunk.rstrip().endswith(".") for chunk in sentences)  # no blank line: sentence ends
    cjk = "今日は晴れです。明日は雨が降るでしょう。" * 6  # no spaces: its full stops are the sentence ends
    assert all(chunk.endswith("。") for chunk in split_text(cjk, tok.offsets, 20))
    assert split_text("", tok.offsets, 8) == [] and split_text(" \n ", tok.offsets, 8) == []
    assert split_text("short", tok.offsets, 8) == ["short"]


def test_overlap_starts_a_chunk_at_a_word_before_the_last_one_ended(tok):
    text = " ".join(f"word{i}" for i in range(200))
    chunks = split_text(text, tok.offsets, 40, overlap=10)
    for before, after in zip(chunks, chunks[1:], strict=False):
        head = after.split()[0]
        assert head in before.split()  # the next chunk begins inside the last one, at a whole word


def test_bad_bounds_are_refused(tok):
    for max_tokens, overlap, param in (
        (0, 0, "max_tokens"),
        (True, 0, "max_tokens"),
        (8, 8, "overlap"),
        (8, -1, "overlap"),
    ):
        with pytest.raises(InvalidRequestError) as caught:
            split_text("text", tok.offsets, max_tokens, overlap)
        assert caught.value.param == param
