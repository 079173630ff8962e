"""run_stoppable: one onnxruntime call that a cancel event or Ctrl-C stops (backends/ort_run.py),
on stand-in calls that behave as onnxruntime does with its terminate flag."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest
from fakes import in_forked_child

from edgeqwen.backends.ort_run import StepThread, run_stoppable
from edgeqwen.errors import GenerationCancelled


class Terminated(RuntimeError):
    """What onnxruntime raises from a run whose terminate flag was set."""


def _runs_until_stopped(seen: list[str]):
    """A call that runs (up to 10 s) until its flag is set, then fails as onnxruntime does."""

    def call(options) -> None:
        seen.append(threading.current_thread().name)
        deadline = time.monotonic() + 10
        while not options.terminate and time.monotonic() < deadline:
            time.sleep(0.005)
        if options.terminate:
            raise Terminated("Exiting due to terminate flag being set to true.")

    return call


def test_a_call_runs_on_a_thread_of_its_own_and_returns():
    seen: list[str] = []
    options = SimpleNamespace(terminate=False)
    run_stoppable(StepThread(), lambda o: seen.append(threading.current_thread().name), options, threading.Event())
    assert seen[0].startswith("edgeqwen-onnxruntime") and not options.terminate


def test_a_failure_of_the_call_itself_is_raised_as_it_is():
    def fails(_options) -> None:
        raise MemoryError("out of memory")

    with pytest.raises(MemoryError, match="out of memory"):
        run_stoppable(StepThread(), fails, SimpleNamespace(terminate=False), None)


def test_the_cancel_event_sets_the_flag_and_the_stopped_call_raises_generation_cancelled():
    seen: list[str] = []
    cancel = threading.Event()
    options = SimpleNamespace(terminate=False)
    threading.Timer(0.05, cancel.set).start()
    start = time.monotonic()
    with pytest.raises(GenerationCancelled) as stopped:
        run_stoppable(StepThread(), _runs_until_stopped(seen), options, cancel)
    assert options.terminate and isinstance(stopped.value.__cause__, Terminated)
    assert time.monotonic() - start < 5 and seen[0].startswith("edgeqwen-onnxruntime")


def test_a_call_that_ends_before_the_flag_stops_it_returns_as_usual():
    """The flag set after the graph's last node: the run's results are whole, and the caller's
    own look at the event, before the next step, stops the prompt."""
    cancel = threading.Event()

    def ends_anyway(options) -> None:
        cancel.set()
        while not options.terminate:
            time.sleep(0.005)

    options = SimpleNamespace(terminate=False)
    run_stoppable(StepThread(), ends_anyway, options, cancel)
    assert options.terminate


def test_ctrl_c_sets_the_flag_and_is_raised_once_the_call_has_returned():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    returned: list[bool] = []

    def call(options) -> None:
        try:
            _runs_until_stopped([])(options)
        finally:
            returned.append(options.terminate)

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # a server test may have left its own
    try:
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            run_stoppable(StepThread(), call, SimpleNamespace(terminate=False), None)
    finally:
        signal.signal(signal.SIGINT, before)
    assert returned == [True]


def test_a_model_s_calls_share_one_thread_which_ends_when_the_model_is_freed():
    """A new thread a step read prompts 1.6% slower (onnxruntime's per-thread scratch); a
    lasting one must not outlive its model, or a server switching models gathers threads."""
    import gc
    import weakref

    seen: list[threading.Thread] = []
    thread = StepThread()
    for _ in range(3):
        run_stoppable(thread, lambda o: seen.append(threading.current_thread()), SimpleNamespace(terminate=False), None)
    assert len(set(seen)) == 1 and seen[0].is_alive()
    worker = weakref.ref(seen[0])
    seen.clear()
    del thread
    gc.collect()
    deadline = time.monotonic() + 5
    while worker() is not None and worker().is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker() is None or not worker().is_alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_gets_a_step_thread_of_its_own():
    """A multiprocessing pool's worker forked after the model read a prompt has no copy of the
    step thread: its first prompt waited for it forever."""
    thread = StepThread()
    run_stoppable(thread, lambda o: None, SimpleNamespace(terminate=False), None)  # the parent's thread runs

    def child() -> bytes:
        said: list[int] = []
        run_stoppable(thread, lambda o: said.append(42), SimpleNamespace(terminate=False), None)
        return str(said[0]).encode()

    assert in_forked_child(child) == b"42"
