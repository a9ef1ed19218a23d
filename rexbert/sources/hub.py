"""Loading a dataset from the Hugging Face hub through `datasets`, with a clear error offline.

`datasets` is imported lazily: the readers for local files must work (and `rexbert --help` must
answer quickly) without touching it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from rexbert.errors import UserError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def looks_like_hub_id(source: str | Path) -> bool:
    """True when `source` is not an existing path but has the `owner/name` shape of a hub id."""
    text = str(source)
    return not Path(text).exists() and bool(_HUB_ID.match(text))


def _offline() -> bool:
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def load_hub_dataset(hub_id: str, split: str = "train", streaming: bool = True, **kwargs: Any) -> Any:
    """`datasets.load_dataset(hub_id, split=split, streaming=streaming, **kwargs)` or a `UserError`.

    Offline (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE set) or on any download failure the error names
    the hub id and the fix: download the files elsewhere and pass the local folder instead.
    """
    fix = (f"download '{hub_id}' on a machine with network access and pass the local folder "
           "or files instead")
    if _offline():
        raise UserError(f"hub dataset '{hub_id}': offline mode is set (HF_HUB_OFFLINE); {fix}")
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - datasets is a declared dependency
        raise UserError(f"hub dataset '{hub_id}': the 'datasets' package is missing; pip install datasets") from err
    try:
        return datasets.load_dataset(hub_id, split=split, streaming=streaming, **kwargs)
    except Exception as err:  # network, auth, missing repo: all become one line with the fix
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"hub dataset '{hub_id}': could not load ({first_line}); {fix}") from err


def download_hub_folder(hub_id: str, target: str | Path, allow_patterns: list[str] | None = None) -> Path:
    """Download (or finish downloading) a hub dataset repository's files into `target`.

    Used for corpora stored as files in a folder layout (FineFineWeb's `<domain>/<domain>_NNNNNN.jsonl`):
    the stages then read a local folder, and a rerun finds the files already there (the hub
    client skips files it has). `allow_patterns` limits the download, e.g. to the wanted domains.
    """
    fix = (f"download '{hub_id}' on a machine with network access (huggingface-cli download "
           f"{hub_id} --repo-type dataset --local-dir DIR) and pass the local folder instead")
    if _offline():
        raise UserError(f"hub dataset '{hub_id}': offline mode is set (HF_HUB_OFFLINE); {fix}")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as err:  # pragma: no cover - a dependency of transformers
        raise UserError(f"hub dataset '{hub_id}': huggingface_hub is missing; pip install huggingface_hub") from err
    try:
        path = snapshot_download(repo_id=hub_id, repo_type="dataset", local_dir=str(target),
                                 allow_patterns=allow_patterns)
    except Exception as err:  # network, auth, missing repo: one line with the fix
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"hub dataset '{hub_id}': could not download ({first_line}); {fix}") from err
    return Path(path)
