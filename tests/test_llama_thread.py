"""llama.cpp's one thread: every computing call of the process runs there, whoever asks."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from fakes import in_forked_child

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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_gets_a_thread_of_its_own():
    """A child has no copy of the parent's thread: its calls must not wait for it forever."""
    on_llama_thread(where)  # the parent's thread is running
    assert in_forked_child(lambda: str(on_llama_thread(lambda: 6 * 7)).encode()) == b"42"


def test_an_interrupt_while_a_call_runs_is_raised_once_the_call_has_returned():
    """Ctrl-C during a decode: what the caller then keeps (the tokens it counts in the cache) must
    match what llama.cpp did, so the interrupt waits for the call."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    finished: list[bool] = []

    def slow() -> None:
        time.sleep(0.4)
        finished.append(True)

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # a server test may have left its own
    try:
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            on_llama_thread(slow)
    finally:
        signal.signal(signal.SIGINT, before)
    assert finished == [True]


def test_ctrl_c_asks_the_running_call_to_stop_then_waits_for_it():
    """A prompt's batch of 512 tokens takes a minute on a Pi: Ctrl-C while it runs asks it to
    stop (llama.cpp's abort callback reads the flag ``on_interrupt`` sets), and is raised once it
    has returned, never while llama.cpp still writes the cache."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    stop, seen = threading.Event(), []

    def batch() -> int:
        seen.append(stop.wait(10))  # a batch that runs until asked to stop
        return 2

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            on_llama_thread(batch, on_interrupt=stop.set)
    finally:
        signal.signal(signal.SIGINT, before)
    assert seen == [True]
