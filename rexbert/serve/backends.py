"""The model behind the server: rexbert's torch model on packed batches, or the ONNX graphs.

Both take token id lists (already tokenized and length-checked by the app) and return numpy
arrays: `embed` → [texts, H] mean-pooled float32 vectors, `mask_logits` → one [masks, V] array
per text. `split_by_budget` keeps every model call within the token budget.

torch: documents are packed end to end with `cu_seqlens` (no padding at all), the MLM head runs
only on the masked rows. onnx: documents sorted by length are cut into padded batches whose
padded area stays within `PADDING_WASTE` of their real tokens, so padding costs little even when
a merged batch mixes titles and paragraphs (measured: merging short rows into long ones to save
calls cost more CPU per request than the extra calls).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rexbert.errors import UserError

PADDING_WASTE = 1.25  # onnx batches: padded area ≤ 1.25 × real tokens (titles never pad to paragraphs)
MAX_PADDED_ROWS = 64  # onnx batches: rows per call (bounds the [rows, length, length] attention scores)


def split_by_budget(lengths: list[int], budget: int) -> Iterator[list[int]]:
    """Indices of consecutive documents whose tokens fit in `budget` (a longer one goes alone)."""
    group: list[int] = []
    used = 0
    for index, length in enumerate(lengths):
        if group and used + length > budget:
            yield group
            group, used = [], 0
        group.append(index)
        used += length
    if group:
        yield group


def padded_groups(lengths: list[int], budget: int) -> Iterator[list[int]]:
    """Indices of documents, longest first, in groups padded to their longest with little waste
    and at most `budget` padded tokens and MAX_PADDED_ROWS rows."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    group: list[int] = []
    real = 0
    for index in order:
        if group:
            longest = lengths[group[0]]
            rows = len(group) + 1
            padded = longest * rows
            if rows > MAX_PADDED_ROWS or padded > max(budget, longest) or \
                    padded > PADDING_WASTE * (real + lengths[index]):
                yield group
                group, real = [], 0
        group.append(index)
        real += lengths[index]
    if group:
        yield group


def _normalize(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


class TorchBackend:
    """rexbert's own model (a rexbert checkpoint or an exported folder, loaded exactly)."""

    name = "torch"

    def __init__(self, model, budget: int, normalize: bool):
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.budget = budget
        self.normalize = normalize
        self.dimensions = model.config.hidden_size
        self.max_positions = model.config.max_position_embeddings

    def _pack(self, token_lists: list[list[int]]):
        import torch

        lengths = torch.tensor([len(ids) for ids in token_lists])
        cu = torch.nn.functional.pad(lengths.cumsum(0), (1, 0)).to(torch.int32).to(self.device)
        flat = torch.tensor([t for ids in token_lists for t in ids], device=self.device)
        return flat, cu, int(lengths.max())

    def embed(self, token_lists: list[list[int]]) -> np.ndarray:
        """[texts, H] mean-pooled embeddings, in the order of `token_lists`."""
        import torch

        from rexbert.model.embed import mean_pool_packed

        out = np.empty((len(token_lists), self.dimensions), dtype=np.float32)
        with torch.inference_mode():
            for group in split_by_budget([len(ids) for ids in token_lists], self.budget):
                flat, cu, longest = self._pack([token_lists[i] for i in group])
                hidden = self.model.model(flat, cu, longest)
                out[group] = mean_pool_packed(hidden.float(), cu).cpu().numpy()
        return _normalize(out) if self.normalize else out

    def mask_logits(self, token_lists: list[list[int]], positions: list[list[int]]) -> list[np.ndarray]:
        """[masks, V] logits at each text's masked positions (the head runs on those rows only)."""
        import torch

        out: list[np.ndarray] = [np.empty(0)] * len(token_lists)
        with torch.inference_mode():
            for group in split_by_budget([len(ids) for ids in token_lists], self.budget):
                flat, cu, longest = self._pack([token_lists[i] for i in group])
                starts = cu[:-1].tolist()
                rows = torch.tensor([starts[k] + p for k, i in enumerate(group) for p in positions[i]],
                                    device=self.device)
                hidden = self.model.model(flat, cu, longest, output_rows=rows)
                logits = self.model.decode(hidden).float().cpu().numpy()
                counts = np.cumsum([0] + [len(positions[i]) for i in group])
                for k, i in enumerate(group):
                    out[i] = logits[counts[k]: counts[k + 1]]
        return out


class OnnxBackend:
    """The exported ONNX graphs (`MODEL/onnx/`) on onnxruntime."""

    name = "onnx"

    def __init__(self, folder: Path, precision: str, budget: int, normalize: bool,
                 threads: int | None = None, pad_id: int = 0, providers: list[str] | None = None):
        from rexbert.fileio import read_json
        from rexbert.release.onnx import ENCODER_FILE, FILL_MASK_FILE, INT8_SUFFIX, ONNX_DIR

        suffix = INT8_SUFFIX if precision == "int8" else ""
        self.paths = {name: folder / ONNX_DIR / (Path(file).stem + suffix + ".onnx")
                      for name, file in (("encoder", ENCODER_FILE), ("fill_mask", FILL_MASK_FILE))}
        if not self.paths["encoder"].is_file():
            hint = " --quantize int8" if precision == "int8" else ""
            raise UserError(f"--model {folder}: has no {ONNX_DIR}/{self.paths['encoder'].name}; export it "
                            f"with `rexbert export --format onnx{hint}`, or use --backend torch")
        self.sessions = {name: _session(path, threads, providers) for name, path in self.paths.items()
                         if path.is_file()}
        self.budget = budget
        self.normalize = normalize
        self.pad_id = pad_id
        outputs = {o.name: o for o in self.sessions["encoder"].get_outputs()}
        self.dimensions = int(outputs["sentence_embedding"].shape[-1])
        self.max_positions = int(read_json(folder / "config.json").get("max_position_embeddings", 512))

    def _run(self, graph: str, output: str, token_lists: list[list[int]]):
        from rexbert.release.onnx import pad_batch

        for group in padded_groups([len(ids) for ids in token_lists], self.budget):
            ids, mask = pad_batch([token_lists[i] for i in group], self.pad_id)
            yield group, self.sessions[graph].run([output], {"input_ids": ids, "attention_mask": mask})[0]

    def embed(self, token_lists: list[list[int]]) -> np.ndarray:
        """[texts, H] mean-pooled embeddings, in the order of `token_lists`."""
        out = np.empty((len(token_lists), self.dimensions), dtype=np.float32)
        for group, vectors in self._run("encoder", "sentence_embedding", token_lists):
            out[group] = vectors
        return _normalize(out) if self.normalize else out

    def mask_logits(self, token_lists: list[list[int]], positions: list[list[int]]) -> list[np.ndarray]:
        """[masks, V] logits at each text's masked positions."""
        if "fill_mask" not in self.sessions:
            raise UserError(f"{self.paths['fill_mask']}: not exported; export with fill_mask on")
        out: list[np.ndarray] = [np.empty(0)] * len(token_lists)
        for group, logits in self._run("fill_mask", "logits", token_lists):
            for row, i in enumerate(group):
                out[i] = logits[row, positions[i]]
        return out


def _session(path: Path, threads: int | None, providers: list[str] | None):
    from rexbert.release.onnx import ort_session

    session = ort_session(path, threads)
    if providers and providers != ["CPUExecutionProvider"]:
        session.set_providers(providers)
    return session


def load_backend(model: str | Path, backend: str, precision: str, device: str, budget: int,
                 normalize: bool, threads: int | None):
    """(backend, tokenizer) for a model folder: an exported transformers folder (torch or onnx)
    or a rexbert checkpoint (torch)."""
    from rexbert.release.fill_mask import load_any, load_tokenizer

    folder = Path(model)
    if backend == "torch":
        if precision == "int8":
            raise UserError("--precision int8 runs on the onnx backend; pass --backend onnx")
        import torch

        if threads:
            torch.set_num_threads(threads)
        loaded, tokenizer_dir = load_any(folder)
        use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
        if device == "cuda" and not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA device is visible; use --device cpu")
        loaded = loaded.to("cuda" if use_cuda else "cpu")
        if precision == "bf16":  # cast once, not per call as autocast would
            loaded = loaded.to(torch.bfloat16)
        return TorchBackend(loaded, budget, normalize), load_tokenizer(tokenizer_dir)
    from rexbert.release.onnx import ENCODER_FILE, ONNX_DIR

    if precision == "bf16":
        raise UserError("--precision bf16 runs on the torch backend; pass --backend torch (the onnx "
                        "backend has fp32 and int8 graphs)")
    if not folder.is_dir():
        raise UserError(f"--model {folder}: folder not found")
    if not (folder / ONNX_DIR / ENCODER_FILE).is_file():
        raise UserError(f"--model {folder}: has no {ONNX_DIR}/{ENCODER_FILE}; export it with "
                        "`rexbert export --format onnx`, or use --backend torch")
    try:
        tokenizer = load_tokenizer(folder)
    except UserError as err:  # transformers' reasons can span lines; the CLI prints one
        raise UserError(" ".join(str(err).split())) from err
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device != "cpu" and _ort_has_cuda() else None
    if device == "cuda" and providers is None:
        raise UserError("--device cuda: onnxruntime has no CUDA provider here; install onnxruntime-gpu or use --device cpu")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return OnnxBackend(folder, precision, budget, normalize, threads, pad_id, providers), tokenizer


def _ort_has_cuda() -> bool:
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()
