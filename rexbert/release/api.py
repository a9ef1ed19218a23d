"""The typed entry points of the release stage.

    from rexbert import export, fill_mask, import_hf
    from rexbert.release.api import ExportConfig, FillMaskConfig

    exported = export("run/phase3_anneal/final", "model", ExportConfig())
    exported.weights, exported.model_card
    imported = import_hf("answerdotai/ModernBERT-base", "ckpt/modernbert")   # hub cache or folder
    fill_mask("model", "navy cotton [MASK] for men", FillMaskConfig(top_k=3))

The CLI (`rexbert export | import-hf | fill-mask`) and `rexbert run` call these functions; the
settings live on `ExportConfig` / `FillMaskConfig` alone. Every load verifies the folder's
checkpoint.json checksums when present and refuses NaN/Inf weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from rexbert.config import ConfigModel
from rexbert.release.onnx import OnnxExportConfig, OnnxExportResult

__all__ = ["ExportConfig", "ExportResult", "FillMaskConfig", "ImportResult", "export",
           "fill_mask", "import_hf"]


class ExportConfig(ConfigModel):
    """How `rexbert export` writes the transformers / sentence-transformers folder (and, with
    `onnx.format: onnx`, the ONNX graphs beside it)."""

    sentence_max_length: int = Field(512, ge=8, description="max_seq_length of the exported "
                                                            "sentence-transformers model (tokens)")
    model_name: str | None = Field(None, description="the model's name in its card (title, "
                                                     "model-index); none: the output folder's name")
    license: str = Field("apache-2.0", min_length=1,
                         description="license the model card declares (a hub license id); check "
                                     "it against the terms of the training data")
    language: list[str] = Field(["en"], description="languages of the training text (ISO 639-1) "
                                                    "for the card; curation keeps English by default")
    datasets: list[str] = Field(default_factory=list,
                                description="datasets the card lists as trained on (hub ids or "
                                            "names), besides the hub ids found in the training data")
    onnx: OnnxExportConfig = Field(default_factory=OnnxExportConfig)


class FillMaskConfig(ConfigModel):
    """What `rexbert fill-mask` prints."""

    top_k: int = Field(5, ge=1, description="candidates per [MASK]")


@dataclass(frozen=True)
class ExportResult:
    """The exported folder and its files."""

    out: Path
    checkpoint: Path
    parameters: int
    onnx: OnnxExportResult | None = None  # the ONNX graphs, parity and int8 drift, when asked for

    @property
    def weights(self) -> Path:
        return self.out / "model.safetensors"

    @property
    def config(self) -> Path:
        return self.out / "config.json"

    @property
    def model_card(self) -> Path:
        return self.out / "README.md"

    @property
    def manifest(self) -> Path:
        """checkpoint.json: size and sha256 of every exported file."""
        return self.out / "checkpoint.json"


@dataclass(frozen=True)
class ImportResult:
    """The rexbert checkpoint made from a transformers folder (`init_from:` takes `out`)."""

    out: Path
    source: Path
    hub_id: str | None

    @property
    def weights(self) -> Path:
        return self.out / "model.safetensors"

    @property
    def config(self) -> Path:
        return self.out / "rexbert_config.json"

    @property
    def tokenizer(self) -> Path | None:
        folder = self.out / "tokenizer"
        return folder if folder.is_dir() else None


def export(checkpoint: str | Path, out: str | Path, cfg: ExportConfig | None = None,
           tokenizer: str | Path | None = None, overwrite: bool = False) -> ExportResult:
    """Export a rexbert checkpoint (verified on load) as a transformers + sentence-transformers
    folder `out`. `tokenizer` defaults to CHECKPOINT/tokenizer/; `overwrite` replaces an earlier
    export in `out` (never a folder holding files rexbert did not write)."""
    from rexbert.model.checkpoint import read_model_config
    from rexbert.model.config import count_parameters
    from rexbert.release.export import export_checkpoint

    cfg = cfg or ExportConfig()
    folder = export_checkpoint(checkpoint, out, tokenizer=tokenizer, overwrite=overwrite, settings=cfg)
    graphs = None
    if cfg.onnx.format == "onnx":
        from rexbert.release.onnx import export_onnx

        graphs = export_onnx(folder, folder, cfg.onnx)
    return ExportResult(folder, Path(checkpoint), count_parameters(read_model_config(checkpoint)), graphs)


def import_hf(model: str | Path, out: str | Path, overwrite: bool = False) -> ImportResult:
    """Turn a transformers ModernBERT folder, or a hub id of one, into a rexbert checkpoint."""
    from rexbert.model.checkpoint import looks_like_hub_id, resolve_model_dir
    from rexbert.release.export import import_hf as import_folder

    source = resolve_model_dir(model, "--model")
    hub_id = str(model) if looks_like_hub_id(model) else None
    folder = import_folder(source, out, overwrite=overwrite, hub_id=hub_id)
    return ImportResult(folder, source, hub_id)


def fill_mask(model: str | Path, text: str, cfg: FillMaskConfig | None = None) -> Any:
    """Top-k candidates per mask token of `text`, shaped as transformers' fill-mask pipeline
    returns them (one list, or one list per mask when there are several).

    `model`: a rexbert checkpoint, a transformers ModernBERT folder, or a hub id of one.
    """
    from rexbert.release.fill_mask import load_any, load_tokenizer, predict_masks

    cfg = cfg or FillMaskConfig()
    loaded, tokenizer_dir = load_any(model)
    return predict_masks(loaded, load_tokenizer(tokenizer_dir), text, top_k=cfg.top_k)
