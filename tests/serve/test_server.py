"""`rexbert serve` over real HTTP on loopback: every route, batching of concurrent requests,
refusals with one-line reasons, a full queue, and serving on afterwards."""

import asyncio
import base64
import re
import threading

import httpx
import numpy as np
import pytest
import torch

from rexbert.cli.main import build_parser, main
from rexbert.serve.config import ServeConfig

from .conftest import make_server, running

TEXTS = ["red cotton shirt for men", "blue silk dress for women with leather shoes", "watch"]


def _metric(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    assert match, f"{name}{{{labels}}} missing from /metrics"
    return float(match.group(1))


def _reference_embeddings(folder, texts):
    """rexbert's own packed encoder on the same folder, L2-normalised."""
    from transformers import AutoTokenizer

    from rexbert.model.embed import encode
    from rexbert.release.fill_mask import load_any

    model, _ = load_any(folder)
    vectors = encode(model, AutoTokenizer.from_pretrained(str(folder)), texts)
    return torch.nn.functional.normalize(vectors, dim=1).numpy()


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_each_route_answers(model_folder, backend):
    from rexbert.release.api import FillMaskConfig, fill_mask

    server = make_server(model_folder, backend=backend)
    with running(server) as url, httpx.Client(base_url=url, timeout=30) as client:
        response = client.post("/v1/embeddings", json={"input": TEXTS, "model": "tiny"})
        assert response.status_code == 200
        body = response.json()
        assert body["object"] == "list" and body["model"] == "tiny"
        assert [d["index"] for d in body["data"]] == [0, 1, 2] and body["data"][0]["object"] == "embedding"
        vectors = np.array([d["embedding"] for d in body["data"]])
        assert np.abs(vectors - _reference_embeddings(model_folder, TEXTS)).max() <= 1e-4
        assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > len(TEXTS)

        encoded = client.post("/v1/embeddings", json={"input": TEXTS[0], "encoding_format": "base64"}).json()
        decoded = np.frombuffer(base64.b64decode(encoded["data"][0]["embedding"]), dtype="<f4")
        assert np.abs(decoded - vectors[0]).max() <= 1e-6

        masked = "red cotton [MASK] for men"
        answer = client.post("/fill-mask", json={"inputs": masked, "top_k": 3})
        assert answer.status_code == 200
        expected = fill_mask(model_folder, masked, FillMaskConfig(top_k=3))
        assert [c["token"] for c in answer.json()] == [c["token"] for c in expected]
        assert [c["score"] for c in answer.json()] == pytest.approx([c["score"] for c in expected], abs=1e-5)
        assert len(client.post("/fill-mask", json={"inputs": [masked, "[MASK] shirt [MASK]"]}).json()[1]) == 2

        health = client.get("/health").json()
        assert health["status"] == "ok" and health["backend"] == backend and health["dimensions"] == vectors.shape[1]
        metrics = client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert _metric(metrics.text, "rexbert_requests_total", 'route="/v1/embeddings",code="200"') == 2
        assert _metric(metrics.text, "rexbert_request_duration_seconds_count", 'route="/fill-mask"') == 2
        assert _metric(metrics.text, "rexbert_request_duration_seconds_bucket", 'route="/fill-mask",le="+Inf"') == 2


async def _post_all(url, bodies):
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await asyncio.gather(*(client.post("/v1/embeddings", json=body) for body in bodies))


def test_concurrent_requests_are_merged_into_batches(model_folder):
    server = make_server(model_folder, max_wait_ms=400)
    texts = [f"{color} shirt for {who}" for color in ("red", "blue") for who in ("men", "women", "kids", "boys")]
    with running(server) as url:
        responses = asyncio.run(_post_all(url, [{"input": text} for text in texts]))
        metrics = httpx.get(f"{url}/metrics").text
    assert [r.status_code for r in responses] == [200] * len(texts)
    got = np.array([r.json()["data"][0]["embedding"] for r in responses])
    assert np.abs(got - _reference_embeddings(model_folder, texts)).max() <= 1e-4  # each its own answer
    batches = _metric(metrics, "rexbert_batches_total", 'kind="embed"')
    assert batches < len(texts)  # 8 requests, fewer model calls: they were merged
    assert _metric(metrics, "rexbert_batch_requests_count", 'kind="embed"') == batches
    assert _metric(metrics, "rexbert_batch_requests_sum", 'kind="embed"') == len(texts)


BAD_REQUESTS = [
    ("/v1/embeddings", '{"input": []}', "empty list"),
    ("/v1/embeddings", '{"input": ""}', "is empty"),
    ("/v1/embeddings", '{"input": ["ok", 3]}', "not a string"),
    ("/v1/embeddings", '{"input": [[1, 2, 3]]}', "token arrays"),
    ("/v1/embeddings", '{"model": "tiny"}', "missing"),
    ("/v1/embeddings", '{"input": ["a", "b", "c"]}', "at most 2"),
    ("/v1/embeddings", '{"input": "x", "encoding_format": "hex"}', "encoding_format"),
    ("/v1/embeddings", '{"input": "x", "dimensions": 5}', "dimensions"),
    ("/v1/embeddings", '{"input": "red shirt', "not valid JSON"),
    ("/v1/embeddings", "[1, 2]", "valid dictionary"),
    ("/fill-mask", '{"inputs": "no mask here"}', "has no [MASK]"),
    ("/fill-mask", '{"inputs": "a [MASK]", "top_k": 0}', "top_k"),
    ("/v1/embeddings", '{"input": "' + "red shirt " * 40 + '"}', "over this server's limit of 16"),
]


def test_bad_input_gets_a_one_line_400_and_the_server_serves_on(model_folder):
    server = make_server(model_folder, max_texts=2, max_length=16, over_length="refuse")
    with running(server) as url, httpx.Client(base_url=url, timeout=30) as client:
        for route, body, reason in BAD_REQUESTS:
            response = client.post(route, content=body, headers={"content-type": "application/json"})
            assert response.status_code == 400, (body, response.text)
            message = response.json()["error"]["message"]
            assert reason in message and "\n" not in message, (body, message)
        assert client.get("/nowhere").status_code == 404
        assert client.post("/v1/embeddings", json={"input": ["red shirt", "watch"]}).status_code == 200
        metrics = client.get("/metrics").text
    assert _metric(metrics, "rexbert_requests_total", 'route="/v1/embeddings",code="400"') == 11


def test_over_length_texts_are_truncated_when_so_declared(model_folder):
    server = make_server(model_folder, max_length=16, over_length="truncate")
    with running(server) as url:
        body = httpx.post(f"{url}/v1/embeddings", json={"input": "red shirt " * 40}, timeout=30).json()
    assert body["usage"]["prompt_tokens"] == 16


def test_a_full_queue_answers_503_and_the_server_recovers(model_folder):
    server = make_server(model_folder, max_queue=1, max_wait_ms=0)
    entered, release = threading.Event(), threading.Event()
    embed = server.backend.embed

    def held_embed(token_lists):  # the model call waits until the test lets it finish
        entered.set()
        release.wait(30)
        return embed(token_lists)

    server.backend.embed = held_embed

    async def scenario(url):
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            first = asyncio.create_task(client.post("/v1/embeddings", json={"input": "red shirt"}))
            while not entered.is_set():  # the first request is in the model
                await asyncio.sleep(0.01)
            second = asyncio.create_task(client.post("/v1/embeddings", json={"input": "blue dress"}))
            while (await client.get("/health")).json()["queued"] < 1:  # the second one waits
                await asyncio.sleep(0.01)
            third = await client.post("/v1/embeddings", json={"input": "watch"})
            release.set()
            return third, await first, await second, await client.post("/v1/embeddings", json={"input": "watch"})

    with running(server) as url:
        third, first, second, after = asyncio.run(scenario(url))
    assert third.status_code == 503 and "busy" in third.json()["error"]["message"]
    assert third.headers["retry-after"] == "1"
    assert (first.status_code, second.status_code, after.status_code) == (200, 200, 200)


def test_serve_command_defaults_to_loopback_and_checks_the_model(tmp_path, capsys):
    args = build_parser().parse_args(["serve", "--model", str(tmp_path), "--max-wait-ms", "2"])
    assert args.handler is not None
    assert ServeConfig().host == "127.0.0.1"
    assert main(["serve", "--model", str(tmp_path / "missing")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("rexbert: error:") and "missing" in error and "\n" not in error
    assert main(["serve", "--model", str(tmp_path), "--backend", "onnx"]) == 2
    error = capsys.readouterr().err
    assert "has no onnx/model.onnx" in error and error.count("\n") == 1
    assert main(["serve", "--model", str(tmp_path), "--max-queue", "0"]) == 2
    assert "--max-queue" in capsys.readouterr().err


def test_bf16_weights_stay_within_a_hair_of_fp32(model_folder):
    server = make_server(model_folder, precision="bf16")
    assert next(server.backend.model.parameters()).dtype == torch.bfloat16
    with running(server) as url:
        body = httpx.post(f"{url}/v1/embeddings", json={"input": TEXTS}, timeout=30).json()
    vectors = np.array([d["embedding"] for d in body["data"]])
    reference = _reference_embeddings(model_folder, TEXTS)
    cosine = (vectors * reference).sum(1)  # both L2-normalised
    assert cosine.min() > 0.999 and np.abs(vectors - reference).max() > 1e-6  # bf16, and close


def test_precisions_belong_to_their_backends(model_folder):
    from rexbert.errors import UserError

    for backend, precision, hint in (("onnx", "bf16", "torch backend"), ("torch", "int8", "onnx backend")):
        with pytest.raises(UserError, match=hint):
            make_server(model_folder, backend=backend, precision=precision)


@pytest.mark.parametrize("over_length", ["truncate", "refuse"])
def test_token_ids_are_the_tokenizers_own(model_folder, over_length):
    """The server calls the tokenizer's Rust core directly: the ids are what transformers gives."""
    from transformers import AutoTokenizer

    server = make_server(model_folder, max_length=12, over_length=over_length)
    texts = ["red cotton shirt for men", "blue silk dress for women with leather shoes and a steel watch"]
    reference = AutoTokenizer.from_pretrained(str(model_folder))
    if over_length == "truncate":
        assert server.tokenize(texts, "input") == reference(texts, truncation=True, max_length=12)["input_ids"]
    else:
        assert server.tokenize(texts[:1], "input") == reference(texts[:1])["input_ids"]
        with pytest.raises(Exception, match=r"'input'\[1\] is 14 tokens"):
            server.tokenize(texts, "input")
