"""The rexbert encoder: ModernBERT's architecture over unpadded, packed documents.

Reads bottom-up: layout of a packed batch → rotary embeddings → attention → GeGLU MLP → layer →
encoder (`RexBertModel`) → masked-LM model (`RexBertForMaskedLM`).

A batch is `T` tokens of documents packed end to end, with `cu_seqlens` = [0, len0, len0+len1, …]
(the flash-attn varlen convention). Nothing is ever padded to a common length in the linear
layers, so padding costs no FLOPs; only attention regroups tokens, and it does so per layer type:

* local (sliding-window) layers attend to `|i - j| ≤ window/2` inside a document. On CPU the
  stream is cut into query chunks of `window/2` tokens whose keys are the chunk and its two
  neighbours, so their cost grows linearly with length instead of quadratically
  (`attention.py` has the details);
* global layers attend to the whole document: documents of similar length are grouped and each
  group runs one SDPA call with a key-padding mask, or flash-attn varlen / FlexAttention on GPU.

Numerics follow transformers' `ModernBertForMaskedLM` (checked in tests/model): LayerNorms
without bias, layer 0 without an attention norm, RoPE applied in fp32, exact-erf GELU, tied
decoder with a bias, sliding window `|i - j| ≤ local_attention_window // 2`.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from rexbert.model.attention import (
    PackedLayout,
    attend,
    attend_queries,
    resolve_backend,
    supports_query_subset,
)
from rexbert.model.config import ModelConfig
from rexbert.model.loss import linear_cross_entropy
from rexbert.model.rotary import apply_rotary, rope_inverse_frequencies, rope_theta

IGNORE_INDEX = -100


class MaskedLMOutput:
    """What `RexBertForMaskedLM.forward` returns (see the model API in docs/model.md).

    loss: scalar mean cross-entropy over labelled positions (None without labels)
    logits: [n_labelled, V] with labels (sparse head), else [T, V]
    hidden_states: final-norm output of the encoder, [n_labelled, H] (labelled positions, in
        stream order) with labels, else [T, H]

    With labels the logits are computed on first access: a training step that only needs the
    loss never pays for a second [n_labelled, V] matmul (the fused loss never builds them).
    """

    def __init__(self, loss, hidden_states, logits=None, make_logits=None):
        self.loss = loss
        self.hidden_states = hidden_states
        self._logits = logits
        self._make_logits = make_logits

    @property
    def logits(self) -> torch.Tensor:
        """[n_labelled, V] or [T, V] logits."""
        if self._logits is None:
            self._logits = self._make_logits()
        return self._logits


# ----------------------------------------------------------------------------- building blocks


class Embeddings(nn.Module):
    """Token embeddings → LayerNorm (no bias). No position embeddings: RoPE lives in attention."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps, bias=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[T] token ids → [T, H]."""
        return self.norm(self.tok_embeddings(input_ids))


class Attention(nn.Module):
    """Fused-QKV multi-head self-attention with RoPE, global or sliding-window, per document."""

    def __init__(self, cfg: ModelConfig, layer_index: int):
        super().__init__()
        self.num_heads = cfg.num_heads
        self.head_dim = cfg.head_dim
        self.is_global = cfg.is_global_layer(layer_index)
        self.Wqkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size, bias=False)
        self.Wo = nn.Linear(cfg.hidden_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor, layout: PackedLayout, rows: torch.Tensor | None = None) -> torch.Tensor:
        """[T, H] → [T, H]; with `rows` (global layers), only those rows' outputs: [N, H]."""
        if rows is not None:
            return self._forward_rows(x, layout, rows)
        total = x.shape[0]
        qkv = self.Wqkv(x).view(total, 3, self.num_heads, self.head_dim)
        # split, not indexing: the backward of qkv[:, :2] and qkv[:, 2] would zero-fill two
        # [T, 3, heads, d] buffers; split's backward is one concatenation.
        qk, v = qkv.split([2, 1], dim=1)
        cos, sin = layout.rotary(self.is_global)
        q, k = apply_rotary(qk, cos, sin).unbind(dim=1)  # q and k rotated in one pass
        v = v.squeeze(1)  # each [T, heads, d]
        out = attend(q, k, v, layout, self.is_global)  # [T, heads, d]
        return self.Wo(out.reshape(total, -1))

    def _forward_rows(self, x: torch.Tensor, layout: PackedLayout, rows: torch.Tensor) -> torch.Tensor:
        """Keys and values for every token, queries (and everything after) for `rows` only."""
        total, count = x.shape[0], rows.numel()
        hidden = x.shape[1]
        w_q, w_kv = self.Wqkv.weight.split([hidden, 2 * hidden])
        k, v = F.linear(x, w_kv).view(total, 2, self.num_heads, self.head_dim).split([1, 1], dim=1)
        q = F.linear(x.index_select(0, rows), w_q).view(count, 1, self.num_heads, self.head_dim)
        cos, sin = layout.rotary(self.is_global)
        k = apply_rotary(k, cos, sin).squeeze(1)
        q = apply_rotary(q, cos.index_select(0, rows), sin.index_select(0, rows)).squeeze(1)
        out = attend_queries(q, k, v.squeeze(1), layout, rows)  # [N, heads, d]
        return self.Wo(out.reshape(count, -1))


class GeGLU(nn.Module):
    """ModernBERT's MLP: Wi projects to (input, gate); GELU(input) · gate → Wo."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.Wi = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=False)
        self.Wo = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[T, H] → [T, H]."""
        inputs, gate = self.Wi(x).chunk(2, dim=-1)
        return self.Wo(F.gelu(inputs) * gate)


class EncoderLayer(nn.Module):
    """Pre-norm block: x + attn(norm(x)), then x + mlp(norm(x)). Layer 0 skips the attention
    norm because the embedding output is already normalised (as ModernBERT)."""

    def __init__(self, cfg: ModelConfig, layer_index: int):
        super().__init__()
        self.attn_norm = (
            nn.Identity()
            if layer_index == 0
            else nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps, bias=False)
        )
        self.attn = Attention(cfg, layer_index)
        self.mlp_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps, bias=False)
        self.mlp = GeGLU(cfg)

    def forward(self, x: torch.Tensor, layout: PackedLayout, rows: torch.Tensor | None = None) -> torch.Tensor:
        """[T, H] → [T, H], or [N, H] for `rows` only (see `RexBertModel.forward`)."""
        if rows is None:
            x = x + self.attn(self.attn_norm(x), layout)
        else:
            x = x.index_select(0, rows) + self.attn(self.attn_norm(x), layout, rows)
        return x + self.mlp(self.mlp_norm(x))


# ----------------------------------------------------------------------------- encoder


def _check_packed_inputs(input_ids: torch.Tensor, cu_seqlens: torch.Tensor) -> None:
    if input_ids.dim() != 1:
        raise ValueError(
            f"input_ids must be 1-D [total_tokens] (documents packed end to end), got shape "
            f"{tuple(input_ids.shape)}; use forward_padded for [batch, length] inputs"
        )
    if cu_seqlens.dim() != 1 or cu_seqlens.numel() < 2:
        raise ValueError("cu_seqlens must be 1-D [num_docs + 1] and start at 0")


class RexBertModel(nn.Module):
    """The encoder alone: embeddings → layers → final norm, over packed documents."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.embeddings = Embeddings(cfg)
        self.layers = nn.ModuleList(EncoderLayer(cfg, i) for i in range(cfg.num_layers))
        self.final_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps, bias=False)
        # Not saved: recomputed from the config, so a changed rope_ntk_factor takes effect on load.
        self.register_buffer(
            "global_inv_freq", rope_inverse_frequencies(rope_theta(cfg, True), cfg.head_dim),
            persistent=False,
        )
        self.register_buffer(
            "local_inv_freq", rope_inverse_frequencies(rope_theta(cfg, False), cfg.head_dim),
            persistent=False,
        )

    def layout(self, cu_seqlens: torch.Tensor, max_seqlen: int, device: torch.device) -> PackedLayout:
        """Positions, rotary tables and attention grouping for one packed batch (shared by layers)."""
        backend = resolve_backend(self.config.attention_backend, device)
        return PackedLayout.build(
            cu_seqlens.to(device),
            int(max_seqlen),
            window_half=self.config.local_attention_window // 2,
            backend=backend,
            global_inv_freq=self.global_inv_freq,
            local_inv_freq=self.local_inv_freq,
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        cu_seqlens: torch.Tensor,
        max_seqlen: int,
        output_rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[T] packed token ids → [T, H] hidden states after the final norm.

        With `output_rows` (ascending stream positions, e.g. the masked tokens) only those rows
        come back, [N, H], and a global last layer computes only them: its keys and values
        still cover every token, but queries, attention, Wo and the MLP run on N rows. For
        masked-LM training (N ≈ 30% of T) that removes most of a layer, and at long context
        most of its quadratic attention. Results equal the full pass's rows.
        """
        _check_packed_inputs(input_ids, cu_seqlens)
        layout = self.layout(cu_seqlens, max_seqlen, input_ids.device)
        last = len(self.layers) - 1
        rows_only = (
            output_rows is not None
            and output_rows.numel() > 0
            and self.config.is_global_layer(last)
            and supports_query_subset(layout)
        )
        with _autocast(self.config, input_ids.device):
            x = self.embeddings(input_ids)
            for index, layer in enumerate(self.layers):
                x = layer(x, layout, output_rows if rows_only and index == last else None)
            if output_rows is not None and not rows_only:
                x = x.index_select(0, output_rows)
            return self.final_norm(x)


def _autocast(cfg: ModelConfig, device: torch.device):
    """bf16 autocast on CUDA (tensor cores, flash-attn) unless `gpu_bf16_autocast` is off, and
    on CPU when `cpu_bf16_autocast` is on; otherwise a no-op context. An autocast the caller
    opened around the model stays in force either way."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.gpu_bf16_autocast)
    if device.type == "cpu" and cfg.cpu_bf16_autocast:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# ----------------------------------------------------------------------------- masked LM


class PredictionHead(nn.Module):
    """MLM head transform: dense → GELU → LayerNorm (the decoder is applied by the caller)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size, bias=False)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, H] → [N, H]."""
        return self.norm(F.gelu(self.dense(x)))


class RexBertForMaskedLM(nn.Module):
    """Encoder + MLM head whose decoder is tied to the token embeddings (plus a bias).

    `forward(input_ids [T], cu_seqlens [docs+1], max_seqlen, labels=None)`; with labels the
    head runs only on labelled positions (sparse prediction) and the loss is their mean
    cross-entropy. `forward_padded` takes the usual [B, L] + attention_mask.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.model = RexBertModel(cfg)
        self.head = PredictionHead(cfg)
        self.decoder_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """ModernBERT's initialisation: truncated normal (±cutoff·σ) with σ = initializer_range for
        embeddings and input projections, σ / √(2·layers) for every projection that writes back
        into the residual stream (attention Wo, MLP Wo) and for the head's dense layer; norms at
        one, decoder bias at zero."""
        cfg = self.config
        std_in = cfg.initializer_range
        std_out = cfg.initializer_range / math.sqrt(2.0 * cfg.num_layers)

        def trunc_normal(weight: torch.Tensor, std: float) -> None:
            cut = cfg.initializer_cutoff_factor * std
            nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-cut, b=cut)

        trunc_normal(self.model.embeddings.tok_embeddings.weight, std_in)
        for layer in self.model.layers:
            trunc_normal(layer.attn.Wqkv.weight, std_in)
            trunc_normal(layer.attn.Wo.weight, std_out)
            trunc_normal(layer.mlp.Wi.weight, std_in)
            trunc_normal(layer.mlp.Wo.weight, std_out)
        trunc_normal(self.head.dense.weight, std_out)
        for module in self.modules():
            if isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
        nn.init.zeros_(self.decoder_bias)

    def decode(self, hidden: torch.Tensor) -> torch.Tensor:
        """Head + tied decoder: [N, H] hidden states → [N, V] logits."""
        with _autocast(self.config, hidden.device):
            return F.linear(
                self.head(hidden), self.model.embeddings.tok_embeddings.weight, self.decoder_bias
            )

    def forward(
        self,
        input_ids: torch.Tensor,
        cu_seqlens: torch.Tensor,
        max_seqlen: int,
        labels: torch.Tensor | None = None,
    ) -> MaskedLMOutput:
        """Packed forward pass; see the class docstring for shapes."""
        if labels is None:
            hidden = self.model(input_ids, cu_seqlens, max_seqlen)
            return MaskedLMOutput(loss=None, logits=self.decode(hidden), hidden_states=hidden)
        if labels.shape != input_ids.shape:
            raise ValueError(f"labels shape {tuple(labels.shape)} != input_ids {tuple(input_ids.shape)}")
        # Sparse prediction: the 50k-way decoder is most of a small model's compute, and only
        # the ~30% masked positions need it (nor does the encoder's last layer, see RexBertModel).
        selected = (labels != IGNORE_INDEX).nonzero().squeeze(1)
        targets = labels.index_select(0, selected)
        hidden = self.model(input_ids, cu_seqlens, max_seqlen, output_rows=selected)
        weight = self.model.embeddings.tok_embeddings.weight

        def make_logits() -> torch.Tensor:
            with _autocast(self.config, hidden.device):
                return F.linear(transformed.to(weight.dtype), weight, self.decoder_bias)

        with _autocast(self.config, hidden.device):
            transformed = self.head(hidden)
            if hidden.device.type == "cpu":  # the fused loss: bf16 matmuls under CPU autocast
                loss = linear_cross_entropy(transformed, weight, self.decoder_bias, targets)
                return MaskedLMOutput(loss=loss, hidden_states=hidden, make_logits=make_logits)
        # On GPUs memory bandwidth is plentiful: the plain path (bf16 matmul, fp32 loss).
        logits = make_logits()
        loss = F.cross_entropy(logits.float(), targets) if targets.numel() else logits.sum() * 0.0
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=hidden)

    def forward_padded(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> MaskedLMOutput:
        """Convenience for [B, L] right-padded batches (evaluation, inference).

        Rows become documents of the packed batch; logits come back [B, L, V] and hidden states
        [B, L, H] with zeros at padded positions. With labels, the loss is the mean over labelled
        non-padded positions.
        """
        batch, length = input_ids.shape
        keep = attention_mask.bool()
        lengths = keep.sum(dim=1)
        cu_seqlens = F.pad(lengths.cumsum(0), (1, 0)).to(torch.int32)
        flat_index = keep.reshape(-1).nonzero().squeeze(1)
        packed_ids = input_ids.reshape(-1).index_select(0, flat_index)
        max_seqlen = int(lengths.max()) if batch else 0
        hidden = self.model(packed_ids, cu_seqlens, max(max_seqlen, 1))
        logits = self.decode(hidden)
        loss = None
        if labels is not None:
            packed_labels = labels.reshape(-1).index_select(0, flat_index)
            loss = F.cross_entropy(logits.float(), packed_labels, ignore_index=IGNORE_INDEX)

        def repad(values: torch.Tensor) -> torch.Tensor:
            full = values.new_zeros(batch * length, values.shape[-1])
            full.index_copy_(0, flat_index, values)
            return full.view(batch, length, -1)

        return MaskedLMOutput(loss=loss, logits=repad(logits), hidden_states=repad(hidden))
