"""Finding, describing and loading the model folders that evaluations compare.

Any folder that transformers or sentence-transformers can load works: a rexbert export, a
`save_pretrained` folder, or a sentence-transformers folder (`modules.json` + a Transformer
module), or a hub id found in the local hub cache (downloaded only when the network is allowed).
Every load checks the folder's checkpoint.json when it has one and refuses NaN/Inf weights; a
damaged weights file is a one-line error, not a traceback from the weights reader.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rexbert.errors import UserError
from rexbert.evaluate.results import ModelInfo
from rexbert.model.checkpoint import looks_like_hub_id, resolve_model_dir

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


@dataclass(frozen=True)
class ModelSpec:
    """A model to evaluate: the name shown in tables, its folder, and the hub id it came from."""

    name: str
    path: Path
    hub_id: str | None = None


Models = Sequence[str | Path | ModelSpec] | Mapping[str, str | Path]


def _split_name(value: str | Path | ModelSpec) -> tuple[str | None, str]:
    if isinstance(value, ModelSpec):
        return value.name, str(value.path)
    text = str(value)
    name, sep, rest = text.partition("=")
    if sep and name and "/" not in name:
        return name, rest
    return None, text


def _checked_folder(value: str) -> tuple[Path, str | None]:
    hub_id = value if looks_like_hub_id(value) else None
    path = resolve_model_dir(value, "--model")
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise UserError(
            f"{path}: not a model folder (no config.json or modules.json); pass a folder "
            "written by save_pretrained, rexbert export or sentence-transformers"
        )
    return path, hub_id


def parse_model_specs(values: Models) -> list[ModelSpec]:
    """Turn `--model` values (`DIR`, `NAME=DIR`, a hub id, or a {name: dir} mapping) into specs
    with unique names.

    Without a name the folder's basename (or the hub id's name) is used; clashing basenames get
    their parent folder prepended, so `runs/a/model` and `runs/b/model` show as `a/model` and
    `b/model`.
    """
    items = ([(str(name), str(path)) for name, path in values.items()]
             if isinstance(values, Mapping) else [_split_name(v) for v in values])
    if not items:
        raise UserError("--model: give at least one model folder")
    folders = [_checked_folder(value) for _, value in items]
    bases = [hub.rsplit("/", 1)[-1] if hub else path.resolve().name for path, hub in folders]
    result = []
    for (name, _), (path, hub), base in zip(items, folders, bases, strict=True):
        if name is None:
            name = base if bases.count(base) == 1 or hub else f"{path.resolve().parent.name}/{base}"
        result.append(ModelSpec(name, path, hub))
    names = [s.name for s in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"--model: name '{duplicates[0]}' is used twice; give distinct NAME=DIR names")
    return result


def check_loaded_weights(model: Any, folder: Path) -> None:
    """Refuse a loaded model whose weights hold NaN/Inf (a corrupt file that still parsed)."""
    from rexbert.model.checkpoint import check_finite

    check_finite(model.state_dict().items(), str(folder))


def load_transformers_model(auto_class: Any, folder: Path, what: str, **kwargs: Any) -> Any:
    """`auto_class.from_pretrained(folder, **kwargs)`, verified, with one-line errors.

    The folder's checkpoint.json (written by `rexbert export`) is checked first; a weights file
    that cannot be read or holds NaN/Inf is refused naming the folder.
    """
    from safetensors import SafetensorError

    from rexbert.model.checkpoint import require_intact

    require_intact(folder)
    try:
        with quiet_transformers():
            loaded = auto_class.from_pretrained(str(folder), **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{folder}: cannot load with {what} ({reason}); the folder is incomplete or "
                        "its weights are corrupt — re-export or re-download it") from err
    check_loaded_weights(loaded[0] if isinstance(loaded, tuple) else loaded, folder)
    return loaded


def transformers_dir(path: Path) -> Path:
    """The folder holding config.json: the root, or a sentence-transformers Transformer module's."""
    modules_file = path / "modules.json"
    if modules_file.is_file():
        try:
            modules = json.loads(modules_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise UserError(f"{modules_file}: not valid JSON ({err})") from err
        for module in modules if isinstance(modules, list) else []:
            if str(module.get("type", "")).endswith("Transformer"):
                candidate = path / module.get("path", "")
                if (candidate / "config.json").is_file():
                    return candidate
    if not (path / "config.json").is_file():
        raise UserError(f"{path}: no config.json; this folder holds no transformers model")
    return path


def fingerprint(path: Path) -> str:
    """Cheap identity of a model's weights (file names, sizes, mtimes) for resume keys.

    Retraining into the same folder changes the fingerprint, so old results are not reused.
    """
    digest = hashlib.sha1()
    for file in sorted(path.rglob("*")):
        if file.is_file() and file.suffix in WEIGHT_SUFFIXES:
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Identity of a tokenizer: vocabulary, mask token and how it splits a probe sentence.

    The probe catches normalisation differences (lower-casing, accents) that the vocabulary
    alone would not; equal fingerprints tokenize, and so mask, alike.
    """
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    probe = tokenizer("Red Leather Shoes, size 42 — Café-style™ for WOMEN!")["input_ids"]
    payload = json.dumps([vocab, tokenizer.mask_token, probe], ensure_ascii=False)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()[:12]


def count_parameters(module: Any) -> int:
    """Number of distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in module.parameters())


def describe(spec: ModelSpec, encoder: Any, tokenizer: Any | None = None) -> ModelInfo:
    """The report's entry for a model: path, source, architecture, encoder parameter count.

    `encoder` is the backbone without task heads, so the count is comparable across the
    masked-LM, similarity and GLUE evaluations of the same model.
    """
    config = getattr(encoder, "config", None)
    architectures = getattr(config, "architectures", None) or [type(encoder).__name__]
    origin = str(getattr(config, "_name_or_path", "") or "")
    resolved = str(spec.path.resolve())
    if spec.hub_id:
        source = f"hub:{spec.hub_id} ({resolved})"
    elif not origin or Path(origin).resolve() == Path(resolved):
        source = resolved
    else:
        source = f"{resolved} (from {origin})"
    return ModelInfo(
        path=resolved,
        source=source,
        architecture=str(architectures[0]),
        parameters=count_parameters(encoder),
        fingerprint=fingerprint(spec.path),
        tokenizer=tokenizer_fingerprint(tokenizer) if tokenizer is not None else "",
    )


def pick_device(requested: str = "auto") -> str:
    """`auto` → cuda when available, else cpu; an explicit unavailable cuda is a UserError."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available; use --device cpu")
    return requested


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and per-file load bars while loading a model.

    We turn the problems those reports list (missing head weights) into our own errors, and the
    load bars would bury the evaluation's own progress bars.
    """
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)
        if bars:
            hf_logging.enable_progress_bar()


def load_tokenizer(path: Path) -> Any:
    """AutoTokenizer from a model folder, with a clear error when it is missing."""
    from transformers import AutoTokenizer

    folder = transformers_dir(path)
    try:
        with quiet_transformers():
            return AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError, TypeError) as err:
        raise UserError(f"{folder}: cannot load a tokenizer ({str(err).splitlines()[0]})") from err


def load_masked_lm(spec: ModelSpec, device: str) -> tuple[Any, Any]:
    """(model, tokenizer) for masked-token recovery; refuses folders that cannot do it.

    transformers happily builds a masked-LM head with random weights when the folder has none
    (a sentence-transformers export, say), which would score near zero and look like a result.
    So missing head weights and a tokenizer without a mask token are errors here.
    """
    from transformers import AutoModelForMaskedLM

    folder = transformers_dir(spec.path)
    tokenizer = load_tokenizer(spec.path)
    if tokenizer.mask_token_id is None:
        raise UserError(
            f"{folder}: the tokenizer has no mask token; masked-token recovery needs one "
            '(set "mask_token" in tokenizer_config.json)'
        )
    model, info = load_transformers_model(AutoModelForMaskedLM, folder, "AutoModelForMaskedLM",
                                          output_loading_info=True)
    prefix = f"{model.base_model_prefix}."
    head_missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith(prefix))
    if head_missing:
        raise UserError(
            f"{folder}: no masked-LM head weights (missing {head_missing[0]} and "
            f"{len(head_missing) - 1} more); `evaluate mlm` needs a folder saved with its MLM head"
        )
    return model.to(device).eval(), tokenizer


def _build_sentence_encoder(path: Path, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    if (path / "modules.json").is_file():
        return SentenceTransformer(str(path), device=device)
    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling, Transformer
    transformer = Transformer(str(transformers_dir(path)))
    dimension = (transformer.get_embedding_dimension()
                 if hasattr(transformer, "get_embedding_dimension")
                 else transformer.get_word_embedding_dimension())
    return SentenceTransformer(modules=[transformer, Pooling(dimension, "mean")], device=device)


def load_sentence_encoder(spec: ModelSpec, device: str, max_length: int | None = None) -> Any:
    """A SentenceTransformer for the folder; plain transformers encoders get mean pooling.

    Mean pooling is the paper's choice for wrapping encoders that were not trained as sentence
    encoders. `max_length` caps the window (the model's own window is the default). The folder
    is verified as in `load_transformers_model`.
    """
    from safetensors import SafetensorError

    from rexbert.model.checkpoint import require_intact

    require_intact(spec.path)
    try:
        with quiet_transformers():
            model = _build_sentence_encoder(spec.path, device)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{spec.path}: cannot load as a sentence encoder ({reason}); the folder is "
                        "incomplete or its weights are corrupt — re-export or re-download it") from err
    check_loaded_weights(model, spec.path)
    window = model_window(
        model.transformers_model.config if hasattr(model, "transformers_model") else None
    )
    limits = [n for n in (max_length, window, model.max_seq_length) if n]
    if limits:
        model.max_seq_length = min(limits)
    return model


def model_window(config: Any) -> int | None:
    """The longest input the model's position embeddings allow, if the config says."""
    value = getattr(config, "max_position_embeddings", None)
    return int(value) if value else None


def sentence_backbone(model: Any) -> Any:
    """The transformers model inside a SentenceTransformer (for parameter counts)."""
    backbone = getattr(model, "transformers_model", None)
    if backbone is None:
        backbone = getattr(model[0], "auto_model", model[0])
    return backbone
