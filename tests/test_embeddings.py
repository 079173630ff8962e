"""Text embeddings (``Embedder``, ``/v1/embeddings``) on the tiny random Qwen3, checked against
transformers computing Qwen3-Embedding's last-token pooling on the same weights."""

from __future__ import annotations

import json
import shutil
import threading
import time

import httpx
import numpy as np
import openai
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edgeqwen import Assistant, Embedder, InvalidRequestError, ModelNotFoundError
from edgeqwen.cli import main
from edgeqwen.embeddings import END, normalize, query_text
from edgeqwen.errors import GenerationCancelled
from edgeqwen.server import BackgroundServer
from edgeqwen.server.embeddings import EmbeddingsRequest, EmbeddingWorker, parse_embeddings_request
from edgeqwen.server.worker import QueueFullError
from edgeqwen.testing import FakeBackend

TEXTS = ["The capital of France is Paris.", "Gravity pulls things down.", "Paris is in France."]


@pytest.fixture(scope="module")
def embedder(tiny_ggufs) -> Embedder:
    pytest.importorskip("llama_cpp")  # the tiny GGUF is read by llama.cpp
    with Embedder(str(tiny_ggufs["qwen3-f32"]), context_length=64) as e:
        yield e


def _reference(hf_dir, text: str) -> np.ndarray:
    """Qwen3-Embedding's model card: the text's tokens and <|endoftext|>, the last position of the
    model's last hidden state (after the final norm), scaled to length 1."""
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(hf_dir)
    model = transformers.AutoModel.from_pretrained(hf_dir, dtype=torch.float32)
    ids = tok(text, add_special_tokens=False)["input_ids"] + [tok.convert_tokens_to_ids(END)]
    with torch.no_grad():
        state = model(torch.tensor([ids])).last_hidden_state[0, -1].numpy()
    return state / np.linalg.norm(state)


@given(arrays(np.float32, (3, 16), elements=st.floats(-1e3, 1e3, width=32)), st.integers(1, 16))
def test_normalize_gives_unit_rows_of_the_first_dimensions(rows, dims):
    out = normalize(rows, dims)
    assert out.shape == (3, dims) and out.dtype == np.float32
    for row, cut in zip(rows[:, :dims], out, strict=True):
        if np.linalg.norm(row) > 1e-3:
            assert abs(np.linalg.norm(cut) - 1) < 1e-4
            assert np.allclose(cut * np.linalg.norm(row), row, atol=1e-2)
        else:
            assert np.all(np.isfinite(cut))  # a zero row stays finite, never NaN


def test_query_text_is_the_model_cards_format():
    assert query_text("capital of France?", "Find it") == "Instruct: Find it\nQuery:capital of France?"
    assert query_text("a document", None) == "a document"


def test_llamacpp_and_onnx_vectors_are_transformers_last_token_pooling(embedder, tiny_models):
    vectors = embedder.embed_many(TEXTS)
    assert vectors.shape == (3, embedder.dimensions) == (3, 64)
    for text, row in zip(TEXTS, vectors, strict=True):
        assert np.abs(row - _reference(tiny_models["qwen3"]["hf"], text)).max() < 1e-3
    with Embedder(str(tiny_models["qwen3"]["fp32"]), context_length=64) as onnx:
        assert onnx.dimensions == 64
        assert np.abs(onnx.embed_many(TEXTS) - vectors).max() < 1e-3


def test_a_gguf_that_declares_last_token_pooling_gives_the_same_vectors(embedder, tiny_models, tmp_path):
    """Qwen3-Embedding's GGUF says ``qwen3.pooling_type = 3`` (last token): llama.cpp then pools the
    hidden states itself unless told not to, and the position read was not the text's (0.34 off)."""
    from make_test_models import write_gguf

    pooled = write_gguf(tiny_models["qwen3"]["hf"], tmp_path / "pooled.gguf", "f32", pooling=3)
    with Embedder(str(pooled), context_length=64) as declared:
        assert np.array_equal(declared.embed_many(TEXTS), embedder.embed_many(TEXTS))


def test_a_texts_vector_does_not_depend_on_what_was_embedded_before(embedder):
    alone = embedder.embed(TEXTS[2])
    embedder.embed("Paris is in France, and so is Lyon.")  # shares a prefix a cache would reuse
    assert np.array_equal(embedder.embed(TEXTS[2]), alone)


def test_an_instruction_is_read_before_the_query_and_dimensions_cut_and_rescale(embedder):
    tokenizer = embedder.backend.tokenizer
    ids = embedder.tokens("capital?", instruction="Find it")
    assert ids == [*tokenizer.encode("Instruct: Find it\nQuery:capital?"), tokenizer.token_id(END)]
    assert not np.allclose(embedder.embed("capital?", instruction="Find it"), embedder.embed("capital?"))
    short = embedder.embed(TEXTS[0], dimensions=8)
    assert short.shape == (8,) and abs(np.linalg.norm(short) - 1) < 1e-5
    assert np.allclose(short, normalize(embedder.embed(TEXTS[0])[:8]))
    # typed control tokens are text: a document cannot end its own input early
    assert embedder.tokens(f"a {END} b")[:-1] == tokenizer.encode(f"a {END} b")


def test_bad_input_is_refused_with_what_to_do(embedder):
    with pytest.raises(InvalidRequestError, match="empty"):
        embedder.embed("")
    with pytest.raises(InvalidRequestError, match="at most 64.*Split it into chunks"):
        embedder.embed("word " * 100)
    cut = embedder.tokens("word " * 100, truncate=True)  # asked for: the end is cut off, the closing token kept
    assert (
        len(cut) == 64
        and cut[-1] == embedder.tokens("x")[-1]
        and cut[:10] == embedder.tokens("word " * 100 + "!", truncate=True)[:10]
    )
    assert np.allclose(embedder.embed("word " * 100, truncate=True), next(embedder.vectors([cut])))
    with pytest.raises(InvalidRequestError, match="from 1 to 64"):
        embedder.embed("x", dimensions=65)
    with pytest.raises(InvalidRequestError, match="list of texts"):
        embedder.embed_many("one text")
    assert embedder.embed_many([]).shape == (0, 64)


def test_a_long_text_split_by_the_embedder_embeds_chunk_by_chunk(embedder):
    long = "\n\n".join(
        f"Note {i}: the boiler pressure should read 1.{i} bar. Call the engineer if not." for i in range(12)
    )
    with pytest.raises(InvalidRequestError, match="Split it into chunks"):
        embedder.embed(long)
    chunks = embedder.split(long)  # at most context_length - 1 = 63 tokens by default: the closing token fits
    assert "".join(chunks) == long and all(chunk.endswith("\n\n") for chunk in chunks[:-1])
    assert embedder.embed_many(chunks).shape == (len(chunks), 64)
    with pytest.raises(InvalidRequestError, match="more than this embedding model reads") as caught:
        embedder.split(long, max_tokens=64)
    assert caught.value.param == "max_tokens"


def test_embed_iter_gives_each_vector_as_it_comes_after_checking_every_text(embedder, monkeypatch):
    read = []
    real = embedder.backend.hidden_state
    monkeypatch.setattr(embedder.backend, "hidden_state", lambda ids, stop=None: read.append(ids) or real(ids, stop))
    with pytest.raises(InvalidRequestError, match=r"input\[2\]: The text to embed is empty") as caught:
        embedder.embed_iter([TEXTS[0], TEXTS[1], ""])
    assert caught.value.param == "input[2]" and read == []  # nothing was read for a request that fails
    vectors = embedder.embed_iter(TEXTS, dimensions=16)
    first = next(vectors)
    assert len(read) == 1 and first.shape == (16,)  # the first came before the others were read
    assert np.allclose(np.stack([first, *vectors]), embedder.embed_many(TEXTS, dimensions=16))


def test_the_default_window_is_8192_or_what_the_model_and_free_memory_hold(tiny_ggufs, tiny_models):
    from edgeqwen.sidemodel import side_context as default_context

    for model in (tiny_ggufs["qwen3-f32"], tiny_models["qwen3"]["fp32"]):
        assert default_context(model, available=2**40) == 2048  # the tiny model reads 2,048 at most
        assert default_context(model, available=50 * 2**20) == 1024  # little free memory: the planner's least


def test_a_models_role_is_checked_by_name_before_anything_loads(tiny_ggufs, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    with pytest.raises(InvalidRequestError, match="not an embedding model.*qwen3-embedding-0.6b"):
        Embedder("qwen2.5-1.5b-instruct")
    with pytest.raises(InvalidRequestError, match="cannot answer.*Embedder"):
        Assistant("qwen3-embedding-0.6b")
    with pytest.raises(ModelNotFoundError, match="edgeqwen pull qwen3-embedding-0.6b --backend llamacpp"):
        Embedder()
    # installed as `edgeqwen pull qwen3-embedding-0.6b --backend llamacpp` installs it
    pytest.importorskip("llama_cpp")  # the rest loads the tiny GGUF
    folder = tmp_path / "models" / "qwen3-embedding-0.6b-gguf"
    folder.mkdir(parents=True)
    shutil.copy(tiny_ggufs["qwen3-f32"], folder / "Qwen3-Embedding-0.6B-Q8_0.gguf")
    said: list[str] = []
    with Embedder(context_length=64, announce=said.append) as found:
        assert found.name == "qwen3-embedding-0.6b-gguf" and found.embed("x").shape == (64,)
    assert said == ["Embedding with Qwen3-Embedding-0.6B (text embeddings)"]
    with pytest.raises(InvalidRequestError, match="cannot answer"):
        Assistant("qwen3-embedding-0.6b-gguf")


def test_the_probe_never_recommends_an_embedding_model():
    from probe_fixtures import load

    from edgeqwen.probe import plan

    for machine in ("pi5-8gb", "pi4-4gb"):
        candidates = plan(load(machine)).candidates
        assert candidates and all(c.model != "qwen3-embedding-0.6b" for c in candidates)


def test_parse_embeddings_request_refuses_what_would_embed_wrongly():
    asked = parse_embeddings_request({"model": "m", "input": ["a", "b"], "dimensions": 8, "encoding_format": "base64"})
    assert asked == EmbeddingsRequest("m", ("a", "b"), 8, "base64", True)
    assert not parse_embeddings_request({"input": "a"}).listed  # errors name input, not input[0]
    cases = [
        ({"input": [1, 2, 3]}, "input[0]", "tiktoken"),  # LangChain's default: another tokenizer's ids
        ({"input": [[1, 2], [3]]}, "input[0]", "token ids"),
        ({"input": ["a", ""]}, "input[1]", "empty"),
        ({"input": []}, "input", "non-empty"),
        ({"input": "a", "encoding_format": "int8"}, "encoding_format", "float"),
        ({"input": "a", "dimensions": 0}, "dimensions", ">= 1"),
        ({"input": ["a"] * 2049}, "input", "at most 2048"),
    ]
    for body, param, words in cases:
        with pytest.raises(InvalidRequestError, match=words) as caught:
            parse_embeddings_request(body)
        assert caught.value.param == param


@pytest.fixture(scope="module")
def served(embedder):
    bot = Assistant(backend=FakeBackend(), policy="none")
    with BackgroundServer(bot, embedder=embedder) as server:
        yield server


def test_openai_client_gets_the_libraries_vectors(served, embedder):
    client = openai.OpenAI(base_url=served.base_url, api_key="none")
    # the client asks for base64 unless told, and decodes it
    got = client.embeddings.create(model="text-embedding-3-small", input=TEXTS)
    assert [d.index for d in got.data] == [0, 1, 2]
    assert np.allclose(np.array([d.embedding for d in got.data]), embedder.embed_many(TEXTS), atol=1e-6)
    assert got.usage.prompt_tokens == sum(len(embedder.tokens(t)) for t in TEXTS)
    floats = client.embeddings.create(model="m", input=TEXTS[0], encoding_format="float", dimensions=16)
    assert np.allclose(floats.data[0].embedding, embedder.embed(TEXTS[0], dimensions=16), atol=1e-6)
    ids = [m.id for m in client.models.list().data]
    assert ids == ["fake", embedder.name] and client.models.retrieve(embedder.name).id == embedder.name
    counted = httpx.get(f"{served.url}/metrics", params={"format": "json"}, timeout=30).json()
    assert counted["side_items"]["embedding"] >= len(TEXTS) + 1 and counted["side_tokens"]["embedding"] > 0


def test_http_errors_name_the_field(served):
    def post(body) -> httpx.Response:
        return httpx.post(f"{served.base_url}/embeddings", json=body, timeout=30)

    too_long = post({"model": "m", "input": ["fine", "word " * 100]})
    assert too_long.status_code == 400 and too_long.json()["error"]["param"] == "input[1]"
    assert "Split it into chunks" in too_long.json()["error"]["message"]
    one = post({"model": "m", "input": "word " * 100})  # one text, not a list: its place is "input"
    assert one.status_code == 400 and one.json()["error"]["param"] == "input"
    assert one.json()["error"]["message"].startswith("input: The text is")
    wide = post({"model": "m", "input": "x", "dimensions": 65})
    assert wide.status_code == 400 and wide.json()["error"]["param"] == "dimensions"
    ids = post({"model": "m", "input": [[9707, 1879]]})
    assert ids.status_code == 400 and "check_embedding_ctx_length=False" in ids.json()["error"]["message"]


def test_text_embeddings_inference_clients_get_the_libraries_vectors(served, embedder):
    """huggingface_hub's feature_extraction posts TEI's body to the base URL (Haystack's
    TEI embedders); LlamaIndex's TextEmbeddingsInference posts it to /embed.
    Both were a 404 or 405."""
    from huggingface_hub import InferenceClient

    from edgeqwen.embeddings import RETRIEVAL

    client = InferenceClient(base_url=served.url)
    assert np.allclose(client.feature_extraction(TEXTS), embedder.embed_many(TEXTS), atol=1e-6)
    query = client.feature_extraction(TEXTS[0], prompt_name="query")  # the card's query prompt
    assert np.allclose(query[0], embedder.embed(TEXTS[0], instruction=RETRIEVAL), atol=1e-6)
    long = "word " * 100
    cut = httpx.post(f"{served.url}/embed", json={"inputs": long, "truncate": True}, timeout=30).json()
    assert np.allclose(cut[0], embedder.embed(long, truncate=True), atol=1e-6)
    # normalize false (Haystack's TEI embedders send it unless told; it was a 400): the state unscaled
    raw = np.array(httpx.post(f"{served.url}/embed", json={"inputs": TEXTS[0], "normalize": False}).json()[0])
    assert abs(np.linalg.norm(raw) - 1) > 1e-3 and np.allclose(raw / np.linalg.norm(raw), embedder.embed(TEXTS[0]))
    for body, param in (({"inputs": ["fine", long]}, "inputs[1]"), ({"inputs": "x", "normalize": 0}, "normalize"),
                        ({"inputs": "x", "prompt_name": "passage"}, "prompt_name"), ({"input": "x"}, "inputs"),
                        ({"inputs": "x", "truncation_direction": "Left"}, "truncation_direction")):  # fmt: skip
        r = httpx.post(f"{served.url}/embed", json=body, timeout=30)
        assert r.status_code == 400 and r.json()["error"]["param"] == param, (body, r.text)
    # text_generation posts TGI's generate to the same URL: text comes back, never a vector
    assert isinstance(client.text_generation("The capital of France is", max_new_tokens=4), str)
    mixed = httpx.post(f"{served.url}/embed", json={"inputs": "x", "parameters": {}}, timeout=30)
    assert mixed.status_code == 400 and "/generate" in mixed.json()["error"]["message"]


ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=24)  # lone surrogates too
BODY = st.fixed_dictionaries(
    {
        "input": st.one_of(
            ANY_TEXT,
            st.lists(st.one_of(ANY_TEXT, st.integers(), st.lists(st.integers(), max_size=3), st.none()), max_size=3),
            st.none(),
            st.integers(),
        )
    },
    optional={
        "dimensions": st.one_of(st.integers(-2, 80), st.booleans(), st.text(max_size=3), st.none()),
        "encoding_format": st.one_of(st.sampled_from(["float", "base64"]), ANY_TEXT),
        "model": st.one_of(ANY_TEXT, st.integers()),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODY)
def test_any_body_gets_vectors_or_a_400_naming_the_field(served, body):
    raw = json.dumps(body, ensure_ascii=True)  # lone surrogates travel as \\ud800 escapes
    r = httpx.post(f"{served.base_url}/embeddings", content=raw, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        error = r.json()["error"]
        assert error["message"] and (error["param"] or "").split("[")[0] in ("input", "dimensions", "encoding_format")
    else:
        assert len(r.json()["data"]) == (1 if isinstance(body["input"], str) else len(body["input"]))


def test_a_server_without_an_embedding_model_says_how_to_add_one():
    with BackgroundServer(Assistant(backend=FakeBackend(), policy="none")) as server:
        r = httpx.post(f"{server.base_url}/embeddings", json={"model": "m", "input": "x"}, timeout=30)
        ollama = httpx.post(f"{server.url}/api/embed", json={"input": "x"}, timeout=30)  # no model named either
    assert r.status_code == 404 and "--embeddings qwen3-embedding-0.6b" in r.json()["error"]["message"]
    assert ollama.status_code == 404 and "--embeddings qwen3-embedding-0.6b" in ollama.json()["error"]


class _Slow:
    """An Embedder stand-in whose every text waits for ``gate``."""

    name = "slow"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.read: list[str] = []

    def token_lists(self, texts: list[str], instruction: str | None = None, truncate: bool = False) -> list[list[int]]:
        return [[0] * len(text) for text in texts]

    def vectors(self, ids: list[list[int]], dimensions: int | None = None, unit: bool = True, cancel=None):
        for one in ids:
            self.gate.wait(10)
            if cancel is not None and cancel.is_set():  # as a model reading the text stops
                raise GenerationCancelled("stopped inside the text")
            self.read.append(len(one))
            yield np.ones(4, dtype=np.float32) / 2


def test_the_line_is_bounded_and_a_request_whose_client_left_stops_inside_the_text_being_read():
    import asyncio

    slow = _Slow()
    worker = EmbeddingWorker(slow, max_queue=0)  # type: ignore[arg-type]

    async def scenario() -> None:
        first = asyncio.ensure_future(worker.embed(EmbeddingsRequest("m", ("a", "bb", "ccc"))))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFullError, match="--max-queue"):
            await worker.embed(EmbeddingsRequest("m", ("x",)))
        first.cancel()  # the client hung up while its first text was read
        with pytest.raises(asyncio.CancelledError):
            await first
        slow.gate.set()
        vectors, tokens = await worker.embed(EmbeddingsRequest("m", ("dddd",)))
        assert vectors.shape == (1, 4) and tokens == 4

    asyncio.run(scenario())
    deadline = time.monotonic() + 5
    while len(slow.read) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slow.read == [len("dddd")]  # "a" stopped while it was read, "bb" and "ccc" never begun
    worker.close()


def test_a_server_shutting_down_stops_the_text_being_read_and_refuses_the_next():
    import asyncio

    slow = _Slow()
    worker = EmbeddingWorker(slow, max_queue=4)  # type: ignore[arg-type]

    class Down(Exception):
        pass

    async def scenario() -> None:
        first = asyncio.ensure_future(worker.embed(EmbeddingsRequest("m", ("a", "bb"))))
        await asyncio.sleep(0.05)
        worker.stop_all(Down("shutting down"))
        slow.gate.set()
        with pytest.raises(Down):
            await first
        with pytest.raises(Down):
            await worker.embed(EmbeddingsRequest("m", ("c",)))

    asyncio.run(scenario())
    assert slow.read == []  # "a" stopped inside, "bb" and "c" never begun
    worker.close()


@pytest.mark.parametrize("backend", ["llamacpp", "onnx"])
def test_a_cancel_stops_the_text_being_read_and_the_next_vector_is_as_before(embedder, tiny_models, backend):
    """A client gone while one long text is read (32K tokens take minutes on a Pi) stops it, and
    what the model read of it changes no later vector."""

    def check(model: Embedder) -> None:
        ids = [model.tokens("a text " * 20)]
        before = next(model.vectors(ids))
        gone = threading.Event()
        gone.set()
        with pytest.raises(GenerationCancelled):
            next(model.vectors(ids, cancel=gone))
        np.testing.assert_allclose(next(model.vectors(ids, cancel=threading.Event())), before, atol=1e-5)

    if backend == "llamacpp":
        check(embedder)
    else:
        with Embedder(str(tiny_models["qwen3"]["fp32"]), context_length=512) as onnx:
            check(onnx)


def test_serve_refuses_a_chat_model_as_the_embedding_model_before_loading_anything():
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--embeddings", "qwen2.5-1.5b-instruct"])
    assert result.exit_code == 2 and "not an embedding model" in result.output


def test_a_file_known_by_its_geometry_as_the_embedding_model_is_not_loaded_to_answer(monkeypatch):
    import edgeqwen.backends as backends
    from edgeqwen.backends.base import BasicInfo

    closed = []

    class Embedding(FakeBackend):
        def close(self) -> None:
            closed.append(True)

    def load(name, path, **options):
        fake = Embedding()
        fake.info = BasicInfo("qwen3-embedding-0.6b", None, fake.info.vocab_size, 4096)
        return fake

    monkeypatch.setattr(backends, "load_backend", load)
    with pytest.raises(InvalidRequestError, match="cannot answer"):
        Assistant("demo")  # a path or name that resolves to a file gguf.py names by its geometry
    assert closed == [True]


def test_pull_installs_the_publishers_gguf_and_the_embedder_takes_it(tiny_ggufs, tmp_path, monkeypatch):
    from fakehub import FakeHub

    from edgeqwen.catalog import get_model

    build = get_model("qwen3-embedding-0.6b").builds["gguf"]
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    # an embedding model has no int4 ONNX build: both ways of asking for one name the GGUF instead
    for extra in ([], ["--convert"]):
        wrong = CliRunner().invoke(main, ["pull", "qwen3-embedding-0.6b", *extra])
        assert wrong.exit_code == 1 and "--backend llamacpp" in wrong.output and "None" not in wrong.output
    pytest.importorskip("llama_cpp")  # a GGUF is pulled for llama.cpp, and loaded
    with FakeHub(build["repo"], {build["file"]: tiny_ggufs["qwen3-f32"]}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        result = CliRunner().invoke(main, ["pull", "qwen3-embedding-0.6b", "--backend", "llamacpp"])
        assert result.exit_code == 0, result.output
    with Embedder(context_length=64) as found:
        assert found.name == "qwen3-embedding-0.6b-gguf" and found.embed("x").shape == (64,)


def test_embed_command_prints_a_json_vector_a_line(embedder, tiny_ggufs):
    model = str(tiny_ggufs["qwen3-f32"])
    result = CliRunner().invoke(main, ["embed", "-m", model, TEXTS[0], "-", "--dimensions", "8"], input=TEXTS[1])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert np.allclose(rows, embedder.embed_many(TEXTS[:2], dimensions=8), atol=1e-6)
    query = CliRunner().invoke(main, ["embed", "-m", model, "-i", "Find it", "capital?"])
    assert np.allclose(json.loads(query.stdout), embedder.embed("capital?", instruction="Find it"), atol=1e-6)
    twice = CliRunner().invoke(main, ["embed", "-m", model, "-", "-"], input="x")
    assert twice.exit_code == 2 and "one text" in twice.output
    long = "\n\n".join(f"Paragraph {i}: the boiler should read 1.{i} bar." for i in range(20))
    split = CliRunner().invoke(main, ["embed", "-m", model, "--split", "24", "-"], input=long)
    assert split.exit_code == 0, split.output
    rows = [json.loads(line) for line in split.stdout.splitlines()]
    assert [r["text"] for r in rows] == embedder.split(long, max_tokens=24) and len(rows) > 1
    assert np.allclose([r["embedding"] for r in rows], embedder.embed_many([r["text"] for r in rows]), atol=1e-6)
    wide = CliRunner().invoke(main, ["embed", "-m", model, "--context-length", "64", "--split", "64", "x"])
    assert wide.exit_code == 2 and "max_tokens=64 is more than" in wide.stderr
    chat = CliRunner().invoke(main, ["embed", "-m", "qwen3-4b", "hi"])
    assert chat.exit_code == 2 and "not an embedding model" in chat.stderr


@pytest.mark.slow
def test_a_checkpoint_in_qwen3_embeddings_layout_converts_to_onnx_and_embeds_the_same(embedder, tiny_models, tmp_path):
    """Qwen3-Embedding's checkpoint is the base model alone (no ``model.`` prefix, no lm_head) under
    architectures ``Qwen3ForCausalLM``: `edgeqwen convert` takes it as it is."""
    import torch
    import transformers

    from edgeqwen.convert import ConvertOptions, convert

    hf = tiny_models["qwen3"]["hf"]
    checkpoint = tmp_path / "hf"
    transformers.Qwen3ForCausalLM.from_pretrained(hf, dtype=torch.float32).model.save_pretrained(checkpoint)
    config = json.loads((checkpoint / "config.json").read_text())
    (checkpoint / "config.json").write_text(json.dumps({**config, "architectures": ["Qwen3ForCausalLM"]}))
    shutil.copy(hf / "tokenizer.json", checkpoint / "tokenizer.json")
    shutil.copy(hf / "tokenizer_config.json", checkpoint / "tokenizer_config.json")
    folder = convert(checkpoint, tmp_path / "onnx", ConvertOptions(precision="fp32"))
    with Embedder(str(folder), context_length=64) as onnx:
        assert np.abs(onnx.embed_many(TEXTS) - embedder.embed_many(TEXTS)).max() < 1e-3


@pytest.mark.parametrize("texts", [None, 5, str, {"a": "b"}, b"text"])
def test_texts_that_are_no_list_are_named(embedder, texts):
    """``embed_many(None)`` and ``embed_iter(5)`` were TypeErrors ("not iterable")."""
    with pytest.raises(InvalidRequestError, match="This takes a list of texts") as caught:
        list(embedder.embed_many(texts))
    assert caught.value.param == "texts"
    with pytest.raises(InvalidRequestError, match="This takes a list of texts"):
        list(embedder.embed_iter(texts))
