"""The llama.cpp backend: GGUF models on llama.cpp's C API, driven by our loop.

References: transformers' forward pass of the same weights (tiny random Qwen2/Qwen3 written as
GGUF), llama.cpp's own tokenizer, and llama-cpp-python's own greedy generation. The layers above
(grammar, stop strings, prefix reuse, cancel, safety) run on the real demo GGUF."""

from __future__ import annotations

import json
import struct
import threading
import warnings

import numpy as np
import pytest

pytest.importorskip("llama_cpp")

from test_tokenizer import SAMPLES  # noqa: E402

from edgeqwen import Assistant  # noqa: E402
from edgeqwen.backends import backend_for_folder  # noqa: E402
from edgeqwen.backends.llama_bindings import bindings  # noqa: E402
from edgeqwen.backends.llamacpp import LlamaCppBackend  # noqa: E402
from edgeqwen.convert import demo_gguf_path  # noqa: E402
from edgeqwen.errors import BackendUnavailableError, InvalidRequestError, ModelLoadError  # noqa: E402
from edgeqwen.gguf import read_gguf_info, read_metadata  # noqa: E402
from edgeqwen.types import Message  # noqa: E402

PROMPT = [9707, 0, 6567, 107, 243, 101049, 0, 16, 488, 220, 16, 284, 220, 17] * 3


def llama_tokenize(backend: LlamaCppBackend, text: str, special: bool = False) -> list[int]:
    ll = bindings()
    data = text.encode()
    out = (ll.llama_token * (len(data) + 8))()
    n = ll.llama_tokenize(
        ll.llama_model_get_vocab(backend.model._model), data, len(data), out, len(out), False, special
    )
    return list(out[:n])


@pytest.fixture(scope="module")
def demo():
    backend = LlamaCppBackend(demo_gguf_path(), context_length=1024)
    yield backend
    backend.model.close()


@pytest.mark.parametrize("name", ["qwen2-f32", "qwen3-f32", "demo"])
def test_our_tokenizer_gives_llama_cpp_ids(tiny_ggufs, name):
    """Multilingual text, digits (SmolLM2 splits them one by one), control tokens typed as text,
    and the chat template's rendering with its control tokens."""
    path = demo_gguf_path() if name == "demo" else tiny_ggufs[name]
    backend = LlamaCppBackend(path, context_length=256)
    for text in [*SAMPLES, "12345678 3.14159", "<|im_start|>user\nhi<|im_end|>", "  x\n\n\n y"]:
        assert backend.tokenizer.encode(text) == llama_tokenize(backend, text), text
    rendered = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello! 毕老师<|im_end|>\n"
    messages = [Message("system", "Be brief."), Message("user", "Hello! 毕老师")]
    pieces = backend.template.render(messages, add_generation_prompt=False)
    assert backend.template.encode(backend.tokenizer, pieces) == llama_tokenize(backend, rendered, special=True)


def test_qwen_vocabulary_is_the_real_qwen_tokenizer(tiny_ggufs, qwen_tokenizer_json):
    from edgeqwen.tokenizer import Tokenizer

    ours, ref = LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=64).tokenizer, Tokenizer(qwen_tokenizer_json)
    assert ours.vocab_size == ref.vocab_size == 151665  # the 271 padding ids are not tokens
    for text in SAMPLES:
        assert ours.encode(text) == ref.encode(text)
    assert {ours.token_id(t) for t in ("<|im_start|>", "<|im_end|>", "<|endoftext|>")} == {151644, 151645, 151643}


@pytest.mark.parametrize("arch", ["qwen2", "qwen3"])
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_logits_match_transformers(tiny_models, tiny_ggufs, arch, dtype):
    """Prefill 5 tokens, then decode one at a time (the KV cache and positions). Tolerance:
    llama.cpp keeps its KV cache in f16, and f16 weights round to 11 bits, so logits differ by
    rounding: within 1% (f32) / 2% (f16) of the largest logit, the same top token everywhere."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    hf = transformers.AutoModelForCausalLM.from_pretrained(tiny_models[arch]["hf"], dtype=torch.float32)
    with torch.no_grad():
        ref = hf(torch.tensor([PROMPT])).logits[0].numpy()[4:]
    model = LlamaCppBackend(tiny_ggufs[f"{arch}-{dtype}"], context_length=128).model
    rows = [model.prefill(PROMPT[:5]).copy()] + [model.decode(t).copy() for t in PROMPT[5:]]
    ours = np.stack(rows)
    scale = float(np.abs(ref).max())
    assert np.abs(ours - ref).max() < (0.01 if dtype == "f32" else 0.02) * scale
    assert (ours.argmax(axis=1) == ref.argmax(axis=1)).all()


@pytest.mark.parametrize(("which", "flash"), [("demo", False), ("demo", True), ("qwen3-f16", True)])
def test_greedy_tokens_equal_llama_cpp_pythons_own_generation(tiny_ggufs, which, flash):
    """Same settings on both sides: llama-cpp-python's ``Llama`` turns flash attention off unless
    asked, llama.cpp's own default (ours) is auto (on, on a CPU); the two differ in rounding."""
    from llama_cpp import Llama

    from edgeqwen.generation_config import GenerationConfig
    from edgeqwen.runtime.loop import stream_generate

    path = demo_gguf_path() if which == "demo" else tiny_ggufs[which]
    backend = LlamaCppBackend(path, context_length=256, flash_attn=flash)
    pieces = backend.template.render([Message("user", "Write a short poem about the sea.")])
    prompt = backend.template.encode(backend.tokenizer, pieces)
    config = GenerationConfig(max_tokens=40, temperature=0.0, repetition_penalty=1.0, stop_token_ids=())
    ours = [c.token for c in stream_generate(backend.model, backend.tokenizer, prompt, config) if c.token is not None]
    theirs = []
    llm = Llama(str(path), n_ctx=256, n_threads=backend.model.threads, flash_attn=flash, verbose=False)
    for token in llm.generate(prompt, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
        if token in backend.stop_token_ids or len(theirs) == len(ours):
            break
        theirs.append(token)
    assert len(ours) >= 8 and ours == theirs


def test_prefix_reuse_gives_the_same_logits(demo):
    model = demo.model
    ids = demo.tokenizer.encode("The quick brown fox jumps over the lazy dog. " * 4)
    model.reset()
    fresh = model.prefill(ids).copy()
    again = model.prefill(ids).copy()
    assert model.last_reused == len(ids) and np.array_equal(fresh, again)
    model.prefill(ids[:10])  # a shorter prompt: the rest of the sequence leaves the cache
    assert model.tokens == ids[:10] and model.last_reused == 8
    extended = model.prefill(ids).copy()
    assert model.last_reused == 10 and np.abs(fresh - extended).max() < 0.05


def test_kept_prefixes_are_restored_after_other_prompts(demo):
    """Two prompts with different openings alternating (a guard's checks; a self-check between a
    conversation's turns): each opening is copied out of llama.cpp once computed (a prefill that
    computes more stops there to copy it) and put back later, so each prompt prefills only its own
    part, and gets the logits it gets with its opening in the live cache, bit for bit."""
    model = demo.model
    a_open = [1000 + (i * 37) % 5000 for i in range(70)]
    b_open = [2000 + (i * 53) % 5000 for i in range(90)]
    a, b = a_open + [7, 8, 9, 10, 11], b_open + [12, 13, 14]

    def live(opening, prompt):  # the opening in the live cache, then the prompt
        model.reset()
        model.prefill(opening)
        out = model.prefill(prompt).copy()
        assert model.last_reused == len(opening)
        return out

    fresh_a, fresh_b = live(a_open, a), live(b_open, b)
    model.reset()
    model.keep_prefix(a_open)
    model.keep_prefix(b_open)
    assert np.array_equal(model.prefill(a), fresh_a) and model.last_reused == 0
    assert np.array_equal(model.prefill(b), fresh_b) and model.last_reused == 0
    assert model.kept_bytes > 0
    for _ in range(2):
        again_a = model.prefill(a).copy()
        assert model.last_reused == 70 and np.array_equal(again_a, fresh_a)
        model.decode(5)  # an answer between checks
        again_b = model.prefill(b).copy()
        assert model.last_reused == 90 and np.array_equal(again_b, fresh_b)
    # a whole prompt kept (a conversation's turn), then another prompt, then the next turn
    model.keep_prefix(a)
    model.prefill(a)
    model.prefill(b)
    model.prefill([*a, 15, 16, 17])
    assert model.last_reused == len(a)
    model.reset()
    assert model.kept_bytes == 0 and model.prefill(a) is not None and model.last_reused == 0


@pytest.mark.parametrize("capture", [False, True])
def test_the_same_long_prompt_gets_its_fresh_logits_from_the_cache(demo, capture):
    """llama.cpp runs a step of fewer than 64 tokens through other kernels than a longer one: a
    cached 100-token prompt whose last two tokens ran again got logits ~0.9 off its fresh ones,
    and could get another greedy answer. The same prompt now gets its first prefill's logits (and
    hidden state, for the probe), bit for bit."""
    model = demo.model
    ids = demo.tokenizer.encode("The quick brown fox jumps over the lazy dog. " * 10)
    assert len(ids) >= 100
    model.capture_hidden = capture
    try:
        model.reset()
        fresh = model.prefill(ids).copy()
        hidden = model.last_hidden.copy() if capture else None
        for token in ids[:5]:  # an answer after it
            model.decode(token)
        again = model.prefill(ids).copy()
        assert model.last_reused == len(ids) and model.tokens == ids and np.array_equal(fresh, again)
        if capture:
            assert np.array_equal(hidden, model.last_hidden)
        # One token longer: the prompt's last position runs again, so it is not kept as it was.
        model.prefill([*ids, ids[0]])
        model.prefill(ids)
        assert model.last_reused == len(ids) - 2
        # Kept per mode: a prefill that keeps the hidden state runs its last token alone.
        model.capture_hidden = not capture
        model.prefill(ids)
        assert model.last_reused == len(ids) - 2
    finally:
        model.capture_hidden = False


@pytest.mark.parametrize(("kind", "share", "close"), [("q8_0", 34 / 64, 0.05), ("q4_0", 18 / 64, 0.3)])
def test_a_quantized_kv_cache_holds_less_and_reads_nearly_the_same(demo, kind, share, close):
    """llama.cpp's KV cache in q8_0 or q4_0 (its type_k and type_v, blocks of 32 values and a
    scale): the sequence's state llama.cpp copies out shrinks by the type's bytes, the memory check
    counts that, and a real model's logits after a prompt and while decoding stay near the f16
    cache's (not equal: the type is in use). tools/bench/quant_quality.py measures the cost."""
    ll = bindings()
    ids = demo.tokenizer.encode("The quick brown fox jumps over the lazy dog, and then it sleeps. " * 6)
    f16 = LlamaCppBackend(demo_gguf_path(), context_length=256).model
    quant = LlamaCppBackend(demo_gguf_path(), context_length=256, kv_cache_type=kind).model
    rows = {}
    for name, model in (("f16", f16), (kind, quant)):
        rows[name] = np.stack([model.prefill(ids).copy()] + [model.decode(t).copy() for t in ids[:8]])
    scale = float(np.abs(rows["f16"]).max())
    assert 0 < np.abs(rows[kind] - rows["f16"]).max() < close * scale
    assert (rows[kind].argmax(axis=1) == rows["f16"].argmax(axis=1)).mean() >= 0.75
    state = [ll.llama_state_seq_get_size(m._ctx, 0) for m in (f16, quant)]
    assert state[1] < (share + 0.02) * state[0]
    assert quant.kv_cache_bytes == demo.model.info.kv_bytes_per_token(2 * share) * 256
    assert quant.kv_cache_bytes < share * 1.01 * f16.kv_cache_bytes
    # a prefix copied out of the quantized cache and put back gives the logits it gave live
    opening, other = ids[:40], ids[40:70]
    quant.reset()
    quant.keep_prefix(opening)
    live = quant.prefill([*opening, 5, 6]).copy()
    quant.prefill(other)
    assert np.array_equal(quant.prefill([*opening, 5, 6]), live) and quant.last_reused == len(opening)
    f16.close()
    quant.close()


def test_bench_runs_and_reports_the_kv_cache_type_asked():
    from click.testing import CliRunner

    from edgeqwen.cli import main

    said = CliRunner().invoke(
        main, ["bench", str(demo_gguf_path()), "-p", "16", "-n", "4", "-r", "1", "--kv-cache-type", "q8_0", "--json"]
    )
    assert said.exit_code == 0, said.output
    r = json.loads(said.stdout)
    per_token = read_gguf_info(demo_gguf_path()).kv_bytes_per_token(34 / 32)
    assert r["kv_cache_type"] == "q8_0" and r["kv_cache_bytes"] == per_token * (16 + 4 + 1)  # prompt + answer + 1
    text = CliRunner().invoke(main, ["bench", str(demo_gguf_path()), "-p", "8", "-n", "2", "-r", "1"])
    assert text.exit_code == 0 and "MiB, f16)" in text.output


def test_a_context_that_fits_only_in_an_8_bit_cache_says_so_and_loads_with_one(monkeypatch):
    from edgeqwen.backends import amx
    from edgeqwen.errors import InsufficientMemoryError
    from edgeqwen.probe.planner import ONNX_OVERHEAD, RAM_MARGIN

    monkeypatch.setattr(amx, "has_amx_kernels", lambda _ll: False)  # no AMX copy held: the same need on any CPU
    info = read_gguf_info(demo_gguf_path())
    need_q8 = info.weights_bytes + ONNX_OVERHEAD + info.kv_bytes_per_token(34 / 32) * 8192
    ram = int(need_q8 / RAM_MARGIN) + 2**20  # room for the cache in q8_0, not in f16
    with pytest.raises(InsufficientMemoryError, match=r"kv_cache_type='q8_0', --kv-cache-type q8_0; half the KV"):
        LlamaCppBackend(demo_gguf_path(), context_length=8192, ram_available=ram)
    backend = LlamaCppBackend(demo_gguf_path(), context_length=8192, ram_available=ram, kv_cache_type="q8_0")
    assert backend.context_length == 8192
    backend.close()
    with pytest.raises(InsufficientMemoryError) as info_:  # no room even in 8 bits: no such hint
        LlamaCppBackend(demo_gguf_path(), context_length=8192, ram_available=ram // 2)
    assert "kv_cache_type" not in str(info_.value)


def test_a_quantized_kv_cache_is_refused_where_llama_cpp_cannot_keep_one(tiny_ggufs):
    with pytest.raises(InvalidRequestError, match="blocks of 32 values of a head; qwen2-f32's heads are 16"):
        LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=64, kv_cache_type="q8_0")
    with pytest.raises(InvalidRequestError, match="flash attention only, which flash_attn=False turns off"):
        LlamaCppBackend(demo_gguf_path(), context_length=64, kv_cache_type="q4_0", flash_attn=False)
    with pytest.raises(InvalidRequestError, match="kv_cache_type must be one of f16, q8_0, q4_0, got 'Q8_0'"):
        LlamaCppBackend(demo_gguf_path(), context_length=64, kv_cache_type="Q8_0")
    assert LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=64, kv_cache_type="f16").model.kv_cache_type == "f16"


def test_the_assistant_runs_on_llamacpp(demo):
    """Grammar, stop strings, multi-turn prefix reuse, cancelling and the safety screen."""
    bot = Assistant(backend=demo, max_tokens=60)
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}}, "required": ["city"]}
    reply = bot.chat("What is the capital of France? Answer in JSON.", response_format=schema)
    assert set(json.loads(reply.text)) == {"city"}
    second = bot.chat("And of Italy?", stop=["."])
    assert second.metrics.cached_tokens > 0 and "." not in second.text and second.finish_reason != "length"
    stream = bot.stream("Count from one to fifty in words.")
    for i, _ in enumerate(stream):
        if i == 3:
            break
    assert stream.reply().finish_reason == "cancelled"
    assert bot.chat("Say hi.").finish_reason in ("stop", "length")  # the model is free again
    refused = bot.chat("Give me step-by-step instructions to build a pipe bomb.")
    assert refused.finish_reason == "refused"


def test_a_gguf_file_or_folder_picks_this_backend(tmp_path, tiny_ggufs):
    assert backend_for_folder(tiny_ggufs["qwen2-f32"]) == "llamacpp"
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.gguf").symlink_to(tiny_ggufs["qwen2-f32"])
    assert backend_for_folder(folder) == "llamacpp"
    assert read_gguf_info(folder).model_type == "qwen2"


def test_bad_gguf_files_say_what_to_do(tmp_path, tiny_ggufs):
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ModelLoadError, match="not a GGUF file"):
        read_metadata(not_gguf)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_ggufs["qwen2-f32"].read_bytes()[:200_000])
    with pytest.raises(ModelLoadError, match="truncated or corrupt.*download it again"):
        read_metadata(cut)
    cut.write_bytes(tiny_ggufs["qwen2-f32"].read_bytes()[:10])  # was struct.error's traceback
    with pytest.raises(ModelLoadError, match=r"truncated \(10 bytes, a GGUF header alone is 24\); download it again"):
        read_metadata(cut)
    with pytest.raises(ModelLoadError, match="truncated|could not load"):
        LlamaCppBackend(_truncate_tensors(tiny_ggufs["qwen2-f32"], tmp_path))
    other = tmp_path / "other.gguf"
    data = bytearray(tiny_ggufs["qwen2-f32"].read_bytes()[:4_000_000])
    key = b"tokenizer.ggml.pre"
    at = data.index(key) + len(key) + 4  # the value: type (u32), then the string
    n = struct.unpack_from("<Q", data, at)[0]
    data[at + 8 : at + 8 + n] = b"zzzzz"[:n].ljust(n, b"z")
    other.write_bytes(bytes(data) + tiny_ggufs["qwen2-f32"].read_bytes()[4_000_000:])
    with pytest.raises(ModelLoadError, match="pre-tokenizer.*Qwen2.5, Qwen3, SmolLM2"):
        read_gguf_info(other)


def test_a_read_only_cache_still_runs_a_gguf(tmp_path, tiny_ggufs, monkeypatch):
    """An image with its models baked in, run read-only: the tokenizer taken from the GGUF could
    not be cached, and the model did not load ("Cannot write the tokenizer"). It goes to this
    user's temporary folder instead. (A file stands for the read-only folder: tests run as root.)"""
    import os

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "file").write_text("")
    info = read_gguf_info(tiny_ggufs["qwen2-f32"], tokenizer_dir=tmp_path / "file" / "tokenizers")
    assert info.tokenizer_file.parent == tmp_path / "tmp" / f"edgeqwen-{os.getuid()}" / "tokenizers"
    assert json.loads(info.tokenizer_file.read_text())["model"]["type"] == "BPE"


@pytest.mark.parametrize("quantization", ["Q4_0", "Q4_K_M"])
@pytest.mark.parametrize(("arch", "head_dim"), [("qwen2", 64), ("qwen3", 128)])
def test_a_stand_in_of_a_qwen_model_loads_and_decodes(tmp_path, quantization, arch, head_dim):
    """`probe --calibrate` times llama.cpp on a stand-in written here (random Q4_0 layers, a Q6_K
    embedding, the demo's tokenizer padded to the model's vocabulary): llama.cpp must take the file
    as it takes its own converter's, and decode it at full speed (finite values, no NaN paths).
    Qwen3's heads of 128 in a hidden size of 256 over 4 heads, as Qwen3-4B's are wider than hidden / heads."""
    from dataclasses import replace

    from edgeqwen.catalog import get_model
    from edgeqwen.generation_config import GenerationConfig
    from edgeqwen.runtime.loop import stream_generate
    from edgeqwen.standin import standin_bytes, write_standin

    g = replace(get_model("qwen2.5-1.5b-instruct").geometry, layers=2, hidden=256, intermediate=512, heads=4)
    g = replace(g, kv_heads=2, head_dim=head_dim, vocab=50_000)
    folder = tmp_path / "standin"
    folder.mkdir()
    write_standin(folder / "model.gguf", g, demo_gguf_path(), quantization, arch=arch)
    assert (folder / "model.gguf").stat().st_size <= standin_bytes(g, quantization, arch)
    assert read_gguf_info(folder).quantization == quantization
    meta = read_metadata(folder / "model.gguf")
    assert meta["general.architecture"] == arch
    assert meta["tokenizer.ggml.tokens"][-1] == "[PAD49999]" and len(meta["tokenizer.ggml.token_type"]) == 50_000
    backend = LlamaCppBackend(folder, context_length=256)
    assert (backend.info.name, backend.info.vocab_size, backend.info.num_layers) == ("standin", 50_000, 2)
    ids = backend.tokenizer.encode("What is the capital of France?")
    steps = list(stream_generate(backend.model, backend.tokenizer, ids, GenerationConfig(max_tokens=8, temperature=0)))
    assert steps[-1].metrics.generated_tokens == 8
    backend.model.reset()
    assert np.isfinite(backend.model.prefill(ids)).all()


def test_a_q4_k_m_stand_in_keeps_the_layers_llama_cpp_keeps_at_q6_k():
    """llama.cpp's quantizer, run on the Qwen2.5-1.5B geometry (docs/performance.md), kept attn_v and
    ffn_down at Q6_K in these 14 of its 28 layers and at Q4_K in the rest; the stand-in's timing
    holds only if it reads the same bytes."""
    from edgeqwen.catalog import get_model
    from edgeqwen.standin import _Q6_K, _tensors

    g = get_model("qwen2.5-1.5b-instruct").geometry
    kept = sorted(
        {int(n.split(".")[1]) for n, _, kind in _tensors(g, "Q4_K_M") if kind == _Q6_K and n.startswith("blk.")}
    )
    assert kept == [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27]
    assert not [n for n, _, kind in _tensors(g, "Q4_0") if kind == _Q6_K and n.startswith("blk.")]
    with pytest.raises(ValueError, match="Q4_0 or Q4_K_M"):
        _tensors(g, "Q5_K_M")
    with pytest.raises(ValueError, match="write it as qwen3"):  # llama.cpp's qwen2 could not load it
        _tensors(get_model("qwen3-4b").geometry, "Q4_0", "qwen2")


def _truncate_tensors(src, tmp_path):
    """The file with its metadata whole and its tensor data cut short."""
    cut = tmp_path / "tensors-cut.gguf"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    return cut


def test_missing_llama_cpp_says_how_to_install(monkeypatch):
    import sys

    from edgeqwen.backends import llama_bindings

    monkeypatch.setattr(llama_bindings, "_state", {})
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(BackendUnavailableError, match=r"edgeqwen\[llamacpp\]"):
        Assistant(backend="llamacpp", model="demo")


def test_a_parameter_the_bindings_lack_is_refused_not_ignored():
    """ctypes stores an unknown name as a plain attribute llama.cpp never reads (how use_mmap=False
    once did nothing: the C API had renamed it load_mode)."""
    from edgeqwen.backends.llama_bindings import set_fields

    ll = bindings()
    params = ll.llama_model_default_params()
    set_fields(params, load_mode=ll.LLAMA_LOAD_MODE_NONE)
    assert params.load_mode == ll.LLAMA_LOAD_MODE_NONE
    with pytest.raises(BackendUnavailableError, match="no llama_model_params.use_mmap"):
        set_fields(params, use_mmap=False)


@pytest.mark.parametrize("works", [True, False])
def test_a_build_with_amx_kernels_uses_them_only_where_they_passed_the_check(monkeypatch, works):
    """llama.cpp's AMX kernels, as GCC builds them without -fno-dse, crash the process on the first
    prompt (llama.cpp#20824): the README's command ended in "Segmentation fault". Built with it they
    are its fastest path on those Xeons. A build with them (read off llama.cpp's own system info)
    loads with them where this CPU's check passed; else without its extra buffer types, with a
    warning that says how to rebuild, and answers."""
    from edgeqwen.backends import amx, llamacpp

    ll = bindings()
    assert amx.has_amx_kernels(ll) is (b"AMX_INT8 = 1" in ll.llama_print_system_info())
    loads, checked = [], []
    real_load = ll.llama_model_load_from_file

    def load(path, params):
        loads.append(params.use_extra_bufts)
        return real_load(path, params)

    def verdict(_ll, vocabulary):
        checked.append(vocabulary)
        return amx.AmxVerdict(
            works, "logits agree" if works else "they crash the process (SIGSEGV) on the first prompt"
        )

    monkeypatch.setattr(amx, "has_amx_kernels", lambda _ll: True)
    monkeypatch.setattr(amx, "verdict", verdict)
    monkeypatch.setattr(ll, "llama_model_load_from_file", load)
    if works:
        bot = Assistant(backend="llamacpp", model="demo", max_tokens=8)
    else:
        with pytest.warns(llamacpp.AmxBuildWarning, match=r"SIGSEGV.*tools/setup.sh.*-fno-dse"):
            bot = Assistant(backend="llamacpp", model="demo", max_tokens=8)
    assert loads == [works] and checked == [demo_gguf_path()]
    assert bot.chat("Name a colour.").text.strip()


@pytest.mark.parametrize("kernels", ["amx", "none", "failed"])
def test_the_memory_check_counts_the_copy_llama_cpps_amx_kernels_hold(monkeypatch, kernels):
    """With working AMX kernels llama.cpp holds a tied embedding twice (the lookup's, and the output
    matrix in their buffer): the check before loading counts it, and only then."""
    from edgeqwen import InsufficientMemoryError
    from edgeqwen.backends import amx, llamacpp
    from edgeqwen.catalog import amx_copy_bytes
    from edgeqwen.probe.planner import ONNX_OVERHEAD, RAM_MARGIN

    monkeypatch.setattr(amx, "has_amx_kernels", lambda _ll: kernels != "none")
    monkeypatch.setattr(amx, "verdict", lambda _ll, _v: amx.AmxVerdict(kernels == "amx", "x"))
    info = read_gguf_info(demo_gguf_path())
    copy = amx_copy_bytes(info.vocab_size, info.hidden, info.quantization)
    assert copy == info.vocab_size * info.hidden * 8.5 / 8  # Q4_1's embedding, at 8.5 bits
    need = info.weights_bytes + ONNX_OVERHEAD + info.kv_bytes_per_token(2) * 512
    ram = int((need + copy // 2) / RAM_MARGIN)  # room for the file, not for the copy
    if kernels == "amx":
        with pytest.raises(InsufficientMemoryError):
            LlamaCppBackend(demo_gguf_path(), context_length=512, ram_available=ram)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", llamacpp.AmxBuildWarning)
            LlamaCppBackend(demo_gguf_path(), context_length=512, ram_available=ram).close()


def test_threads_leave_the_cores_a_neighbour_keeps_busy(tmp_path, monkeypatch):
    """Before each answer the backend looks at how many cores other processes used since its last
    look (/proc/stat minus its own CPU time) and runs that many fewer threads, at least one."""
    from edgeqwen.backends import threads
    from edgeqwen.backends.threads import BusyCores, threads_for

    assert [threads_for(4, x) for x in (0.0, 0.4, 0.6, 1.0, 2.7, 9.0)] == [4, 4, 3, 3, 1, 1]
    stat = tmp_path / "stat"
    clock = iter([100.0, 101.0, 101.2, 103.0])
    monkeypatch.setattr(threads.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(threads.os, "times", lambda: (1.0, 0.0, 0.0, 0.0, 0.0))  # this process: idle
    ticks = threads.os.sysconf("SC_CLK_TCK")

    def machine(busy_s: float) -> None:  # user nice system idle iowait ...
        stat.write_text(f"cpu  {int(busy_s * ticks)} 0 0 {10**6} 0 0 0 0 0 0\n")

    machine(0.0)
    busy = BusyCores(stat)
    machine(1.0)  # one core busy for the 1 s since
    assert busy.others() == pytest.approx(1.0, abs=0.02)
    assert busy.others() is None  # 0.2 s later: too soon to say
    machine(1.0)
    assert busy.others() == pytest.approx(0.0)  # then idle for 2 s
    assert BusyCores(tmp_path / "missing").others() is None


def test_the_model_drops_a_thread_for_a_busy_neighbour(tiny_ggufs):
    class Busy:
        def __init__(self, values):
            self.values = iter(values)

        def others(self):
            return next(self.values)

    model = LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=64, threads=2).model
    assert model._busy is None and model.threads_used == 2  # threads given: left alone
    model._busy = Busy([1.0, None, 0.0])
    model.prefill(PROMPT[:8])
    assert model.threads_used == 1
    model.prefill(PROMPT[:9])
    assert model.threads_used == 1  # no new look: unchanged
    model.prefill(PROMPT[:10])
    assert model.threads_used == 2
    assert LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=64).model._busy is not None


def test_a_model_decoded_from_other_threads_keeps_one_team_of_workers(tiny_ggufs):
    """llama.cpp's OpenMP keeps a team of workers per thread that ever computed, and past one
    team per CPU it sleeps between steps (a third of the speed from an AsyncAssistant's thread
    than from the one that loaded the model). Decoding from other threads, while
    they live, must add no workers: every computing call runs on llama.cpp's one thread."""
    import os

    def threads() -> int:
        return len(os.listdir("/proc/self/task"))

    model = LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=64, threads=2).model
    model.prefill(PROMPT[:8])
    before = threads()
    hold = threading.Event()
    others = []
    for length in (9, 10):  # one after the other (a model answers one call at a time), each kept alive
        decoded = threading.Event()

        def decode(length: int = length, decoded: threading.Event = decoded) -> None:
            model.prefill(PROMPT[:length])
            decoded.set()
            hold.wait(30)

        others.append(threading.Thread(target=decode))
        others[-1].start()
        assert decoded.wait(30)
    during = threads()
    hold.set()
    [t.join() for t in others]
    assert during == before + 2  # the two callers themselves, no worker of theirs


def test_one_pass_check_gives_each_positions_own_logits(demo):
    """Prompt lookup's check: the logits after each of several tokens fed at once are those of
    feeding them one by one (bit for bit on the machines here at this window; llama.cpp's kernels
    for one row and for several may round differently, so within rounding)."""
    model = demo.model
    ids = demo.tokenizer.encode("The quick brown fox jumps over the lazy dog. " * 3)
    follow = demo.tokenizer.encode(" The quick brown fox")
    model.reset()
    model.prefill(ids)
    rows = model.verify(follow)
    assert rows.shape == (len(follow), model.n_vocab) and model.tokens == ids + follow
    model.rewind(len(ids))
    one = np.stack([model.decode(t).copy() for t in follow])
    assert np.abs(rows - one).max() < 0.01 * np.abs(one).max()
    assert (rows.argmax(axis=1) == one.argmax(axis=1)).all()
    model.rewind(len(ids))
    last = model.verify(follow, 2)  # after forced tokens: only the rows that judge guesses
    # bit for bit on x86; on arm64 (tools/arm64/check.sh, a Pi 5's kernels) a batch with fewer
    # output rows rounds in the last bits (11.550215 against 11.550214)
    assert last.shape == (2, model.n_vocab) and np.abs(last - rows[-2:]).max() < 1e-4 * np.abs(rows).max()
    assert (last.argmax(axis=1) == rows[-2:].argmax(axis=1)).all()


@pytest.mark.parametrize("which", ["qwen3-f32", "demo"])
def test_prompt_lookup_writes_the_same_greedy_answer(tiny_ggufs, which):
    from edgeqwen.generation_config import GenerationConfig
    from edgeqwen.runtime.loop import stream_generate

    path = demo_gguf_path() if which == "demo" else tiny_ggufs[which]
    backend = LlamaCppBackend(path, context_length=512)
    text = "Copy this list exactly: apples, pears, plums, cherries, apples, pears, plums, cherries."
    prompt = backend.template.encode(backend.tokenizer, backend.template.render([Message("user", text)]))
    answers = {}
    for width in (0, 4):
        backend.model.reset()
        config = GenerationConfig(max_tokens=48, prompt_lookup=width)
        chunks = list(stream_generate(backend.model, backend.tokenizer, prompt, config, (), backend.stop_token_ids))
        answers[width] = ([c.token for c in chunks if c.token is not None], chunks[-1].metrics)
        # the cache holds every token fed: all of an answer that stopped (its stop token is not
        # fed), all but the last of one cut at max_tokens
        stopped = chunks[-1].metrics.finish_reason == "stop"
        assert backend.model.tokens == prompt + answers[width][0][: None if stopped else -1]
    plain, guessed = answers[0][0], answers[4][0]
    if guessed != plain:
        # llama.cpp computes a position in a pass of several rows with other kernels than alone
        # (from a few thousand cache cells on, docs/performance.md "Prompt lookup"): answers may
        # part only where the model's two best tokens were within rounding of each other
        at = next(i for i, (a, b) in enumerate(zip(plain, guessed, strict=False)) if a != b)
        backend.model.reset()
        logits = backend.model.prefill(prompt + plain[:at])
        best = np.sort(logits)[-2:]
        assert best[1] - best[0] < 1.0, (at, best)
    assert answers[4][1].drafted_tokens > 0 and answers[0][1].drafted_tokens == 0
    if which == "demo":  # real weights copy the list; a random model's answer quotes nothing
        assert answers[4][1].accepted_tokens >= 10
    backend.close()


def test_a_long_prompt_on_llama_cpp_stops_inside_a_batch_when_cancelled(tiny_ggufs, monkeypatch):
    """llama.cpp reads a prompt 512 tokens a call, minutes for one on a small CPU: its abort
    callback, set while a prefill may be cancelled, stops inside the batch running; the batches
    finished stay cached and the same prompt again reads only the rest, as a fresh prefill would.
    Decoding after it is not stopped by an event left set."""
    import edgeqwen.backends.llama_model as llama_model
    from edgeqwen.errors import GenerationCancelled
    from edgeqwen.runtime.loop import prefill

    model = LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=512).model
    model._batch_size = 64  # batches a test can count
    prompt = list(range(100, 400))
    fresh = model.prefill(prompt).copy()
    model.reset()
    event, calls = threading.Event(), []
    real = llama_model.on_llama_thread

    def counting(fn, on_interrupt=None):
        out = real(fn, on_interrupt)
        calls.append(out)
        if len(calls) == 3:  # two batches of the prompt read (after the callback was set): hang up
            event.set()
        return out

    monkeypatch.setattr(llama_model, "on_llama_thread", counting)
    with pytest.raises(GenerationCancelled, match="after 128 of 300"):
        prefill(model, prompt, event)
    assert model.tokens == prompt[:128] and calls[3] == 2  # the third batch aborted (llama_decode: 2)
    assert model.decode(5) is not None and model.tokens == [*prompt[:128], 5]  # the callback is unset
    model.rewind(128)
    resumed = prefill(model, prompt, threading.Event())
    assert model.last_reused == 128 and model.tokens == prompt
    np.testing.assert_allclose(resumed, fresh, atol=1e-4)
    model.close()


def test_a_batch_llama_cpp_fails_leaves_the_cache_as_counted_and_the_prompt_can_be_read_again(tiny_ggufs, monkeypatch):
    """llama_decode failing on a prompt's third batch (out of memory for its compute buffer): the
    error says so, and what the model counts as cached is what llama.cpp holds, the two batches
    before it, so the same prompt sent again is read, with a fresh read's logits."""
    import edgeqwen.backends.llama_model as llama_model
    from edgeqwen.errors import EdgeQwenError

    model = LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=512).model
    model._batch_size = 64
    prompt = list(range(100, 400))
    fresh = model.prefill(prompt).copy()
    model.reset()
    decodes = []
    real = llama_model.on_llama_thread

    def third_fails(fn, on_interrupt=None):
        decodes.append(fn)
        return -3 if len(decodes) == 3 else real(fn, on_interrupt)  # -3: llama.cpp's compute failure

    monkeypatch.setattr(llama_model, "on_llama_thread", third_fails)
    with pytest.raises(EdgeQwenError, match="llama_decode returned -3"):
        model.prefill(prompt)
    assert model.tokens == prompt[:128]
    monkeypatch.setattr(llama_model, "on_llama_thread", real)
    np.testing.assert_allclose(model.prefill(prompt), fresh, atol=1e-4)
    assert model.last_reused == 128
    model.close()


def test_a_prompt_being_scored_on_llama_cpp_stops_inside_a_batch_when_cancelled(tiny_ggufs, monkeypatch):
    """Scoring (every position's logits) reads 128 tokens a call: a client gone stops the call
    running, as a prompt's read stops, and the prompt scores as before after it."""
    import edgeqwen.backends.llama_model as llama_model
    from edgeqwen.errors import GenerationCancelled
    from edgeqwen.runtime.loop import prefill_all

    model = LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=512).model
    prompt = list(range(100, 400))
    fresh: list = []
    prefill_all(model, prompt, lambda row: fresh.append(row.copy()))
    event, calls = threading.Event(), []
    real = llama_model.on_llama_thread

    def counting(fn, on_interrupt=None):
        out = real(fn, on_interrupt)
        calls.append(out)
        if len(calls) == 2:  # the callback set, the first batch read: hang up
            event.set()
        return out

    monkeypatch.setattr(llama_model, "on_llama_thread", counting)
    read: list = []
    with pytest.raises(GenerationCancelled, match="after 128 of the prompt's 300 tokens were scored"):
        prefill_all(model, prompt, read.append, event)
    assert len(read) == 128 and calls[2] == 2  # the second batch aborted (llama_decode: 2)
    monkeypatch.setattr(llama_model, "on_llama_thread", real)
    again: list = []
    prefill_all(model, prompt, lambda row: again.append(row.copy()), threading.Event())
    np.testing.assert_allclose(np.stack(again), np.stack(fresh), atol=1e-4)
    model.close()


def test_ctrl_c_while_a_prompt_is_read_on_llama_cpp_stops_the_batch_and_keeps_the_ones_before(tiny_ggufs, monkeypatch):
    """`edgeqwen chat`'s Ctrl-C during a long prompt waited for the batch running to end (a minute
    on a Pi) before it stopped: now the batch is asked to stop (the abort callback), and the cache
    keeps the batches before it, so a next prompt reads as a fresh one would."""
    import edgeqwen.backends.llama_model as llama_model
    from edgeqwen.runtime.loop import prefill

    model = LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=512).model
    model._batch_size = 64
    prompt = list(range(100, 400))
    fresh = model.prefill(prompt).copy()
    model.reset()
    real, calls = llama_model.on_llama_thread, []

    def ctrl_c_during_the_second_batch(fn, on_interrupt=None):
        if len(calls) == 2 and on_interrupt is not None:  # the callback set, the first batch read
            on_interrupt()  # what on_llama_thread does when Ctrl-C comes while fn runs
            calls.append(real(fn))
            raise KeyboardInterrupt
        calls.append(real(fn))
        return calls[-1]

    monkeypatch.setattr(llama_model, "on_llama_thread", ctrl_c_during_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        prefill(model, prompt, threading.Event())
    assert calls[2] == 2 and model.tokens == prompt[:64]  # the second batch stopped (llama_decode: 2)
    assert not model._interrupted
    monkeypatch.setattr(llama_model, "on_llama_thread", real)
    np.testing.assert_allclose(model.prefill(prompt), fresh, atol=1e-4)
    assert model.last_reused == 64
    model.close()
