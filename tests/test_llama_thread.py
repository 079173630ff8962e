"""llama.cpp's one thread: every computing call of the process runs there, whoever asks."""

from __future__ import annotations

import threading

import pytest

from edgeqwen.backends.llama_thread import on_llama_thread


def where() -> int:
    return threading.get_ident()


def test_calls_from_any_thread_run_on_one_thread_and_give_back_their_result():
    ran = {on_llama_thread(where)}
    seen: list[int] = []
    threads = [threading.Thread(target=lambda: seen.append(on_llama_thread(where))) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert ran | set(seen) == ran and len(seen) == 4
    assert threading.get_ident() not in ran  # not the caller's own
    assert on_llama_thread(lambda: [1, 2]) == [1, 2]


def test_a_call_made_on_the_thread_runs_at_once_rather_than_waiting_for_itself():
    assert on_llama_thread(lambda: on_llama_thread(where)) == on_llama_thread(where)


def test_an_error_is_raised_where_the_call_was_made_and_the_thread_goes_on():
    def fails() -> None:
        raise ValueError("llama.cpp said no")

    with pytest.raises(ValueError, match="said no"):
        on_llama_thread(fails)
    assert on_llama_thread(lambda: 7) == 7
