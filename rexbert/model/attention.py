"""Attention over packed documents: global (whole document) and local (sliding window).

Backends
* `sdpa` (CPU default; any device): PyTorch's `scaled_dot_product_attention` on regrouped tokens.
  Tokens are gathered once per layer into "segments", each attended by one SDPA call:
  - a bucket: documents of similar length side by side, padded to the longest, with a
    key-padding mask (and a band mask |i − j| ≤ w on local layers). Grouping by length bounds
    the wasted area, and a batch of equal-length documents is a plain reshape.
  - a chunked stream (local layers, documents longer than 3w, w = window/2): cut into query
    chunks of w tokens whose keys are the chunk and its two neighbours, which contain every key
    with |i − j| ≤ w; a mask keeps |i − j| ≤ w and the same document. Cost is 3w keys per query
    whatever the length — linear in the sequence, where a masked full attention (transformers
    on SDPA) pays all L keys per query.
  Global layers bucket every document. Local layers bucket the documents of at most 3w tokens
  (a bucket costs L keys per query, at most what a chunk costs; documents of ≤ w + 1 tokens
  need no band mask at all) and stream the longer ones through chunks — in packs of short
  product titles most tokens never pay for 3w keys.
* `flash` (CUDA + flash-attn installed): `flash_attn_varlen_func` on the packed stream with
  `cu_seqlens`, window (w, w) on local layers. Imported lazily.
* `flex` (CUDA, or CPU inference): FlexAttention with a block mask (same document, and
  |i − j| ≤ w on local layers), built once per batch and shared by all layers. PyTorch has no
  FlexAttention backward on CPU, so CPU training must use `sdpa`.
* `auto`: flash on CUDA when flash-attn imports, else flex on CUDA, else sdpa.

All of them compute exactly the same function (tests/model compare them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from rexbert.errors import UserError
from rexbert.model.rotary import rotary_cos_sin

BACKENDS = ("auto", "sdpa", "flex", "flash")
# Buckets: a document joins the current bucket while the bucket's padded area stays within this
# factor of its real area; documents of at most SHORT_DOCUMENT tokens always share a bucket.
# Tight buckets measured fastest on packs of real titles and paragraphs: SDPA calls are cheap,
# padded area is not.
BUCKET_WASTE = 1.1
SHORT_DOCUMENT = 16
# PyTorch's CPU flash-attention backward is slow in bf16 on short sequences: forward + backward
# measured 4× the fp32 time at 15 keys, 1.7× at 128, 1.2× at 256, and 0.85× from 512 keys on
# (1 thread, 4 heads × 64). Under CPU autocast, SDPA calls with fewer keys run in fp32.
CPU_BF16_ATTENTION_MIN_KEYS = 512


def flash_attn_available() -> bool:
    """True when the flash-attn package imports (it needs CUDA)."""
    try:
        import flash_attn  # noqa: F401
    except Exception:  # ImportError, or a broken CUDA build raising at import
        return False
    return True


def resolve_backend(name: str, device: torch.device) -> str:
    """Turn the configured backend (auto/sdpa/flex/flash) into the one used on `device`."""
    if name not in BACKENDS:
        raise UserError(f"attention_backend '{name}' is unknown; choose one of {', '.join(BACKENDS)}")
    cuda = device.type == "cuda"
    if name == "auto":
        if cuda:
            return "flash" if flash_attn_available() else "flex"
        return "sdpa"
    if name == "flash" and not (cuda and flash_attn_available()):
        raise UserError(
            "attention_backend 'flash' needs a CUDA device and the flash-attn package; "
            "install flash-attn or set attention_backend to 'auto'"
        )
    return name


@dataclass
class Bucket:
    """Documents attended together in one SDPA call, padded to the bucket's longest."""

    num_docs: int
    length: int  # padded length (longest document of the bucket)
    mask: torch.Tensor | None  # [num_docs, 1, 1 or length, length] bool; None = no mask needed
    docs: torch.Tensor  # [num_docs] document index of each row

    @property
    def size(self) -> int:
        """Slots the bucket occupies."""
        return self.num_docs * self.length


@dataclass
class ChunkedStream:
    """Long documents back to back, attended in query chunks of w (local layers only)."""

    size: int  # tokens in the stream (unpadded)
    padded: int  # size rounded up to whole chunks
    mask: torch.Tensor  # [chunks, 1, w, 3w] bool


@dataclass
class Grouping:
    """Token stream ⇄ slots of the segments. Every token sits in exactly one slot, so both
    directions are gathers (see `Regroup`): no scatter-add and no zero-filled gradient buffers."""

    segments: list[Bucket | ChunkedStream]
    slot_index: torch.Tensor | None  # [S] stream row of each slot (0 for padding); None = identity
    token_slot: torch.Tensor | None  # [T] slot of each token
    padding_slots: torch.Tensor | None  # [P] slots that hold no token


@dataclass
class QuerySubset:
    """Global attention for a subset of query rows (the labelled positions) against all keys:
    each bucket of the global grouping gets its documents' selected rows, padded to the most
    any of them has. Same gather maps as `Grouping`, over the selected rows."""

    counts: list[int]  # query slots per bucket row (0: the bucket has no query and is skipped)
    slot_index: torch.Tensor  # [Sq] selected row of each query slot (0 for padding)
    row_slot: torch.Tensor  # [N] query slot of each selected row
    padding_slots: torch.Tensor  # query slots that hold no row


class Regroup(torch.autograd.Function):
    """rows = x.index_select(forward_index); its gradient is the inverse gather.

    Valid because the two index maps are inverse bijections between tokens and occupied slots.
    Padding slots read an arbitrary real row (row 0) going to slots: as keys they are masked and
    as queries their outputs are dropped. Coming back from slots, the gradient of those padded
    query rows must be zero (`zero_rows`), or it would leak into the real keys they attended.
    PyTorch's generic index_select backward would zero-fill and scatter-add instead, which on
    CPU cost more than the attention itself for packs of many short documents.
    """

    @staticmethod
    def forward(ctx, x, forward_index, backward_index, zero_rows):
        ctx.save_for_backward(backward_index, zero_rows)
        return x.index_select(0, forward_index)

    @staticmethod
    def backward(ctx, grad):
        backward_index, zero_rows = ctx.saved_tensors
        out = grad.index_select(0, backward_index)
        if zero_rows is not None and zero_rows.numel():
            out.index_fill_(0, zero_rows, 0.0)
        return out, None, None, None


@dataclass
class PackedLayout:
    """Everything about a packed batch that every layer shares, computed once per forward."""

    cu_seqlens: torch.Tensor  # [docs + 1] int32
    max_seqlen: int
    window_half: int
    backend: str
    position_ids: torch.Tensor  # [T]
    doc_ids: torch.Tensor  # [T]
    global_inv_freq: torch.Tensor
    local_inv_freq: torch.Tensor
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        cu_seqlens: torch.Tensor,
        max_seqlen: int,
        window_half: int,
        backend: str,
        global_inv_freq: torch.Tensor,
        local_inv_freq: torch.Tensor,
    ) -> PackedLayout:
        """Derive per-token document ids and positions (restarting at 0 per document)."""
        cu = cu_seqlens.to(torch.int64)
        lengths = cu[1:] - cu[:-1]
        total = int(cu[-1])
        doc_ids = torch.repeat_interleave(torch.arange(lengths.numel(), device=cu.device), lengths)
        position_ids = torch.arange(total, device=cu.device) - cu[:-1].index_select(0, doc_ids)
        return cls(
            cu_seqlens=cu_seqlens.to(torch.int32),
            max_seqlen=max_seqlen,
            window_half=window_half,
            backend=backend,
            position_ids=position_ids,
            doc_ids=doc_ids,
            global_inv_freq=global_inv_freq,
            local_inv_freq=local_inv_freq,
        )

    @property
    def total_tokens(self) -> int:
        """T, the number of packed tokens."""
        return self.doc_ids.numel()

    def _cached(self, key: str, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def rotary(self, is_global: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, signed sin [T, 1, 1, d] for this layer type (see rotary.py)."""
        inv_freq = self.global_inv_freq if is_global else self.local_inv_freq
        return self._cached(
            f"rope_{is_global}", lambda: rotary_cos_sin(inv_freq, self.position_ids)
        )

    # -- sdpa: segments --------------------------------------------------------------------

    def grouping(self, is_global: bool) -> Grouping:
        """How this layer type's SDPA calls group the documents (built once per batch)."""
        return self._cached(f"grouping_{is_global}", lambda: self._make_grouping(is_global))

    def _make_grouping(self, is_global: bool) -> Grouping:
        device = self.doc_ids.device
        w = self.window_half
        starts = self.cu_seqlens[:-1].tolist()
        lengths = (self.cu_seqlens[1:] - self.cu_seqlens[:-1]).tolist()
        streamed = [] if is_global else [d for d, n in enumerate(lengths) if n > 3 * w]
        bucketed = [d for d, n in enumerate(lengths) if is_global or n <= 3 * w]
        segments: list[Bucket | ChunkedStream] = []
        slot_rows: list[torch.Tensor] = []
        if streamed:
            rows = torch.cat([torch.arange(starts[d], starts[d] + lengths[d], device=device) for d in streamed])
            stream_docs = self.doc_ids.index_select(0, rows)
            segments.append(self._chunked_stream(stream_docs))
            slot_rows.append(rows)
        for group in _buckets_by_length([lengths[d] for d in bucketed]):
            docs = [bucketed[i] for i in group]
            longest = lengths[docs[0]]
            offsets = torch.arange(longest, device=device)
            doc_starts = torch.tensor([starts[d] for d in docs], device=device)
            doc_lengths = torch.tensor([lengths[d] for d in docs], device=device)
            valid = offsets[None, :] < doc_lengths[:, None]  # [docs, longest]
            slot_rows.append(torch.where(valid, doc_starts[:, None] + offsets[None, :], -1).reshape(-1))
            padded = not bool(valid.all())
            mask = valid[:, None, None, :] if padded else None
            if not is_global and longest > w + 1:  # the window cuts into these documents
                band = (offsets[:, None] - offsets[None, :]).abs() <= w  # [longest, longest]
                # A padding query may lie further than w from its document's last token; let it
                # see everything in its band (itself at least) so no softmax row is empty. Its
                # output is dropped and its gradient is zero, so nothing leaks.
                mask = band[None, None] & (valid[:, None, :] | ~valid[:, :, None])[:, None] if padded else band[None, None]
            segments.append(Bucket(len(docs), longest, mask, torch.tensor(docs, device=device)))
        slot_index = torch.cat(slot_rows)
        if slot_index.numel() == self.total_tokens and torch.equal(
            slot_index, torch.arange(self.total_tokens, device=device)
        ):
            # Slots are the stream itself (one long document, or equal-length documents in
            # order): no gathers at all.
            return Grouping(segments, None, None, None)
        is_padding = slot_index < 0
        occupied = (~is_padding).nonzero().squeeze(1)
        token_slot = torch.empty(self.total_tokens, dtype=torch.long, device=device)
        token_slot[slot_index[occupied]] = occupied
        return Grouping(segments, slot_index.clamp(min=0), token_slot, is_padding.nonzero().squeeze(1))

    def query_subset(self, rows: torch.Tensor) -> QuerySubset:
        """Query slots for global attention of the selected (ascending) stream rows only."""
        return self._cached("query_subset", lambda: self._make_query_subset(rows))

    def _make_query_subset(self, rows: torch.Tensor) -> QuerySubset:
        device = rows.device
        doc_of_row = self.doc_ids.index_select(0, rows)
        per_doc = torch.bincount(doc_of_row, minlength=self.cu_seqlens.numel() - 1)
        first = per_doc.cumsum(0) - per_doc
        rank = torch.arange(rows.numel(), device=device) - first.index_select(0, doc_of_row)
        # Each document's first query slot: bucket offset + its row in the bucket × the bucket's
        # query count.
        doc_base = torch.zeros_like(per_doc)
        counts, offset = [], 0
        for bucket in self.grouping(True).segments:
            count = int(per_doc.index_select(0, bucket.docs).max())
            doc_base[bucket.docs] = offset + torch.arange(bucket.num_docs, device=device) * count
            counts.append(count)
            offset += bucket.num_docs * count
        row_slot = doc_base.index_select(0, doc_of_row) + rank
        slot_index = torch.full((offset,), -1, dtype=torch.long, device=device)
        slot_index[row_slot] = torch.arange(rows.numel(), device=device)
        is_padding = slot_index < 0
        return QuerySubset(counts, slot_index.clamp(min=0), row_slot, is_padding.nonzero().squeeze(1))

    def _chunked_stream(self, doc_ids: torch.Tensor) -> ChunkedStream:
        """Chunk mask for documents back to back (their token doc ids given in stream order)."""
        w = self.window_half
        total = doc_ids.numel()
        chunks = -(-total // w)
        padded = chunks * w
        # Stream padded by one chunk on each side; padding has document id -1, so a padded
        # query always sees at least itself (no all-masked softmax rows) and real tokens never
        # see padding.
        docs = F.pad(doc_ids, (w, padded - total + w), value=-1).view(chunks + 2, w)
        query_doc = docs[1:-1]  # [chunks, w]
        key_doc = torch.cat([docs[:-2], docs[1:-1], docs[2:]], dim=1)  # [chunks, 3w]
        offsets_q = torch.arange(w, device=doc_ids.device)[:, None]
        offsets_k = torch.arange(3 * w, device=doc_ids.device)[None, :] - w
        band = (offsets_q - offsets_k).abs() <= w  # [w, 3w]
        mask = (query_doc[:, :, None] == key_doc[:, None, :]) & band[None]
        return ChunkedStream(total, padded, mask[:, None])

    # -- flex ------------------------------------------------------------------------------

    def flex_block_mask(self, is_global: bool):
        """FlexAttention block mask over the whole stream (same document, window on local)."""
        return self._cached(f"flex_{is_global}", lambda: self._make_flex_mask(is_global))

    def _make_flex_mask(self, is_global: bool):
        from torch.nn.attention.flex_attention import create_block_mask

        doc_ids = self.doc_ids
        w = self.window_half

        def same_document(b, h, q_idx, kv_idx):
            return doc_ids[q_idx] == doc_ids[kv_idx]

        def same_document_window(b, h, q_idx, kv_idx):
            return (doc_ids[q_idx] == doc_ids[kv_idx]) & ((q_idx - kv_idx).abs() <= w)

        mask_mod = same_document if is_global else same_document_window
        total = self.total_tokens
        # Compiling the mask builder avoids materialising a T×T mask (seconds at 8k tokens).
        return create_block_mask(
            mask_mod, None, None, total, total, device=doc_ids.device,
            _compile=doc_ids.device.type == "cuda",
        )


def _buckets_by_length(lengths: list[int]) -> list[list[int]]:
    """Indices of `lengths` grouped longest first: a document joins the current bucket while
    the bucket's padded area stays within BUCKET_WASTE of its real area (short ones always)."""
    groups: list[list[int]] = []
    real = 0
    for doc in sorted(range(len(lengths)), key=lambda d: -lengths[d]):
        if groups:
            longest = lengths[groups[-1][0]]
            if longest <= SHORT_DOCUMENT or longest * (len(groups[-1]) + 1) <= BUCKET_WASTE * (real + lengths[doc]):
                groups[-1].append(doc)
                real += lengths[doc]
                continue
        groups.append([doc])
        real = lengths[doc]
    return groups


def _scaled_dot_product(q, k, v, mask):
    """F.scaled_dot_product_attention on [batch, heads, L, d]; under CPU autocast, in fp32 when
    there are fewer than CPU_BF16_ATTENTION_MIN_KEYS keys, returned in the inputs' dtype."""
    if q.device.type == "cpu" and k.shape[-2] < CPU_BF16_ATTENTION_MIN_KEYS and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            out = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask)
        return out.to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layout: PackedLayout, is_global: bool
) -> torch.Tensor:
    """Attention of packed [T, heads, d] queries/keys/values within documents → [T, heads, d]."""
    if layout.backend == "flash":
        return _flash(q, k, v, layout, is_global)
    if layout.backend == "flex":
        return _flex(q, k, v, layout, is_global)
    return _sdpa(q, k, v, layout.grouping(is_global), layout.window_half)


def supports_query_subset(layout: PackedLayout) -> bool:
    """Whether `attend_queries` runs on this backend (FlexAttention would need its own mask)."""
    return layout.backend in ("sdpa", "flash")


def attend_queries(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layout: PackedLayout, rows: torch.Tensor
) -> torch.Tensor:
    """Global attention of the selected rows' queries q [N, heads, d] (rows ascending) against
    every key of their document, k and v [T, heads, d] → [N, heads, d]."""
    if layout.backend == "flash":
        from flash_attn import flash_attn_varlen_func

        per_doc = torch.bincount(layout.doc_ids.index_select(0, rows), minlength=layout.cu_seqlens.numel() - 1)
        cu_q = F.pad(per_doc.cumsum(0), (1, 0)).to(torch.int32)
        dtype = q.dtype
        if dtype not in (torch.float16, torch.bfloat16):
            q, k, v = (x.to(torch.bfloat16) for x in (q, k, v))
        out = flash_attn_varlen_func(
            q, k, v, cu_q, layout.cu_seqlens, int(per_doc.max()), layout.max_seqlen,
            dropout_p=0.0, causal=False,
        )
        return out.to(dtype)
    grouping = layout.grouping(True)
    subset = layout.query_subset(rows)
    if grouping.slot_index is None:
        ks, vs = k, v
    else:
        to_slots = (grouping.slot_index, grouping.token_slot, None)
        ks, vs = (Regroup.apply(x, *to_slots) for x in (k, v))
    qs = Regroup.apply(q, subset.slot_index, subset.row_slot, None)
    _, heads, d = q.shape
    query_sizes = [b.num_docs * c for b, c in zip(grouping.segments, subset.counts, strict=True)]
    outputs = []
    for bucket, count, qb, kb, vb in zip(
        grouping.segments, subset.counts, qs.split(query_sizes),
        *(x.split([b.size for b in grouping.segments]) for x in (ks, vs)), strict=True,
    ):
        if count == 0:  # no selected row in these documents: nothing to attend
            continue
        keys, values = (x.view(bucket.num_docs, bucket.length, heads, d).transpose(1, 2) for x in (kb, vb))
        queries = qb.view(bucket.num_docs, count, heads, d).transpose(1, 2)
        out = _scaled_dot_product(queries, keys, values, bucket.mask)
        outputs.append(out.transpose(1, 2).reshape(-1, heads, d))
    out = torch.cat(outputs) if len(outputs) > 1 else outputs[0]
    return Regroup.apply(out, subset.row_slot, subset.slot_index, subset.padding_slots)


def _sdpa(q, k, v, grouping: Grouping, w: int) -> torch.Tensor:
    if grouping.slot_index is None:
        qs, ks, vs = q, k, v
    else:
        to_slots = (grouping.slot_index, grouping.token_slot, None)
        qs, ks, vs = (Regroup.apply(x, *to_slots) for x in (q, k, v))  # [S, heads, d]
    # split, not slicing: the backward of each slice would allocate and zero-fill a buffer of
    # all S rows for every segment and tensor; split's backward is one concatenation.
    sizes = [segment.size for segment in grouping.segments]
    outputs = []
    for segment, qb, kb, vb in zip(grouping.segments, *(x.split(sizes) for x in (qs, ks, vs)), strict=True):
        if isinstance(segment, Bucket):
            outputs.append(_sdpa_bucket(qb, kb, vb, segment))
        else:
            outputs.append(_sdpa_chunked(qb, kb, vb, segment, w))
    out = torch.cat(outputs) if len(outputs) > 1 else outputs[0]
    if grouping.slot_index is None:
        return out
    # Back to stream order: the same gather with the index maps swapped.
    return Regroup.apply(out, grouping.token_slot, grouping.slot_index, grouping.padding_slots)


def _sdpa_bucket(q, k, v, bucket: Bucket) -> torch.Tensor:
    _, heads, d = q.shape

    def as_batch(x):
        return x.view(bucket.num_docs, bucket.length, heads, d).transpose(1, 2)

    out = _scaled_dot_product(as_batch(q), as_batch(k), as_batch(v), bucket.mask)
    return out.transpose(1, 2).reshape(-1, heads, d)


def _sdpa_chunked(q, k, v, stream: ChunkedStream, w: int) -> torch.Tensor:
    total, heads, d = q.shape
    chunks = stream.padded // w
    qc = F.pad(q, (0, 0, 0, 0, 0, stream.padded - total)).view(chunks, w, heads, d).transpose(1, 2)

    def neighbourhood(x):
        # Chunk c's keys = chunks c-1, c, c+1 of the stream padded by one chunk each side. Built
        # from three shifted views so that backward is slicing, not a scatter. Concatenated
        # along the sequence axis of [chunks, heads, w, d] views, so the result is contiguous
        # in SDPA's layout: its backward zero-fills gradient buffers shaped like k and v, which
        # was several times slower on a transposed layout.
        xc = F.pad(x, (0, 0, 0, 0, w, stream.padded - total + w)).view(chunks + 2, w, heads, d).transpose(1, 2)
        return torch.cat([xc[:-2], xc[1:-1], xc[2:]], dim=2)

    out = _scaled_dot_product(qc, neighbourhood(k), neighbourhood(v), stream.mask)
    return out.transpose(1, 2).reshape(stream.padded, heads, d)[:total]


@functools.cache
def _compiled_flex_attention():
    """FlexAttention must be compiled to run its fused kernel; compile once per process."""
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def _flex(q, k, v, layout: PackedLayout, is_global: bool) -> torch.Tensor:
    from torch.nn.attention.flex_attention import flex_attention

    if q.device.type == "cpu" and torch.is_grad_enabled() and q.requires_grad:
        raise UserError(
            "attention_backend 'flex' cannot train on CPU (PyTorch has no FlexAttention backward "
            "there); set attention_backend to 'sdpa' or 'auto'"
        )
    block_mask = layout.flex_block_mask(is_global)
    fn = _compiled_flex_attention() if q.device.type == "cuda" else flex_attention
    out = fn(*(x.transpose(0, 1).unsqueeze(0) for x in (q, k, v)), block_mask=block_mask)
    return out.squeeze(0).transpose(0, 1)


def _flash(q, k, v, layout: PackedLayout, is_global: bool) -> torch.Tensor:
    from flash_attn import flash_attn_varlen_func

    dtype = q.dtype
    if dtype not in (torch.float16, torch.bfloat16):  # flash-attn kernels are half precision only
        q, k, v = (x.to(torch.bfloat16) for x in (q, k, v))
    window = (-1, -1) if is_global else (layout.window_half, layout.window_half)
    out = flash_attn_varlen_func(
        q, k, v, layout.cu_seqlens, layout.cu_seqlens, layout.max_seqlen, layout.max_seqlen,
        dropout_p=0.0, causal=False, window_size=window,
    )
    return out.to(dtype)
