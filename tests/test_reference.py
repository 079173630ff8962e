"""Our ONNX path against two references on the tiny random-weight Qwen2 and Qwen3 models:
transformers' fp32 forward pass of the same weights, and onnxruntime-genai's own generator."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
onnx = pytest.importorskip("onnx")

from hf_reference import exact_rope_tables, rope_tables, transformers_model  # noqa: E402

from edgeqwen.backends.onnx import OnnxBackend  # noqa: E402

PROMPT = [9707, 0, 6567, 107, 243, 101049, 0, 16, 488, 220, 16, 284, 220, 17] * 3
ARCHS = ("qwen2", "qwen3")


def hf_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


def our_logits(folder, ids, split=5):
    """Prefill the first ``split`` tokens, then decode the rest one at a time (exercises the KV cache)."""
    model = OnnxBackend(folder).model
    rows = [model.prefill(ids[:split])]
    rows += [model.decode(t) for t in ids[split:]]
    # prefill returns only the last row; compare from there on
    return np.stack(rows)


def dequantized_hf(hf_dir, onnx_dir):
    """The HF model with every Linear replaced by the weights the ONNX build actually holds
    (MatMulNBits: 4-bit codes, zero point 8, one fp32 scale per 32-weight block; the lm_head's
    8-bit codes, zero point 128)."""
    from onnx import numpy_helper

    model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    graph = onnx.load(str(onnx_dir / "model.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in graph.graph.initializer}

    def weight(prefix):
        if prefix + ".MatMul.weight_Q8" in inits:  # [N, blocks, block] bytes
            q = inits[prefix + ".MatMul.weight_Q8"]
            codes, zero = q.astype(np.float32), 128.0
        else:  # [N, blocks, block/2] packed nibbles
            q = inits[prefix + ".MatMul.weight_Q4"]
            codes = np.stack([q & 0x0F, q >> 4], axis=-1).reshape(q.shape[0], q.shape[1], -1).astype(np.float32)
            zero = 8.0
        scales = inits[prefix + ".MatMul.weight_scales"].reshape(q.shape[0], q.shape[1], 1)
        return torch.from_numpy(((codes - zero) * scales).reshape(q.shape[0], -1))

    cfg = model.config
    head = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    q_out, kv_out = cfg.num_attention_heads * head, cfg.num_key_value_heads * head
    with torch.no_grad():
        for i, layer in enumerate(model.model.layers):
            qkv = weight(f"model.layers.{i}.attn.qkv_proj")
            layer.self_attn.q_proj.weight.copy_(qkv[:q_out])
            layer.self_attn.k_proj.weight.copy_(qkv[q_out : q_out + kv_out])
            layer.self_attn.v_proj.weight.copy_(qkv[q_out + kv_out :])
            layer.self_attn.o_proj.weight.copy_(weight(f"model.layers.{i}.attn.o_proj"))
            for name in ("gate_proj", "up_proj", "down_proj"):
                getattr(layer.mlp, name).weight.copy_(weight(f"model.layers.{i}.mlp.{name}"))
        model.lm_head.weight.copy_(weight("lm_head"))  # tied: the embedding is the same 8-bit matrix
    return model


@pytest.mark.parametrize("arch", ARCHS)
def test_fp32_build_matches_transformers_exactly(tiny_models, arch):
    paths = tiny_models[arch]
    ref = hf_logits(transformers_model(paths["hf"], paths["fp32"]), PROMPT)
    ours = our_logits(paths["fp32"], PROMPT)
    # Same fp32 weights and RoPE tables, same math: only summation order differs.
    np.testing.assert_allclose(ours, ref[4:], atol=1e-4 * float(np.abs(ref).max()), rtol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_the_builds_rope_tables_are_the_configs_cosines(tiny_models, arch):
    """The tables the reference above borrows: the cosines and sines of the config's theta and head
    size at every position. fp32 angles put them 1.8e-5 off at 2,048 positions (one build was seen
    1.5e-4 off, hf_reference says); a wrong theta or head size is off by O(1)."""
    for precision in ("fp32", "int4"):
        cos, sin = rope_tables(tiny_models[arch][precision])
        exact_cos, exact_sin = exact_rope_tables(tiny_models[arch]["hf"], len(cos))
        assert cos.shape == exact_cos.shape == (2048, 8)
        assert np.abs(cos - exact_cos).max() < 1e-3 and np.abs(sin - exact_sin).max() < 1e-3


@pytest.mark.parametrize("arch", ARCHS)
def test_int4_build_matches_transformers_on_the_same_weights(tiny_models, arch):
    """Tolerance: with the int4 weights dequantized into transformers, the only difference left is
    accuracy_level=4 (MatMulNBits quantizes activations to int8 per block: relative error ~1/254 per
    value, growing through the layers). We allow 5% of the logits' spread (RMS), and the top token
    must agree wherever the reference's top-2 margin is over twice the largest error in that row.
    The same build against the *original* fp32 weights differs by ~40% RMS on this random model
    (int4 weight error alone), which is why that comparison is not the test."""
    paths = tiny_models[arch]
    ref = hf_logits(dequantized_hf(paths["hf"], paths["int4"]), PROMPT)[4:]
    ours = our_logits(paths["int4"], PROMPT)
    err = np.abs(ours - ref)
    rel_rms = np.sqrt((err**2).mean()) / ref.std()
    assert rel_rms < 0.05, rel_rms
    top2 = np.sort(ref, axis=-1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 2 * err.max(axis=-1)  # no error this size can swap them
    assert clear.sum() >= 3
    assert (ours.argmax(-1) == ref.argmax(-1))[clear].all()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("precision", ["int4", "fp32"])
def test_greedy_tokens_match_onnxruntime_genai(tiny_models, arch, precision):
    og = pytest.importorskip("onnxruntime_genai")
    from edgeqwen import GenerationConfig
    from edgeqwen.runtime.loop import stream_generate

    folder = tiny_models[arch][precision]
    prompt = PROMPT[:20]
    n = 24
    model = og.Model(str(folder))
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=len(prompt) + n, min_length=0)
    gen = og.Generator(model, params)
    gen.append_tokens(np.array(prompt, dtype=np.int32))
    theirs = []
    while not gen.is_done() and len(theirs) < n:
        gen.generate_next_token()
        theirs.append(int(gen.get_next_tokens()[0]))
    backend = OnnxBackend(folder)
    chunks = list(stream_generate(backend.model, backend.tokenizer, prompt, GenerationConfig(max_tokens=n)))
    ours = [c.token for c in chunks if c.token is not None]
    k = len(theirs)  # the genai generator stops early on its EOS ids
    assert k >= 1 and ours[:k] == theirs


@pytest.mark.parametrize("build", ["fp32", "int4"])
@pytest.mark.parametrize("arch", ARCHS)
def test_rewritten_graph_gives_the_same_logits(tiny_models, arch, build, monkeypatch):
    """Prefill runs a rewritten graph (logits for the last position only; for int4, the tied
    embedding reads the lm_head's file bytes directly instead of a Reshape that onnxruntime would
    fold into a second copy). Its logits must be the original graph's last row."""
    import onnx

    import edgeqwen.backends.onnx as onnx_backend
    from edgeqwen.backends.graph import prepare_graph
    from edgeqwen.model import read_model_info

    folder = tiny_models[arch][build]
    info = read_model_info(folder)
    original = onnx.load(str(info.onnx_file), load_external_data=False).graph
    rewritten = prepare_graph(info)[0].graph

    def reshaped_weights(graph):
        external = {t.name for t in graph.initializer if t.external_data}
        return [n.name for n in graph.node if n.op_type == "Reshape" and n.input[0] in external]

    if build == "int4":  # tied embeddings: GatherBlockQuantized over the lm_head's int4 weight
        assert reshaped_weights(original) and not reshaped_weights(rewritten)
    fast = OnnxBackend(folder).model
    assert fast.session.get_outputs()[0].shape[1] == "logit_positions"  # the rewritten graph is in use
    monkeypatch.setattr(onnx_backend, "prepare_graph", lambda info: None)
    full = OnnxBackend(folder).model
    assert full.session.get_outputs()[0].shape[1] != "logit_positions"
    np.testing.assert_allclose(fast.prefill(PROMPT), full.prefill(PROMPT), atol=1e-5)
    np.testing.assert_allclose(fast.decode(PROMPT[0]), full.decode(PROMPT[0]), atol=1e-5)


def test_prefill_steps_shrink_at_long_context_without_changing_logits(tiny_models, monkeypatch):
    """Prefill runs the prompt in steps of ``prefill_chunk`` tokens, fewer once a step's attention
    scores would pass ATTENTION_SCRATCH. The logits must not depend on how the prompt is cut."""
    import edgeqwen.backends.onnx as onnx_backend

    folder = tiny_models["qwen2"]["int4"]
    whole = OnnxBackend(folder).model
    whole.prefill_chunk = len(PROMPT)
    expected = whole.prefill(PROMPT)
    model = OnnxBackend(folder).model
    model.prefill_chunk = 16
    heads = model.info.num_heads
    assert heads > model.info.num_kv_heads  # read from genai_config.json (GQA)
    monkeypatch.setattr(onnx_backend, "ATTENTION_SCRATCH", 4 * heads * 40 * 8)  # 8 tokens x 40 keys
    monkeypatch.setattr(onnx_backend, "MIN_CHUNK", 1)
    assert model.chunk_at(0) == 16  # 16 queries x 32 keys fit
    assert model.chunk_at(24) == 8
    assert model.chunk_at(10_000) == 1  # never below MIN_CHUNK
    steps = []
    run = model._run
    monkeypatch.setattr(model, "_run", lambda ids, cancel=None: steps.append(len(ids)) or run(ids, cancel=cancel))
    np.testing.assert_allclose(model.prefill(PROMPT), expected, atol=1e-5)
    assert sum(steps) == len(PROMPT) and steps[0] == 16 and min(steps) < 16


@pytest.mark.parametrize("build", ["fp32", "int4"])
def test_one_pass_check_gives_each_positions_logits_on_onnx(tiny_models, build, monkeypatch):
    """Prompt lookup's check on ONNX: the rewritten graph's LOGITS_FROM asks for the last k
    positions; each row must be what feeding the tokens one by one gives (int4: onnxruntime's
    one-row kernel rounds otherwise, so within rounding and the same best token). The original
    graph, every position's logits read back, checks the same way."""
    import edgeqwen.backends.onnx as onnx_backend

    folder = tiny_models["qwen2"][build]
    tol = 1e-4 if build == "fp32" else 0.05
    models = [OnnxBackend(folder).model]
    monkeypatch.setattr(onnx_backend, "prepare_graph", lambda info: None)
    models.append(OnnxBackend(folder).model)
    follow = PROMPT[:5]
    for model in models:
        model.prefill(PROMPT)
        rows = model.verify(follow)
        assert model.tokens == PROMPT + follow
        model.rewind(len(PROMPT))
        one = np.stack([model.decode(t).copy() for t in follow])
        assert rows.shape == one.shape
        scale = float(np.abs(one).max())
        assert np.abs(rows - one).max() < tol * scale
        assert (rows.argmax(axis=1) == one.argmax(axis=1)).all()
        after = model.decode(PROMPT[0]).copy()  # the bindings are back to one position
        assert after.shape == one[0].shape
        model.rewind(len(PROMPT))
        last = model.verify(follow, 2)  # after forced tokens: only the rows that judge guesses
        assert last.shape == (2, *one.shape[1:]) and np.abs(last - rows[-2:]).max() < 1e-4 * scale


@pytest.mark.parametrize("build", ["fp32", "int4"])
def test_prompt_lookup_on_onnx_writes_the_answer_without_it(tiny_models, build, monkeypatch):
    """The loop's check on ONNX, with guesses forced: all right (each taken, a pass of four rows
    every step) and all wrong (each replaced, the cache rewound). A random model quotes nothing,
    so the guesses come from the answer written without them, or from a token it never writes."""
    import edgeqwen.runtime.loop as loop
    from edgeqwen.runtime.sampling import make_judge, make_sampler

    model = OnnxBackend(tiny_models["qwen2"][build]).model

    def answer(lookup=None):
        model.reset()
        steps = loop.generate_step(model, PROMPT, make_sampler(0.0), (), 24, None, lookup)
        return [t for t, _ in steps]

    plain = answer()
    for guesses, taken in ((lambda at: plain[at : at + 3], True), (lambda at: [7, 7, 7], False)):
        monkeypatch.setattr(
            loop,
            "find_draft",
            lambda tokens, width, g=guesses: np.array(g(len(tokens) - len(PROMPT))[:width], dtype=np.int64),
        )
        lookup = loop.Lookup(3, make_judge(0.0))
        guessed = answer(lookup)
        assert model.tokens == PROMPT + guessed[:-1]
        assert lookup.drafted > 0 and (lookup.accepted > 0) == taken
        if build == "fp32":
            assert guessed == plain
        else:  # onnxruntime's int4 kernels for one row and for several round differently
            assert guessed[:4] == plain[:4]
