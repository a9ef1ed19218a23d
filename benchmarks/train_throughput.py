"""Training-loop overhead: tokens/s of the whole loop vs the bare model step on the same batches.

The whole loop is what `rexbert pretrain` runs per step — mixture sampling, best-fit packing,
span masking, tensor conversion, forward/backward, StableAdamW step, metrics bookkeeping. The
peer is the bare model step (forward/backward/optimizer) on the very same packed batches,
prepared in advance. Target: loop overhead ≤ 10%.

    python benchmarks/train_throughput.py [--corpus DIR] [--steps 30] [--preset nano]

Without --corpus it writes a synthetic two-source corpus (general + product-like text) so it
runs anywhere; pass a folder of JSONL/parquet files (e.g. ../shared/data) for real text.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rexbert.data.api import (
    ShardsConfig,
    SpansConfig,
    TokenizerConfig,
    build_shards,
    mine_spans,
    train_tokenizer,
)
from rexbert.data.masking import MaskingConfig
from rexbert.data.shards import ShardSet
from rexbert.data.stream import (
    TokenSpec,
    TrainStream,
    build_components,
    pack_to_batch,
    replacement_ids_for,
)
from rexbert.model.config import preset
from rexbert.model.modeling import RexBertForMaskedLM
from rexbert.train.config import ScheduleSpec
from rexbert.train.optim import build_optimizer
from rexbert.train.schedule import wsd_scheduler

WORDS = ("river history empire music council north study city market season report "
         "people water school science energy travel garden family festival").split()
PRODUCT = ("Acme Zenith Orbit cotton shirt laptop phone shoes navy black size color pack "
           "inch GB ml slim fit waterproof wireless XPS-13 SM-G991B").split()


def synthetic_corpus(root: Path, docs: int = 1500, seed: int = 0) -> list[str]:
    """Two sources of variable-length documents; returns the `--input` values for shards."""
    rng = random.Random(seed)
    for name, vocab, attrs in (("general", WORDS, False), ("ecommerce", PRODUCT, True)):
        (root / name).mkdir(parents=True, exist_ok=True)
        with (root / name / f"{name}_000000.jsonl").open("w") as handle:
            for _ in range(docs):
                words = [rng.choice(vocab) for _ in range(int(rng.lognormvariate(5.0, 0.8)))]
                if attrs:
                    words += ["color:", rng.choice(["navy", "black"]), "size", str(rng.randint(6, 12))]
                handle.write(json.dumps({"text": " ".join(words)}) + "\n")
    return [f"general={root / 'general'}", f"ecommerce={root / 'ecommerce'}"]


def main() -> None:
    """Build data, then time the loop and the bare step on identical batches."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="*", default=None, help="[NAME=]PATH inputs (default: synthetic)")
    parser.add_argument("--preset", default="nano")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch-tokens", type=int, default=8192)
    parser.add_argument("--vocab-size", type=int, default=4096)
    args = parser.parse_args()
    torch.manual_seed(0)
    work = Path(tempfile.mkdtemp(prefix="rexbert-bench-"))
    inputs = args.corpus or synthetic_corpus(work / "corpus")
    from rexbert.sources.documents import DocumentInput

    documents = [DocumentInput(paths=inputs)]
    tok = train_tokenizer(documents, TokenizerConfig(vocab_size=args.vocab_size), work / "tok").info
    build_shards(documents, tok.path, ShardsConfig(), work / "shards", progress=False)
    shards = ShardSet(work / "shards")
    names = shards.source_names
    if "ecommerce" in names:
        mine_spans(work / "shards", ["ecommerce"], [], SpansConfig(min_count=3), progress=False)
        shards = ShardSet(work / "shards")
    groups = {n: [n] for n in names}
    components = build_components(shards, groups, holdout=0)
    token_spec = TokenSpec(tok.cls_token_id, tok.sep_token_id, tok.mask_token_id, tok.special_ids, tok.vocab_size)
    replacement = replacement_ids_for(token_spec)
    masking = MaskingConfig(rate=0.3, mean_span=3.0, guided_share=0.05)

    cfg = preset(args.preset).model.model_copy(update=dict(
        vocab_size=tok.padded_vocab_size, pad_token_id=tok.pad_token_id, cls_token_id=tok.cls_token_id,
        sep_token_id=tok.sep_token_id, mask_token_id=tok.mask_token_id))

    def fresh():
        torch.manual_seed(0)
        model = RexBertForMaskedLM(cfg)
        return model, build_optimizer(model, 1e-3, (0.9, 0.98), 1e-6, 1e-5)

    def step(model, optimizer, batch, lr, with_accuracy=False):
        for group in optimizer.param_groups:
            group["lr"] = lr
        labels = torch.from_numpy(batch.labels)
        out = model(torch.from_numpy(batch.input_ids), torch.from_numpy(batch.cu_seqlens), batch.max_seqlen,
                    labels=labels)
        if with_accuracy:  # the trainer's metrics, on logging steps (every 10 by default)
            with torch.no_grad():
                int((out.logits.argmax(-1) == labels[labels != -100]).sum())
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return out

    def new_stream():
        return TrainStream(components, [1.0] * len(names), None, "constant", 1.0, args.seq_len,
                           args.batch_tokens, seed=0, lookahead=256)

    warmup = 3
    # The two are interleaved step by step (loop step on model A, bare step on model B with the
    # batch the loop just built) so that load changes on a shared machine hit both alike.
    loop_model, loop_optimizer = fresh()
    bare_model, bare_optimizer = fresh()
    stream = new_stream()
    loop_tokens = bare_tokens = 0
    loop_time = bare_time = 0.0
    efficiency = []
    schedule = wsd_scheduler(loop_optimizer, ScheduleSpec(warmup_fraction=0.1), 100)
    for index in range(warmup + args.steps):
        lr = schedule.get_last_lr()[0]
        schedule.step()
        start = time.perf_counter()
        packs = stream.next_packs(1, index / (warmup + args.steps))
        batch = pack_to_batch(packs[0], components, token_spec, masking, np.random.default_rng([0, index]), replacement)
        out = step(loop_model, loop_optimizer, batch, lr, with_accuracy=index % 10 == 0)
        _ = float(out.loss.detach())
        loop_elapsed = time.perf_counter() - start
        start = time.perf_counter()
        step(bare_model, bare_optimizer, batch, lr)
        bare_elapsed = time.perf_counter() - start
        efficiency.append(batch.num_tokens / args.batch_tokens)
        if index >= warmup:
            loop_tokens += batch.num_tokens
            bare_tokens += batch.num_tokens
            loop_time += loop_elapsed
            bare_time += bare_elapsed
    # Data side alone, to show where the overhead lives.
    stream = new_stream()
    start = time.perf_counter()
    for index in range(args.steps):
        packs = stream.next_packs(1, 0.0)
        pack_to_batch(packs[0], components, token_spec, masking, np.random.default_rng([1, index]), replacement)
    data_time = time.perf_counter() - start

    loop_rate, bare_rate = loop_tokens / loop_time, bare_tokens / bare_time
    print(f"preset {args.preset}, vocab {tok.padded_vocab_size}, seq_len {args.seq_len}, "
          f"{args.batch_tokens} tokens/step, {args.steps} timed steps, torch threads {torch.get_num_threads()}")
    print(f"packing efficiency          {np.mean(efficiency):.4f}")
    print(f"bare model step             {bare_rate:10.0f} tokens/s")
    print(f"whole training loop         {loop_rate:10.0f} tokens/s")
    print(f"loop / bare                 {loop_rate / bare_rate:10.3f}  (overhead {1 - loop_rate / bare_rate:+.1%}; target ≤ 10%)")
    print(f"data pipeline alone         {args.steps * args.batch_tokens / data_time:10.0f} tokens/s "
          f"({data_time / args.steps * 1000:.1f} ms/step)")


if __name__ == "__main__":
    main()
