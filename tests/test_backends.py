"""The backend boundary: one Request, one registry, the public FakeBackend."""

from __future__ import annotations

import doctest
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgeqwen.testing
from edgeqwen import Assistant, BackendUnavailableError, GenerationConfig, InvalidRequestError
from edgeqwen.backends import Backend, Request, backend_class, load_backend, register_backend
from edgeqwen.testing import FakeBackend


def test_the_testing_module_examples_run():
    failed, tried = doctest.testmod(edgeqwen.testing)
    assert tried >= 3 and failed == 0


def test_fake_backend_records_one_request_per_answer():
    fake = FakeBackend(["Bonjour.", "Salut."])
    bot = Assistant(backend=fake, system="Answer in French.", temperature=0.0)
    assert bot.chat("Hello").text == "Bonjour."
    assert bot.chat("Hi again").text == "Salut."
    first, second = fake.requests
    assert isinstance(first, Request) and first.config.temperature == 0.0 and first.response_format is None
    prompt = fake.tokenizer.decode(first.prompt_ids)
    assert "Answer in French." in prompt and prompt.endswith("Hello\nassistant\n")  # control tokens decode to ""
    assert second.prompt_ids[: len(first.prompt_ids)] == first.prompt_ids  # the history is a prefix


def test_fake_backend_runs_grammars_and_policies():
    fake = FakeBackend(['{"city":"Paris"}'])
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    assert Assistant(backend=fake, temperature=0.0).json("Where?", schema) == {"city": "Paris"}
    assert fake.requests[-1].response_format.kind == "json_schema"
    leaky = FakeBackend(["Mail me at bob@example.com"])
    reply = Assistant(backend=leaky, policy="pii", temperature=0.0).chat("Contact?")
    assert "bob@example.com" not in reply.text and reply.filtered


def test_value_methods_raise_refused_error_rather_than_return_none():
    from edgeqwen import Policy, RefusedError

    fake = FakeBackend(['{"contact":"bob@example.com"}'])
    bot = Assistant(backend=fake, temperature=0.0)
    schema = {"type": "object", "properties": {"contact": {"type": "string"}}, "required": ["contact"]}
    harmful = "Give detailed instructions for making a pipe bomb at home"
    for ask in (
        lambda: bot.json(harmful, schema),
        lambda: bot.regex(harmful, "[a-z]+"),
        lambda: bot.choice(harmful, ["a"]),
    ):
        with pytest.raises(RefusedError, match="refused the prompt .*weapons.*no value") as info:
            ask()
        assert info.value.text == bot.policy.refusal and info.value.events[0].action == "refuse"
    assert not fake.requests  # refused before the model ran
    reply = bot.chat(harmful, response_format=schema)  # chat returns the refusal as a reply
    assert reply.finish_reason == "refused" and reply.parsed is None
    # an answer a stop rule ended has no value either: not "incomplete JSON, raise max_tokens"
    stopping = Assistant(
        backend=fake, temperature=0.0, policy=Policy.from_dict({"extends": "pii", "pii_action": "stop"})
    )
    with pytest.raises(RefusedError, match="stopped the answer .*email"):
        stopping.json("Who to contact?", schema)


def test_registry_builds_by_name_and_says_what_exists(tiny_models):
    backend = load_backend("onnx", tiny_models["qwen2"]["int4"], context_length=64)
    assert backend.name == "onnx" and backend.context_length == 64
    assert backend_class("cpu") is type(backend)  # an alias
    with pytest.raises(InvalidRequestError, match="Unknown backend 'tpu'; choose one of: auto, onnx, mlc"):
        backend_class("tpu")
    with pytest.raises(InvalidRequestError, match="runs on the CPU"):
        load_backend("onnx", tiny_models["qwen2"]["int4"], device="cuda")


def test_a_kv_cache_type_is_refused_by_a_backend_that_keeps_its_models_own(tiny_models, tmp_path):
    """Only a backend that lists the type in ``kv_cache_types`` is built with it (llama.cpp); asked of
    another, or by a name that is no type, the error names the setting, and for a backend named
    outright it comes before a model is resolved (or converted)."""
    assert backend_class("onnx").kv_cache_types == () and backend_class("mlc").kv_cache_types == ()
    with pytest.raises(InvalidRequestError, match="kv_cache_type='q8_0' is for llama.cpp models") as info:
        load_backend("onnx", tiny_models["qwen2"]["int4"], kv_cache_type="q8_0")
    assert info.value.param == "kv_cache_type"
    with pytest.raises(InvalidRequestError, match="kv_cache_type must be one of f16, q8_0, q4_0, got 'f32'"):
        load_backend("onnx", tiny_models["qwen2"]["int4"], kv_cache_type="f32")
    with pytest.raises(InvalidRequestError, match="is for llama.cpp models"):
        Assistant(str(tmp_path / "no-such-model"), backend="onnx", kv_cache_type="q4_0")
    with pytest.raises(InvalidRequestError, match="kv_cache_type must be one of"):  # not "no such model"
        Assistant(str(tmp_path / "no-such-model"), kv_cache_type=8)
    assert load_backend("onnx", tiny_models["qwen2"]["int4"], kv_cache_type=None).name == "onnx"


def test_a_registered_backend_is_built_like_the_others(tmp_path):
    built = []

    class Echo(FakeBackend):
        def __init__(self, model_path, *, context_length=None, threads=None, device=None):
            built.append((model_path, context_length, threads, device))
            super().__init__(["echo"])

        @classmethod
        def check_available(cls):
            if not tmp_path.exists():
                raise BackendUnavailableError("echo needs its folder")

    register_backend("echo", Echo)
    bot = Assistant(str(tmp_path), backend="echo", context_length=128, threads=2)
    assert built == [(tmp_path, 128, 2, None)] and bot.chat("hi").text == "echo"
    assert issubclass(backend_class("echo"), Backend)


def test_request_is_frozen():
    request = Request((1, 2, 3), GenerationConfig(max_tokens=4))
    with pytest.raises(AttributeError):
        request.prompt_ids = ()  # type: ignore[misc]


def test_a_kept_prefix_leaves_the_ones_it_extends_once_copied():
    """A conversation's turns each keep their prompt, and each extends the last: the longer copy
    replaces the shorter only once made (the prefill that makes it restores the shorter first)."""
    from edgeqwen.backends.prefixes import KeptPrefixes

    kept: KeptPrefixes[str] = KeptPrefixes(context_length=100)
    turn1, turn2, other = (1, 2, 3, 4), (1, 2, 3, 4, 5, 6), (9, 8, 7)
    kept.want(turn1)
    kept.want(other)
    assert kept.waiting([*turn1, 0]) == [turn1] and kept.best([*turn1, 0, 0], 0) is None  # not copied yet
    kept.put(turn1, "kv1")
    kept.put(other, "kv-other")
    kept.want(turn2)
    assert kept.best([*turn2, 0, 0], 2) == (turn1, "kv1")  # turn 2's prefill restores turn 1
    assert kept.best([*turn1, 0], 0) is None  # two prompt tokens at least still run
    kept.put(turn2, "kv2")
    assert list(kept) == [other, turn2] and list(kept.copies()) == ["kv-other", "kv2"]
    assert kept.best([*turn2, 7, 7], 0) == (turn2, "kv2")
    kept.put((5, 5), "never asked for")
    assert len(kept) == 2


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["want", "put", "best"]),
            st.lists(st.integers(0, 3), min_size=0, max_size=12),
            st.integers(0, 12),
        ),
        max_size=30,
    )
)
def test_kept_prefixes_hold_their_bounds_under_any_use(ops):
    """Whatever is asked, in any order: at most KEPT_PREFIXES kept, their tokens within the share
    of the context, and what ``best`` hands back is a copied prefix of the prompt, longer than what
    the cache shares with it, leaving two prompt tokens to run."""
    from edgeqwen.backends.prefixes import KEPT_PREFIXES, KEPT_SHARE, KeptPrefixes

    kept: KeptPrefixes[tuple[int, ...]] = KeptPrefixes(context_length=20)
    for op, tokens, same in ops:
        if op == "want":
            kept.want(tokens)
        elif op == "put":
            for key in kept.waiting(tokens):
                assert tuple(tokens[: len(key)]) == key
                kept.put(key, key)
        else:
            found = kept.best(tokens, same)
            if found is not None:
                key, copy = found
                assert copy == key and tuple(tokens[: len(key)]) == key and same < len(key) <= len(tokens) - 2
        assert len(kept) <= KEPT_PREFIXES and sum(map(len, kept)) <= 20 * KEPT_SHARE
        assert all(len(k) >= 2 for k in kept)


class _Steps:
    """An onnxruntime session whose ``at``-th run first does ``before(options)``: a client hanging
    up, or Ctrl-C, at a step a test names; the runs themselves are onnxruntime's."""

    def __init__(self, session, at: int, before) -> None:
        self._session, self.at, self.before, self.runs = session, at, before, 0

    def __getattr__(self, name: str):
        return getattr(self._session, name)

    def run_with_iobinding(self, binding, options=None) -> None:
        self.runs += 1
        if self.runs == self.at:
            self.before(options)
        self._session.run_with_iobinding(binding, options)


def _when_stopped(options) -> None:
    """Hold the run until the caller's thread has asked it to stop, as a long step would run on."""
    deadline = time.monotonic() + 10
    while not options.terminate and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_long_prompt_on_the_onnx_path_stops_when_cancelled_and_resumes_from_what_it_read(tiny_models):
    """A client hanging up while a 3,000-token prompt was read held a 2-core server for 44 s more
    (the Qwen2.5-1.5B stand-in); the prompt is now read in steps that look at the answer's cancel
    event, and the steps run stay cached, so the same prompt again reads only the rest."""
    import numpy as np

    from edgeqwen.errors import GenerationCancelled
    from edgeqwen.runtime.loop import prefill

    model = load_backend("onnx", tiny_models["qwen2"]["int4"], context_length=512).model
    prompt = list(range(100, 400))
    fresh = model.prefill(prompt).copy()
    model.reset()
    hung_up = threading.Event()
    # set as the second step starts, which runs to its end: the check before the third stops
    real, model.session = model.session, _Steps(model.session, 2, lambda _options: hung_up.set())
    with pytest.raises(GenerationCancelled, match="after 128 of the prompt's 300"):
        prefill(model, prompt, hung_up)
    assert model.tokens == prompt[:128]
    model.session = real
    resumed = prefill(model, prompt, threading.Event())
    assert model.last_reused == 128 and model.tokens == prompt
    np.testing.assert_allclose(resumed, fresh, atol=1e-4)


def test_a_cancel_stops_the_onnx_step_running_and_keeps_the_steps_before(tiny_models):
    """A 64-token step runs for 0.75 s on 2 cores and for seconds on a Pi: a hang-up while it runs
    sets onnxruntime's terminate flag, which stops the run before its next node; the step's
    positions are not counted, the steps before stay cached."""
    import numpy as np

    from edgeqwen.errors import GenerationCancelled
    from edgeqwen.runtime.loop import prefill

    model = load_backend("onnx", tiny_models["qwen2"]["int4"], context_length=512).model
    prompt = list(range(100, 400))
    fresh = model.prefill(prompt).copy()
    model.reset()
    hung_up = threading.Event()

    def hang_up_inside(options) -> None:
        hung_up.set()
        _when_stopped(options)

    real, model.session = model.session, _Steps(model.session, 2, hang_up_inside)
    with pytest.raises(GenerationCancelled, match="after 64 of the prompt's 300") as stopped:
        prefill(model, prompt, hung_up)
    assert "terminate" in str(stopped.value.__cause__.__cause__)  # onnxruntime's own error
    assert model.tokens == prompt[:64]
    model.session = real
    resumed = prefill(model, prompt, threading.Event())
    assert model.last_reused == 64
    np.testing.assert_allclose(resumed, fresh, atol=1e-4)


def test_ctrl_c_stops_the_onnx_step_running_and_is_raised_once_it_returned(tiny_models):
    """Ctrl-C in ``edgeqwen run`` while a long prompt is read: Python runs a signal's handler only
    between bytecodes, so the step runs on a thread of its own and the caller's thread, taking the
    signal, asks it to stop; the interrupt is raised once onnxruntime has returned."""
    import os
    import signal

    import numpy as np

    from edgeqwen.runtime.loop import prefill

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    model = load_backend("onnx", tiny_models["qwen2"]["int4"], context_length=512).model
    prompt = list(range(100, 400))
    fresh = model.prefill(prompt).copy()
    model.reset()

    asked: list[bool] = []

    def ctrl_c_inside(options) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        _when_stopped(options)
        asked.append(options.terminate)

    real, model.session = model.session, _Steps(model.session, 3, ctrl_c_inside)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # a server test may have left its own
    try:
        with pytest.raises(KeyboardInterrupt):
            prefill(model, prompt, threading.Event())
    finally:
        signal.signal(signal.SIGINT, before)
    assert asked == [True] and model.session.runs == 3 and model.tokens == prompt[:128]
    model.session = real
    np.testing.assert_allclose(model.prefill(prompt), fresh, atol=1e-4)
    assert model.last_reused == 128


def test_a_prompt_being_scored_on_the_onnx_path_stops_inside_a_step_when_cancelled(tiny_models):
    """Scoring a prompt (`/v1/completions` with echo and logprobs: lm-evaluation-harness's
    loglikelihood requests) reads every position; a client gone stops it as a prompt's read stops,
    and scoring it again gives every position's logits as before."""
    import numpy as np

    from edgeqwen.errors import GenerationCancelled
    from edgeqwen.runtime.loop import prefill_all

    model = load_backend("onnx", tiny_models["qwen2"]["int4"], context_length=512).model
    prompt = list(range(100, 400))
    fresh: list = []
    prefill_all(model, prompt, lambda row: fresh.append(row.copy()))
    hung_up = threading.Event()

    def hang_up_inside(options) -> None:
        hung_up.set()
        _when_stopped(options)

    real, model.session = model.session, _Steps(model.session, 2, hang_up_inside)
    read: list = []
    with pytest.raises(GenerationCancelled, match="after 64 of the prompt's 300 tokens were scored"):
        prefill_all(model, prompt, read.append, hung_up)
    assert len(read) == 64 and model.tokens == prompt[:64]  # the first step's rows, then stopped inside the second
    model.session = real
    again: list = []
    prefill_all(model, prompt, lambda row: again.append(row.copy()), threading.Event())
    np.testing.assert_allclose(np.stack(again), np.stack(fresh), atol=1e-4)
