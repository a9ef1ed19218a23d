"""ONNX export of a rexbert encoder, verified against rexbert's own model.

`export_onnx(model_dir, out, cfg)` adds `onnx/` to a transformers folder (what `rexbert export`
writes; a rexbert checkpoint is exported to one first):

    onnx/model.onnx              input_ids, attention_mask [batch, length] → last_hidden_state
                                 [batch, length, H] (zero at padding) and sentence_embedding
                                 [batch, H] (mean over the real tokens)
    onnx/model_fill_mask.onnx    the same inputs → logits [batch, length, V] (masked-LM head)
    onnx/model_qint8.onnx, onnx/model_fill_mask_qint8.onnx
                                 int8 weights, dynamic activation quantization (--quantize int8)
    onnx/export_report.json      the parity and drift figures, also appended to README.md

Batch and length are dynamic. The graph is traced from `PaddedEncoder`, rexbert's layers over
padded batches in the tensor ops ONNX has: positions count the real tokens of a row (left or
right padding), sliding-window layers attend |i − j| ≤ window/2 through a branch on the length
(ONNX `If`): up to 3·(window/2) tokens a band mask over all keys, beyond that query chunks of
window/2 tokens against their neighbouring chunks, so their cost stays linear in the length.
Transformers' generic exports (and serving engines built on them) attend every key on every
layer and have lost the window in practice, which is why rexbert writes its own graph.

Before anything is written, the graphs are run by onnxruntime on inputs of mixed lengths (the
built-in product texts, and random ids at lengths around and above the window up to
`parity_max_length`) and compared with rexbert's packed model: fp32 must stay within
`parity_tolerance`. The int8 graphs report their drift: cosine to fp32 embeddings, and the change
in top-1 masked-token recovery and in similarity Spearman on a small built-in product check.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from rexbert.config import ConfigModel
from rexbert.errors import UserError

log = logging.getLogger(__name__)

ONNX_DIR = "onnx"
ENCODER_FILE = "model.onnx"
FILL_MASK_FILE = "model_fill_mask.onnx"
INT8_SUFFIX = "_qint8"
REPORT_FILE = "export_report.json"
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_KIND = "export"  # the kind of rexbert output a model folder is (rexbert.outputs)
CARD_BEGIN = "<!-- rexbert:onnx -->"
CARD_END = "<!-- /rexbert:onnx -->"

# The built-in drift check: graded query–product pairs (3 exact … 0 irrelevant) whose
# embedding cosines are ranked against the grades, and whose product texts are masked for
# top-1 token recovery. Small on purpose: it measures how far int8 moves the fp32 model, not
# how good the model is.
CHECK_PAIRS: tuple[tuple[str, str, int], ...] = (
    ("running shoes for men", "Men's lightweight running shoes with breathable mesh upper, size 10", 3),
    ("running shoes for men", "Women's trail running shoes, waterproof, size 7", 2),
    ("running shoes for men", "Cotton sports socks, pack of 6", 1),
    ("running shoes for men", "Stainless steel kitchen knife set with wooden block", 0),
    ("wireless earbuds", "True wireless earbuds with charging case and active noise cancellation", 3),
    ("wireless earbuds", "Over-ear wired headphones with 3.5 mm jack", 2),
    ("wireless earbuds", "Silicone ear tips replacement set, small medium large", 1),
    ("wireless earbuds", "Ceramic flower pot with drainage hole, 6 inch", 0),
    ("coffee maker", "12-cup programmable drip coffee maker with glass carafe", 3),
    ("coffee maker", "Single-serve pod coffee machine, black", 2),
    ("coffee maker", "Paper coffee filters, 200 count", 1),
    ("coffee maker", "Children's puzzle book with 100 puzzles", 0),
    ("yoga mat", "Non-slip yoga mat 6 mm thick with carrying strap", 3),
    ("yoga mat", "Foam exercise floor tiles, set of 12", 2),
    ("yoga mat", "Cork yoga block, pair", 1),
    ("yoga mat", "Car phone holder for dashboard air vent", 0),
    ("usb c charger", "65W USB-C wall charger, fast charging for laptops and phones", 3),
    ("usb c charger", "Wireless charging pad for smartphones", 2),
    ("usb c charger", "Braided USB-C to USB-C cable, 2 m", 1),
    ("usb c charger", "Garden hose nozzle with 8 spray patterns", 0),
    ("kids winter jacket", "Boys' hooded winter puffer jacket, water resistant, age 8-9", 3),
    ("kids winter jacket", "Girls' fleece zip-up hoodie, age 6", 2),
    ("kids winter jacket", "Kids' knitted gloves and scarf set", 1),
    ("kids winter jacket", "Bluetooth bathroom scale with app", 0),
)
CHECK_TEXTS: tuple[str, ...] = (
    "This red cotton shirt for men is available in small, medium and large sizes and can be "
    "washed at 40 degrees. The slim fit and the soft collar make it a good choice for the office "
    "as well as for casual weekends.",
    "Stainless steel water bottle, 750 ml, keeps drinks cold for 24 hours and hot for 12 hours; "
    "leak-proof lid, fits most car cup holders.",
)
MASK_EVERY = 4  # every 4th non-special token of a check text is masked (about ModernBERT's 30%)


class OnnxExportConfig(ConfigModel):
    """How `rexbert export` writes the model: the transformers folder, and ONNX graphs beside it."""

    format: Literal["transformers", "onnx"] = Field(
        "transformers",
        description="transformers: the transformers / sentence-transformers folder only; onnx: "
                    "also onnx/model.onnx (embeddings) and onnx/model_fill_mask.onnx (masked-LM "
                    "logits), checked against rexbert's model before they are written")
    quantize: Literal["none", "int8"] = Field(
        "none",
        description="int8: also write int8 graphs (weights int8 per channel, activations "
                    "quantized at run time) and report their measured drift from fp32")
    opset: int = Field(20, ge=18, le=23, description="ONNX opset of the graphs (20: GELU as one op)")
    fill_mask: bool = Field(True, description="also write the masked-LM graph for fill-mask")
    parity_tolerance: float = Field(
        1e-4, gt=0, le=1e-2,
        description="largest |difference| allowed between the fp32 graphs and rexbert's model "
                    "(hidden states, embeddings; logits relative to their scale); beyond it the "
                    "export stops")
    parity_max_length: int = Field(
        1024, ge=8,
        description="longest random input of the parity check (capped at the model's maximum "
                    "positions); raise it to check the full context")


@dataclass(frozen=True)
class OnnxExportResult:
    """What `export_onnx` wrote: the model folder, its graphs, and the measured figures."""

    out: Path
    encoder: Path
    fill_mask: Path | None
    encoder_int8: Path | None
    fill_mask_int8: Path | None
    report: Path
    parity: dict[str, Any]
    drift: dict[str, Any] | None


# ----------------------------------------------------------------------------- the traced module


NEG_BIAS = -3.4028234663852886e38  # float32's lowest finite value: the bias of a masked key


def _key_bias(allowed):
    """Additive attention bias: 0 where a key may be attended, NEG_BIAS elsewhere. Finite, not
    -inf: a padded query whose band holds no real key gets a uniform (discarded) row, not NaN."""
    import torch

    return torch.zeros(allowed.shape, dtype=torch.float32).masked_fill(~allowed, NEG_BIAS)


def _attend(q, k, v, bias):
    """softmax(q·kᵀ + bias)·v over [..., queries, d] (q already scaled)."""
    return ((q @ k.transpose(-1, -2)) + bias).softmax(-1) @ v


def _chunks(x, w: int, width: int):
    """[B, h, L, width] → [B, h, chunks, 3w, width]: for chunk c, chunks c-1, c, c+1 of x padded
    by one chunk of zeros on each side (and to whole chunks)."""
    import torch
    import torch.nn.functional as F

    length = x.shape[2]
    chunks = (length + w - 1) // w
    padded = F.pad(x, (0, 0, w, chunks * w - length + w))
    padded = padded.reshape(x.shape[0], x.shape[1], chunks + 2, w, width)
    return torch.cat([padded[:, :, :-2], padded[:, :, 1:-1], padded[:, :, 2:]], dim=3)


def _band_bias(key_valid, w: int):
    """[B, 1, L, L] bias of sliding-window attention over all keys (short inputs)."""
    import torch

    pos = torch.arange(key_valid.shape[1])
    band = (pos[:, None] - pos[None, :]).abs() <= w
    return _key_bias(band[None, None] & key_valid[:, None, None, :])


def _chunk_bias(key_valid, w: int):
    """[B, 1, chunks, w, 3w] bias of chunked sliding-window attention: query i of chunk c sees
    key j of chunks c-1..c+1 when |i − j| ≤ w and the key is real."""
    import torch

    valid = _chunks(key_valid.to(torch.float32)[:, None, :, None], w, 1)[:, :, :, :, 0] > 0  # [B, 1, n, 3w]
    offsets = torch.arange(3 * w)[None, :] - w
    band = (torch.arange(w)[:, None] - offsets).abs() <= w  # [w, 3w]
    return _key_bias(band[None, None, None] & valid[:, :, :, None, :])


def _chunked_attend(q, k, v, bias, w: int):
    """Sliding-window attention in query chunks of w whose keys are the chunk and its two
    neighbours, which hold every key with |i − j| ≤ w (as rexbert.model.attention on CPU): the
    cost is 3w keys per query whatever the length."""
    import torch.nn.functional as F

    batch, heads, length, d = q.shape
    chunks = (length + w - 1) // w
    pad = chunks * w - length
    qc = F.pad(q, (0, 0, 0, pad)).reshape(batch, heads, chunks, w, d)
    out = _attend(qc, _chunks(k, w, d), _chunks(v, w, d), bias).reshape(batch, heads, chunks * w, d)
    # split (not slicing) keeps the length symbolic as `length`
    return out.split([length, pad], dim=2)[0]


def _rotary_tables(inv_freq, positions):
    """cos and signed sin [B, 1, L, d] for per-row positions [B, L] (as rexbert.model.rotary)."""
    import torch

    freqs = positions.float()[..., None] * inv_freq  # [B, L, d/2]
    emb = torch.cat((freqs, freqs), dim=-1)[:, None]
    sin = emb.sin()
    half = inv_freq.numel()
    return emb.cos(), torch.cat((-sin[..., :half], sin[..., half:]), dim=-1)


def _attention_block(cfg, attn, x, tables, bias, chunked: bool):
    """One attention block over [B, L, H]: q and k rotated together, then global, banded or
    chunked attention with the batch's precomputed bias."""
    from rexbert.model.rotary import apply_rotary

    batch, length, _ = x.shape
    heads, d = cfg.num_heads, cfg.head_dim
    qkv = attn.Wqkv(x).view(batch, length, 3, heads, d).permute(2, 0, 3, 1, 4)  # [3, B, h, L, d]
    qk, v = qkv.split([2, 1])
    q, k = apply_rotary(qk, *tables).unbind(0)
    q = q * d ** -0.5
    if chunked and not attn.is_global:
        out = _chunked_attend(q, k, v[0], bias, cfg.local_attention_window // 2)
    else:
        out = _attend(q, k, v[0], bias)
    return attn.Wo(out.transpose(1, 2).reshape(batch, length, heads * d))


def _layer_stack(mlm, chunked: bool, x, key_valid, global_bias, cos_g, sin_g, cos_l, sin_l):
    """Every encoder layer over [B, L, H]. The whole stack is one branch of an ONNX If on the
    length (chunked local attention above 3·window/2 tokens, a band mask below), so the local
    bias is built once per batch, not per layer."""
    import torch

    w = mlm.config.local_attention_window // 2
    local_bias = _chunk_bias(key_valid, w) if chunked else _band_bias(key_valid, w)
    for layer in mlm.model.layers:
        is_global = layer.attn.is_global
        tables = (cos_g, sin_g) if is_global else (cos_l, sin_l)
        x = x + _attention_block(mlm.config, layer.attn, layer.attn_norm(x), tables,
                                 global_bias if is_global else local_bias, chunked)
        x = x + layer.mlp(layer.mlp_norm(x))
    # a fresh dense tensor, so both branches of the If return the same layout
    return x.clone(memory_format=torch.contiguous_format)


def padded_forward(mlm, input_ids, attention_mask):
    """rexbert's encoder and MLM head over padded [B, L] inputs → (hidden [B, L, H], zero at
    padding; mean-pooled [B, H]; logits [B, L, V]). Positions count each row's real tokens, so
    left and right padding both give the packed model's values."""
    import functools

    import torch
    import torch.nn.functional as F

    encoder = mlm.model
    key_valid = attention_mask > 0
    positions = (attention_mask.cumsum(1) - 1).clamp(min=0)
    tables = (*_rotary_tables(encoder.global_inv_freq, positions), *_rotary_tables(encoder.local_inv_freq, positions))
    operands = (encoder.embeddings(input_ids), key_valid, _key_bias(key_valid[:, None, None, :]), *tables)
    w = mlm.config.local_attention_window // 2
    x = torch.cond(input_ids.shape[1] > 3 * w, functools.partial(_layer_stack, mlm, True),
                   functools.partial(_layer_stack, mlm, False), operands)
    weights = key_valid.to(x.dtype)[..., None]
    hidden = encoder.final_norm(x) * weights
    pooled = hidden.sum(1) / weights.sum(1).clamp(min=1.0)
    logits = F.linear(mlm.head(hidden), encoder.embeddings.tok_embeddings.weight, mlm.decoder_bias)
    return hidden, pooled, logits


def padded_encoder(mlm):
    """An nn.Module running `padded_forward` on a `RexBertForMaskedLM` (what is traced)."""
    from torch import nn

    class PaddedEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlm = mlm

        def forward(self, input_ids, attention_mask):
            return padded_forward(self.mlm, input_ids, attention_mask)

    return PaddedEncoder().eval()


def _trace(model, opset: int):
    """One ONNX program with all three outputs; the graphs keep the outputs they need."""
    import warnings

    import torch

    length = max(8, 3 * (model.config.local_attention_window // 2) + 5)  # both branches traced
    ids = torch.full((2, length), model.config.cls_token_id, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, length // 2:] = 0
    dynamic = torch.export.Dim.DYNAMIC
    shapes = {name: {0: dynamic, 1: dynamic} for name in INPUT_NAMES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter
        program = torch.export.export(padded_encoder(model), (ids, mask), dynamic_shapes=shapes,
                                      strict=False)
        onnx_program = torch.onnx.export(
            program, dynamo=True, input_names=list(INPUT_NAMES), opset_version=opset, optimize=False,
            output_names=["last_hidden_state", "sentence_embedding", "logits"], verbose=False)
    return onnx_program.model_proto


def _keep_outputs(model_proto, names: tuple[str, ...]):
    """A copy of the traced graph with only `names` as outputs, dead nodes removed and
    constants folded (onnxscript's optimizer)."""
    import onnx
    import onnxscript.optimizer

    model = onnx.ModelProto()
    model.CopyFrom(model_proto)
    kept = [output for output in model.graph.output if output.name in names]
    del model.graph.output[:]
    model.graph.output.extend(kept)
    # Size limits off: the traced graph transposes every weight inside the If branches, which
    # must fold into initializers (the int8 quantizer only quantizes products with a constant
    # weight, and onnxruntime would transpose them on every call otherwise).
    return onnxscript.optimizer.optimize(model, input_size_limit=1 << 40, output_size_limit=1 << 40)


# ----------------------------------------------------------------------------- running the graphs


def ort_session(path: Path, threads: int | None = None):
    """An onnxruntime CPU session (all graph optimisations) for one of the exported graphs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def pad_batch(token_lists: list[list[int]], pad_id: int):
    """Right-padded int64 numpy arrays (input_ids, attention_mask) for a list of id lists."""
    import numpy as np

    length = max(len(ids) for ids in token_lists)
    ids = np.full((len(token_lists), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(token_lists), length), dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    return ids, mask


def _reference(model, token_lists: list[list[int]], with_logits: bool) -> dict[str, Any]:
    """rexbert's packed model on the same documents: per-document hidden, pooled, logits."""
    import torch

    from rexbert.model.embed import mean_pool_packed

    lengths = torch.tensor([len(t) for t in token_lists])
    cu = torch.nn.functional.pad(lengths.cumsum(0), (1, 0)).to(torch.int32)
    flat = torch.tensor([t for tokens in token_lists for t in tokens])
    with torch.inference_mode():
        hidden = model.model(flat, cu, int(lengths.max()))
        result = {"hidden": hidden.split(lengths.tolist()), "pooled": mean_pool_packed(hidden, cu)}
        if with_logits:
            result["logits"] = model.decode(hidden).split(lengths.tolist())
    return result


def _parity_batches(model, tokenizer, max_length: int) -> list[list[list[int]]]:
    """Real text, short random documents (band-mask branch) and long ones (chunked branch)."""
    import torch

    cfg = model.config
    w = cfg.local_attention_window // 2
    texts = list(CHECK_TEXTS) + [product for _, product, _ in CHECK_PAIRS[:6]]
    real = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    generator = torch.Generator().manual_seed(0)
    specials = {cfg.pad_token_id, cfg.cls_token_id, cfg.sep_token_id, cfg.mask_token_id}
    ordinary = torch.tensor([i for i in range(cfg.vocab_size) if i not in specials])

    def document(length: int) -> list[int]:
        body = ordinary[torch.randint(len(ordinary), (max(length - 2, 0),), generator=generator)]
        return [cfg.cls_token_id, *body.tolist(), cfg.sep_token_id][:length]

    short = [n for n in (2, 3, w, w + 1, 2 * w + 1, 3 * w) if 2 <= n <= min(3 * w, max_length)]
    long = sorted({n for n in (3 * w + 1, 4 * w + 3, max_length // 2, max_length) if 3 * w < n <= max_length})
    batches = [real, [document(n) for n in short]]
    if long:
        batches.append([document(n) for n in long])
    return batches


def _largest_differences(sessions: dict[str, Any], model, batches, pad_id: int) -> dict[str, float]:
    """Max |Δ| of each graph output against rexbert's model over the parity batches."""
    import numpy as np

    worst = {"last_hidden_state": 0.0, "sentence_embedding": 0.0}
    if "fill_mask" in sessions:
        worst["logits_relative"] = 0.0
    for tokens in batches:
        ids, mask = pad_batch(tokens, pad_id)
        reference = _reference(model, tokens, "fill_mask" in sessions)
        hidden, pooled = sessions["encoder"].run(["last_hidden_state", "sentence_embedding"],
                                                 {"input_ids": ids, "attention_mask": mask})
        worst["sentence_embedding"] = max(worst["sentence_embedding"],
                                          float(np.abs(pooled - reference["pooled"].numpy()).max()))
        logits = sessions["fill_mask"].run(["logits"], {"input_ids": ids, "attention_mask": mask})[0] \
            if "fill_mask" in sessions else None
        for row, row_tokens in enumerate(tokens):
            n = len(row_tokens)
            worst["last_hidden_state"] = max(worst["last_hidden_state"], float(
                np.abs(hidden[row, :n] - reference["hidden"][row].numpy()).max()))
            if logits is not None:
                expected = reference["logits"][row].numpy()
                scale = max(1.0, float(np.abs(expected).max()))
                worst["logits_relative"] = max(worst["logits_relative"], float(
                    np.abs(logits[row, :n] - expected).max()) / scale)
    return worst


# ----------------------------------------------------------------------------- int8 and its drift


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the weight matrix products (per-channel symmetric int8
    weights, uint8 activations quantized at run time). Products of two activations (attention
    scores) stay fp32: quantizing them cost accuracy and little time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
        op_types_to_quantize=["MatMul"],
        extra_options={"MatMulConstBOnly": True, "WeightSymmetric": True, "EnableSubgraph": True},
    )


def _masked_check(tokenizer, mask_id: int):
    """Check texts with every MASK_EVERY-th ordinary token masked: (inputs, masked positions,
    original ids)."""
    texts = list(CHECK_TEXTS) + sorted({product for _, product, _ in CHECK_PAIRS})
    encoded = tokenizer(texts, truncation=True, max_length=512, return_special_tokens_mask=True)
    inputs, positions = [], []
    for ids, special in zip(encoded["input_ids"], encoded["special_tokens_mask"], strict=True):
        ordinary = [i for i, s in enumerate(special) if not s]
        chosen = ordinary[MASK_EVERY // 2::MASK_EVERY] or ordinary[:1]
        inputs.append([mask_id if i in chosen else t for i, t in enumerate(ids)])
        positions.append(chosen)
    return inputs, positions, encoded["input_ids"]


def _top1_recovery(session, inputs, positions, originals, pad_id: int):
    """Share of masked tokens whose top-1 prediction is the original token; the predictions."""
    import numpy as np

    ids, mask = pad_batch(inputs, pad_id)
    logits = session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
    predictions = [int(logits[row, i].argmax()) for row, chosen in enumerate(positions) for i in chosen]
    truth = [originals[row][i] for row, chosen in enumerate(positions) for i in chosen]
    return float(np.mean([p == t for p, t in zip(predictions, truth, strict=True)])), predictions


def _embed(session, tokenizer, texts: list[str], pad_id: int):
    ids, mask = pad_batch(tokenizer(texts, truncation=True, max_length=512)["input_ids"], pad_id)
    return session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0]


def _similarity_spearman(embeddings, grades) -> float:
    import numpy as np
    from scipy.stats import spearmanr

    queries, products = embeddings[0::2], embeddings[1::2]
    cosines = (queries * products).sum(1) / (
        np.linalg.norm(queries, axis=1) * np.linalg.norm(products, axis=1) + 1e-12)
    value = spearmanr(cosines, grades).statistic
    return float(value) if value == value else 0.0  # a constant ranking has no correlation: 0


def measure_drift(fp32: dict[str, Any], int8: dict[str, Any], tokenizer, cfg_model) -> dict[str, Any]:
    """How far the int8 graphs move from fp32 on the built-in check."""
    import numpy as np

    pad = cfg_model.pad_token_id
    texts = [text for query, product, _ in CHECK_PAIRS for text in (query, product)] + list(CHECK_TEXTS)
    a, b = _embed(fp32["encoder"], tokenizer, texts, pad), _embed(int8["encoder"], tokenizer, texts, pad)
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
    grades = [grade for _, _, grade in CHECK_PAIRS]
    pairs = len(CHECK_PAIRS) * 2
    drift: dict[str, Any] = {
        "texts": len(texts),
        "embedding_cosine_mean": float(cosine.mean()),
        "embedding_cosine_min": float(cosine.min()),
        "spearman_fp32": _similarity_spearman(a[:pairs], grades),
        "spearman_int8": _similarity_spearman(b[:pairs], grades),
    }
    drift["spearman_change"] = drift["spearman_int8"] - drift["spearman_fp32"]
    if "fill_mask" in fp32 and "fill_mask" in int8:
        inputs, positions, originals = _masked_check(tokenizer, cfg_model.mask_token_id)
        top1_fp32, pred_fp32 = _top1_recovery(fp32["fill_mask"], inputs, positions, originals, pad)
        top1_int8, pred_int8 = _top1_recovery(int8["fill_mask"], inputs, positions, originals, pad)
        drift.update({
            "masked_tokens": len(pred_fp32),
            "top1_recovery_fp32": top1_fp32,
            "top1_recovery_int8": top1_int8,
            "top1_recovery_change": top1_int8 - top1_fp32,
            "top1_agreement": float(np.mean([x == y for x, y in zip(pred_fp32, pred_int8, strict=True)])),
        })
    return drift


# ----------------------------------------------------------------------------- the folder


def _source_folder(model_dir: Path, work: Path, name: str) -> Path:
    """The transformers folder to add ONNX graphs to; a rexbert checkpoint is exported first
    (its card named `name`, the folder it will be published as)."""
    from rexbert.model.checkpoint import CONFIG_FILE

    if not model_dir.is_dir():
        raise UserError(f"--model {model_dir}: folder not found")
    if (model_dir / CONFIG_FILE).is_file():
        from rexbert.release.api import ExportConfig, export

        return export(model_dir, work / "transformers", ExportConfig(model_name=name)).out
    if not (model_dir / "config.json").is_file():
        raise UserError(f"--model {model_dir}: neither a rexbert checkpoint (rexbert_config.json) nor "
                        "an exported transformers folder (config.json); run `rexbert export` first")
    return model_dir


def _check_output(model_dir: Path, out: Path, overwrite: bool) -> bool:
    """Refuse, before any work, an `out` that this export may not write; True when `out` is
    `model_dir` itself (the graphs are added to that folder)."""
    from rexbert import outputs
    from rexbert.model.checkpoint import CONFIG_FILE

    in_place = out.exists() and model_dir.exists() and out.resolve() == model_dir.resolve()
    if in_place and (model_dir / CONFIG_FILE).is_file():
        raise UserError(f"--out {out}: is the rexbert checkpoint itself; pass a new folder for the export")
    kind = outputs.owner_kind(out) if out.is_dir() else None
    if in_place and kind is None:
        raise UserError(f"--out {out}: was not written by rexbert (no {outputs.MARKER}), so rexbert will "
                        "not add files to it; pass another --out to write a copy with onnx/")
    if not in_place and out.is_dir() and any(p.name != outputs.MARKER for p in out.iterdir()):
        if kind != OUTPUT_KIND:
            raise UserError(f"--out {out}: not empty and not a rexbert export; rexbert never overwrites "
                            "files it did not create — choose a new --out")
        if not overwrite:
            raise UserError(f"--out {out}: already holds an export; pass --overwrite to replace it")
    if in_place and (out / ONNX_DIR).exists() and not overwrite:
        raise UserError(f"--out {out}: already has {ONNX_DIR}/; pass --overwrite to export it again")
    return in_place


def _open_output(source: Path, out: Path, in_place: bool) -> None:
    """Claim `out` (rexbert.outputs) and give it the transformers files of `source`."""
    from rexbert import outputs

    if in_place:
        outputs.claim(out, outputs.owner_kind(out))
        if (out / ONNX_DIR).exists():
            outputs.remove(out / ONNX_DIR)
        return
    if out.is_dir() and outputs.owner_kind(out) == OUTPUT_KIND:
        outputs.remove(out)  # checked by _check_output: an earlier export, replaced on --overwrite
    outputs.claim(out, OUTPUT_KIND)
    for item in source.iterdir():
        if item.name in (ONNX_DIR, outputs.MARKER) or item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, out / item.name)
        else:
            shutil.copy2(item, out / item.name)


def _write_graphs(model, staging: Path, cfg: OnnxExportConfig) -> dict[str, Path]:
    import onnx

    traced = _trace(model, cfg.opset)
    paths = {"encoder": staging / ENCODER_FILE}
    onnx.save(_keep_outputs(traced, ("last_hidden_state", "sentence_embedding")), str(paths["encoder"]))
    if cfg.fill_mask:
        paths["fill_mask"] = staging / FILL_MASK_FILE
        onnx.save(_keep_outputs(traced, ("logits",)), str(paths["fill_mask"]))
    return paths


def export_onnx(model_dir: str | Path, out: str | Path, cfg: OnnxExportConfig,
                overwrite: bool = False) -> OnnxExportResult:
    """Write `out/onnx/` for the model in `model_dir` (an exported transformers folder, or a
    rexbert checkpoint), with the transformers files beside it; `out` may be `model_dir` itself.

    The graphs are checked against rexbert's own model before anything lands in `out`; a
    difference above `cfg.parity_tolerance` stops the export with the measured figure.
    """
    from transformers import AutoTokenizer

    from rexbert import outputs
    from rexbert.progress import Progress
    from rexbert.release.hf import load_hf_folder

    model_dir, out = Path(model_dir), Path(out)
    in_place = _check_output(model_dir, out, overwrite)
    steps = Progress(total=4 if cfg.quantize == "int8" else 3, desc="onnx export", unit="step", rate=False)
    with tempfile.TemporaryDirectory(prefix="rexbert-onnx-") as work, steps:
        source = _source_folder(model_dir, Path(work), out.name)
        model = load_hf_folder(source).eval()
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        staging = Path(work) / ONNX_DIR
        staging.mkdir()
        steps.update(0, detail="tracing the graphs")
        paths = _write_graphs(model, staging, cfg)
        steps.update(detail="checking parity against rexbert's model")
        fp32 = {name: ort_session(path) for name, path in paths.items()}
        max_length = min(cfg.parity_max_length, model.config.max_position_embeddings)
        batches = _parity_batches(model, tokenizer, max_length)
        parity = _largest_differences(fp32, model, batches, model.config.pad_token_id)
        parity.update(tolerance=cfg.parity_tolerance, longest_input=max(len(t) for b in batches for t in b),
                      lengths=sorted({len(t) for b in batches for t in b}))
        _check_parity(parity, cfg.parity_tolerance)
        steps.update(detail="int8 graphs and their drift" if cfg.quantize == "int8" else "writing")
        drift = None
        if cfg.quantize == "int8":
            for name in list(paths):
                paths[f"{name}_int8"] = paths[name].with_name(paths[name].stem + INT8_SUFFIX + ".onnx")
                quantize_int8(paths[name], paths[f"{name}_int8"])
            int8 = {name: ort_session(paths[f"{name}_int8"]) for name in fp32}
            drift = measure_drift(fp32, int8, tokenizer, model.config)
            steps.update(detail="writing")
        report = {"opset": cfg.opset, "inputs": list(INPUT_NAMES), "parity_fp32": parity, "int8_drift": drift,
                  "files": {name: f"{ONNX_DIR}/{path.name}" for name, path in paths.items()}}
        _open_output(source, out, in_place)
        _finish(out, staging, report)
        outputs.seal(out)
        steps.update()
    folder = out / ONNX_DIR
    return OnnxExportResult(
        out=out, encoder=folder / ENCODER_FILE,
        fill_mask=folder / FILL_MASK_FILE if cfg.fill_mask else None,
        encoder_int8=folder / (Path(ENCODER_FILE).stem + INT8_SUFFIX + ".onnx") if drift else None,
        fill_mask_int8=folder / (Path(FILL_MASK_FILE).stem + INT8_SUFFIX + ".onnx")
        if drift and cfg.fill_mask else None,
        report=folder / REPORT_FILE, parity=parity, drift=drift)


def _check_parity(parity: dict[str, Any], tolerance: float) -> None:
    failed = {k: v for k, v in parity.items()
              if k in ("last_hidden_state", "sentence_embedding", "logits_relative") and v > tolerance}
    if failed:
        shown = ", ".join(f"{k} {v:.2e}" for k, v in failed.items())
        raise UserError(f"ONNX parity check failed: max |Δ| against rexbert's model {shown} > "
                        f"{tolerance:g} (lengths up to {parity['longest_input']}); nothing was written — "
                        "report this with the model's rexbert_config.json")


def _finish(out: Path, staging: Path, report: dict[str, Any]) -> None:
    """Move the graphs into `out/onnx/`, write the report and the model card's ONNX section."""
    from rexbert.fileio import atomic_write_json, atomic_write_text
    from rexbert.model.checkpoint import MANIFEST, write_manifest

    shutil.copytree(staging, out / ONNX_DIR)
    atomic_write_json(out / ONNX_DIR / REPORT_FILE, report)
    card = out / "README.md"
    text = card.read_text(encoding="utf-8") if card.is_file() else f"# {out.name}\n"
    atomic_write_text(card, with_card_section(text, card_section(report)))
    if (out / MANIFEST).is_file():  # the export's checksums, now covering the graphs too
        from rexbert.fileio import read_json

        manifest = read_json(out / MANIFEST)
        write_manifest(out, {k: v for k, v in manifest.items() if k != "files"})


def with_card_section(card: str, section: str) -> str:
    """`card` with its ONNX section replaced by `section` (appended when it has none)."""
    begin, end = card.find(CARD_BEGIN), card.find(CARD_END)
    if begin >= 0 and end > begin:
        return card[:begin] + section + card[end + len(CARD_END):]
    return card.rstrip("\n") + "\n\n" + section + "\n"


def card_section(report: dict[str, Any]) -> str:
    """The model card's ONNX section: files, how to load them, parity and int8 drift."""
    parity, drift = report["parity_fp32"], report["int8_drift"]
    lines = [CARD_BEGIN, "## ONNX", "",
             f"Graphs in `{ONNX_DIR}/` (opset {report['opset']}, dynamic batch and length), inputs "
             "`input_ids` and `attention_mask`:", "", "| file | outputs |", "|---|---|"]
    for name, path in report["files"].items():
        outputs_text = "`logits`" if name.startswith("fill_mask") else "`last_hidden_state`, `sentence_embedding`"
        lines.append(f"| `{path}` | {outputs_text}{' (int8)' if name.endswith('int8') else ''} |")
    lines += ["", f"fp32 parity with rexbert's model on inputs of {len(parity['lengths'])} lengths up to "
              f"{parity['longest_input']} tokens: max |Δ| hidden states {parity['last_hidden_state']:.1e}, "
              f"embeddings {parity['sentence_embedding']:.1e}"
              + (f", logits (relative) {parity['logits_relative']:.1e}" if "logits_relative" in parity else "")
              + f" (tolerance {parity['tolerance']:g}).", ""]
    if drift:
        lines += ["int8 drift on the built-in check:", "", "| measure | fp32 | int8 | change |", "|---|---|---|---|",
                  f"| embedding cosine to fp32 (mean / min) | 1 | {drift['embedding_cosine_mean']:.4f} / "
                  f"{drift['embedding_cosine_min']:.4f} | |",
                  f"| similarity Spearman ({len(CHECK_PAIRS)} graded pairs) | {drift['spearman_fp32']:.3f} | "
                  f"{drift['spearman_int8']:.3f} | {drift['spearman_change']:+.3f} |"]
        if "top1_recovery_fp32" in drift:
            lines.append(f"| top-1 masked-token recovery ({drift['masked_tokens']} tokens) | "
                         f"{drift['top1_recovery_fp32']:.3f} | {drift['top1_recovery_int8']:.3f} | "
                         f"{drift['top1_recovery_change']:+.3f} |")
        lines.append("")
    lines += ["```python", "import onnxruntime", f'session = onnxruntime.InferenceSession("{ONNX_DIR}/{ENCODER_FILE}")',
              "", "from sentence_transformers import SentenceTransformer", 'model = SentenceTransformer(".", backend="onnx")',
              "```", CARD_END]
    return "\n".join(lines)
