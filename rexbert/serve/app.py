"""The HTTP server: OpenAI-compatible embeddings, fill-mask, health and Prometheus metrics.

    POST /v1/embeddings  {"input": "text" | ["text", …], "model"?, "encoding_format"?: "float"|"base64",
                          "dimensions"?}  →  {"object": "list", "data": [{"object": "embedding",
                          "index": i, "embedding": [...]}], "model": …, "usage": {…}}
    POST /fill-mask      {"inputs": "text with [MASK]" | [...], "top_k"?: 5}  →  candidates as
                          transformers' fill-mask pipeline returns them
    GET  /health         model, backend, dimensions, limits, queue depth
    GET  /metrics        requests by route and status, latency histograms, batches (Prometheus text)

Every refusal is JSON `{"error": {"message": one line, "type": …}}` with a 4xx status (503 when
the queue is full); nothing a client sends can stop the server.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rexbert.serve.batching import Batcher, Job, QueueFull
from rexbert.serve.config import ServeConfig
from rexbert.serve.metrics import Metrics

log = logging.getLogger(__name__)
ROUTES = ("/v1/embeddings", "/fill-mask", "/health", "/metrics")


class ApiError(Exception):
    """A request the server refuses: HTTP status, one-line message, OpenAI-style error type."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


class EmbeddingsRequest(BaseModel):
    """OpenAI's embeddings request; unknown fields (e.g. `user`) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    input: Any = None
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None


class FillMaskRequest(BaseModel):
    """The fill-mask request of transformers' inference API: `inputs` and `top_k`."""

    model_config = ConfigDict(extra="forbid")
    inputs: Any = None
    top_k: int = Field(5, ge=1, le=100)


def _texts(value: Any, field: str, max_texts: int) -> list[str]:
    """The request's texts, or the first reason they are not acceptable."""
    texts = [value] if isinstance(value, str) else value
    if value is None:
        raise ApiError(400, f"'{field}' is missing: send a string or a list of strings")
    if not isinstance(texts, list):
        raise ApiError(400, f"'{field}' must be a string or a list of strings, not {type(value).__name__}")
    if not texts:
        raise ApiError(400, f"'{field}' is an empty list: send at least one text")
    if len(texts) > max_texts:
        raise ApiError(400, f"'{field}' has {len(texts)} texts; this server takes at most {max_texts} per "
                            "request (--max-texts)")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ApiError(400, f"'{field}'[{index}] is {type(text).__name__}, not a string (token arrays "
                                "are not accepted)")
        if not text.strip():
            raise ApiError(400, f"'{field}'[{index}] is empty")
    return texts


def _rust_tokenizer(tokenizer, max_length: int | None):
    """A copy of the fast tokenizer's Rust core that truncates at `max_length` (None: never) and
    never pads, or None. Called directly it costs a third less per request than the
    transformers wrapper, and gives the same ids (the wrapper drives this same core)."""
    core = getattr(tokenizer, "backend_tokenizer", None)
    if core is None:
        return None
    copy = type(core).from_str(core.to_str())
    copy.no_padding()
    if max_length is None:
        copy.no_truncation()
    else:
        copy.enable_truncation(max_length)
    return copy


class Server:
    """The backend, its tokenizer and limits, the batcher and the metrics of one app."""

    def __init__(self, backend, tokenizer, cfg: ServeConfig, model_name: str):
        self.backend, self.tokenizer, self.cfg, self.model_name = backend, tokenizer, cfg, model_name
        self.max_length = min(cfg.max_length, backend.max_positions)
        self._encoder = _rust_tokenizer(tokenizer, self.max_length if cfg.over_length == "truncate" else None)
        self.metrics = Metrics()
        self.batcher = Batcher(self._run, cfg.max_batch_tokens, cfg.max_wait_ms / 1000, cfg.max_queue,
                               on_batch=lambda kind, jobs: self.metrics.batch(
                                   kind, len(jobs), sum(len(j.token_lists) for j in jobs)))

    def tokenize(self, texts: list[str], field: str) -> list[list[int]]:
        """Token ids per text, truncated to the limit or refused above it (`over_length`)."""
        if self._encoder is not None:
            encode = getattr(self._encoder, "encode_batch_fast", self._encoder.encode_batch)  # no offsets
            ids = [encoding.ids for encoding in encode(texts)]
        else:
            truncate = self.cfg.over_length == "truncate"
            ids = self.tokenizer(texts, truncation=truncate, max_length=self.max_length if truncate else None,
                                 verbose=False)["input_ids"]
        for index, tokens in enumerate(ids):
            if len(tokens) > self.max_length:
                raise ApiError(400, f"'{field}'[{index}] is {len(tokens)} tokens, over this server's limit "
                                    f"of {self.max_length}; shorten it")
        return ids

    def _run(self, kind: str, jobs: list[Job]) -> list[Any]:
        """One model call over every text of `jobs` (in the worker thread); results per job."""
        token_lists = [ids for job in jobs for ids in job.token_lists]
        if kind == "embed":
            merged = list(self.backend.embed(token_lists))
        else:
            merged = self.backend.mask_logits(token_lists, [p for job in jobs for p in job.extra])
        results, start = [], 0
        for job in jobs:
            results.append(merged[start: start + len(job.token_lists)])
            start += len(job.token_lists)
        return results

    async def submit(self, job: Job) -> Any:
        try:
            return await self.batcher.submit(job)
        except QueueFull as err:
            raise ApiError(503, f"server busy ({err}); retry later", "server_busy") from None

    async def embeddings(self, request: EmbeddingsRequest) -> dict[str, Any]:
        texts = _texts(request.input, "input", self.cfg.max_texts)
        if request.dimensions is not None and request.dimensions != self.backend.dimensions:
            raise ApiError(400, f"this model returns {self.backend.dimensions} dimensions; leave out "
                                f"'dimensions' or pass {self.backend.dimensions}")
        ids = self.tokenize(texts, "input")
        vectors = await self.submit(Job("embed", ids))
        data = [{"object": "embedding", "index": i, "embedding": _encode_vector(v, request.encoding_format)}
                for i, v in enumerate(vectors)]
        tokens = sum(len(t) for t in ids)
        return {"object": "list", "data": data, "model": self.model_name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    async def fill_mask(self, request: FillMaskRequest) -> Any:
        texts = _texts(request.inputs, "inputs", self.cfg.max_texts)
        ids = self.tokenize(texts, "inputs")
        mask_id = self.tokenizer.mask_token_id
        positions = [[i for i, t in enumerate(tokens) if t == mask_id] for tokens in ids]
        for index, found in enumerate(positions):
            if not found:
                raise ApiError(400, f"'inputs'[{index}] has no {self.tokenizer.mask_token} (after truncation to "
                                    f"{self.max_length} tokens); put it where a word should be predicted")
        logits = await self.submit(Job("fill_mask", ids, extra=positions))
        results = [self._candidates(t, p, x, request.top_k) for t, p, x in zip(ids, positions, logits, strict=True)]
        return results[0] if isinstance(request.inputs, str) else results

    def _candidates(self, ids: list[int], positions: list[int], logits: np.ndarray, top_k: int) -> list:
        """Per mask the top-k tokens, as transformers' fill-mask pipeline lists them."""
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        single = len(positions) == 1
        groups = []
        for row, position in enumerate(positions):
            best = np.argsort(-probs[row])[:top_k]
            group = []
            for token in best.tolist():
                filled = list(ids)
                filled[position] = token
                group.append({"score": float(probs[row, token]), "token": token,
                              "token_str": self.tokenizer.decode([token]),
                              "sequence": self.tokenizer.decode(filled, skip_special_tokens=single)})
            groups.append(group)
        return groups[0] if single else groups

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "model": self.model_name, "backend": self.backend.name,
                "precision": self.cfg.precision, "dimensions": self.backend.dimensions,
                "max_length": self.max_length, "max_texts": self.cfg.max_texts,
                "queued": len(self.batcher.pending)}


def _encode_vector(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":  # what OpenAI's client asks for by default: little-endian float32
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector.astype(float).tolist()


def _error(status: int, message: str, kind: str):
    from fastapi.responses import JSONResponse

    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status, headers=headers)


def _validation_message(err) -> str:
    problem = err.errors()[0] if err.errors() else {"msg": "invalid request", "loc": ()}
    if problem.get("type") == "json_invalid":
        return f"request body is not valid JSON ({problem.get('ctx', {}).get('error', 'parse error')})"
    where = ".".join(str(p) for p in problem.get("loc", ()) if p != "body")
    return f"'{where}': {problem['msg']}" if where else str(problem["msg"])


class CountRequests:
    """ASGI middleware: every response's route, status and time into the metrics (a plain ASGI
    wrapper: Starlette's BaseHTTPMiddleware costs more per request than the model call of a title)."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]

        async def record_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope["path"] if scope["path"] in ROUTES else "other"
            self.metrics.request(route, status[0], time.perf_counter() - start)


def _parse(model: type[BaseModel], body: bytes) -> BaseModel:
    """A request model from the raw body: json.loads and one pydantic validation, without
    FastAPI's body machinery (a third of the per-request cost of a title apart from the model)."""
    from pydantic import ValidationError

    try:
        data = json.loads(body)
    except ValueError as err:  # JSONDecodeError, or bytes that are not UTF-8
        raise ApiError(400, f"request body is not valid JSON ({str(err).splitlines()[0]})") from None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ApiError(400, _validation_message(err)) from None


def _json(content: Any):
    """A JSON response serialised once with json.dumps (FastAPI's encoder walks every float)."""
    from fastapi.responses import Response

    return Response(json.dumps(content, ensure_ascii=False), media_type="application/json")


def create_app(server: Server):
    """The FastAPI app around a `Server`."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import PlainTextResponse
    from starlette.exceptions import HTTPException

    @contextlib.asynccontextmanager
    async def lifespan(app):
        server.batcher.start()
        yield
        await server.batcher.stop()

    app = FastAPI(title="rexbert", lifespan=lifespan)
    app.state.server = server
    app.add_middleware(CountRequests, metrics=server.metrics)

    def unexpected(request, err):  # one failed request answers 500; the server goes on
        log.error("request to %s failed: %s", request.url.path, err, exc_info=err)
        return _error(500, "internal error while answering this request; see the server log", "server_error")

    app.add_exception_handler(ApiError, lambda request, err: _error(err.status, err.message, err.kind))
    app.add_exception_handler(RequestValidationError, lambda request, err: _error(
        400, _validation_message(err), "invalid_request_error"))
    app.add_exception_handler(HTTPException, lambda request, err: _error(
        err.status_code, str(err.detail), "invalid_request_error"))
    app.add_exception_handler(Exception, unexpected)

    # Plain Starlette routes (the handler gets the request): the body is parsed and validated
    # once by `_parse`, not again by FastAPI's dependency machinery.
    async def embeddings(request):
        return _json(await server.embeddings(_parse(EmbeddingsRequest, await request.body())))

    async def fill_mask(request):
        return _json(await server.fill_mask(_parse(FillMaskRequest, await request.body())))

    app.add_route("/v1/embeddings", embeddings, methods=["POST"])
    app.add_route("/fill-mask", fill_mask, methods=["POST"])
    app.get("/health")(server.health)
    app.get("/metrics", response_class=PlainTextResponse)(
        lambda: PlainTextResponse(server.metrics.render(len(server.batcher.pending)),
                                  media_type="text/plain; version=0.0.4"))
    return app


def serve(cfg: ServeConfig, model: str | Path) -> None:
    """Load `model` on the configured backend and answer HTTP requests until interrupted."""
    import uvicorn

    from rexbert.serve.backends import load_backend

    backend, tokenizer = load_backend(model, cfg.backend, cfg.precision, cfg.device, cfg.max_batch_tokens,
                                      cfg.normalize, cfg.threads)
    name = cfg.model_name or Path(model).resolve().name
    server = Server(backend, tokenizer, cfg, name)
    print(f"rexbert serve: {name} on the {backend.name} backend ({cfg.precision}, {backend.dimensions} "
          f"dimensions) at http://{cfg.host}:{cfg.port} — POST /v1/embeddings, POST /fill-mask, "
          "GET /health, GET /metrics", flush=True)
    uvicorn.run(create_app(server), host=cfg.host, port=cfg.port, log_level="warning", access_log=False)
