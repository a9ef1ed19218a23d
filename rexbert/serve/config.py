"""Settings of `rexbert serve`: the one place their names, defaults, bounds and help live."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rexbert.config import ConfigModel


class ServeConfig(ConfigModel):
    """How `rexbert serve` listens, which backend runs the model, and how requests are batched."""

    host: str = Field("127.0.0.1", description="address to listen on; 127.0.0.1 keeps the server on "
                                               "this machine, 0.0.0.0 opens it to the network")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0: any free port)")
    backend: Literal["torch", "onnx"] = Field(
        "torch", description="torch: rexbert's model on packed, unpadded batches; onnx: the graphs "
                             "of `rexbert export --format onnx` in MODEL/onnx/ on onnxruntime")
    precision: Literal["fp32", "bf16", "int8"] = Field(
        "fp32", description="fp32; bf16 (torch backend): the weights in bfloat16, about 1.7x "
                            "faster on CPUs with AMX/AVX512-BF16 and on GPUs, embeddings within "
                            "1e-4 cosine of fp32; int8 (onnx backend): the graphs of --quantize int8")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="where the model runs; auto: CUDA when available")
    threads: int | None = Field(None, ge=1, description="compute threads; none: every core")
    max_batch_tokens: int = Field(
        16_384, ge=16, description="token budget of one merged batch: waiting requests join a "
                                   "batch until their tokens reach it")
    max_wait_ms: float = Field(
        5.0, ge=0, le=10_000, description="longest a request waits for others to join its batch "
                                         "(milliseconds) when the budget is not reached")
    max_queue: int = Field(64, ge=1, description="requests waiting for the model; one more is "
                                                 "answered 503 (server busy)")
    max_texts: int = Field(256, ge=1, description="texts in one request; more are refused (400)")
    max_length: int = Field(512, ge=2, description="tokens per text, special tokens included "
                                                   "(capped at the model's maximum positions)")
    over_length: Literal["truncate", "refuse"] = Field(
        "truncate", description="a text longer than --max-length: truncate it, or refuse the "
                                "request (400)")
    normalize: bool = Field(True, description="L2-normalise embeddings as OpenAI's are "
                                              "(--no-normalize: raw mean-pooled vectors)")
    model_name: str | None = Field(None, description="model name in responses; none: the model "
                                                     "folder's name")
