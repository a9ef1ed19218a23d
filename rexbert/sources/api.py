"""The typed entry point of the demo-data stage: `demo_data(cfg, out) -> DemoData`.

The CLI (`rexbert demo-data`), the Python API and `rexbert run` all call `demo_data`; the
settings, their defaults, bounds and help text live on `DemoDataConfig` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from rexbert.config import ConfigModel

OUTPUT_KIND = "demo-data"


class DemoDataConfig(ConfigModel):
    """What `rexbert demo-data` generates."""

    seed: int = Field(0, ge=0, description="random seed; the same seed and size give byte-identical files")
    size: Literal["tiny", "small", "medium"] = Field(
        "small", description="tiny: a smoke-test corpus in about a second; small: about 18 MB in "
                             "seconds; medium: about 170 MB")


@dataclass(frozen=True)
class DemoData:
    """Where the demo datasets are: the web corpus, ESCI, GLUE-layout tasks and the truth file."""

    out: Path
    manifest: dict[str, Any]

    @property
    def corpus(self) -> Path:
        """FineFineWeb-layout web corpus: `corpus/<domain>/<domain>_000000.jsonl`."""
        return self.out / "corpus"

    @property
    def esci(self) -> Path:
        """The ESCI products/examples parquet pair."""
        return self.out / "esci"

    @property
    def glue(self) -> Path:
        """Demo tasks in the GLUE TSV layouts."""
        return self.out / "glue"

    @property
    def truth(self) -> Path:
        """Ground truth of every planted defect and commerce label (curation's evaluation)."""
        return self.out / "truth.jsonl"


def demo_data(cfg: DemoDataConfig, out: str | Path, overwrite: bool = False,
              progress: bool = True) -> DemoData:
    """Write the demo datasets into `out` (a new, empty or earlier demo-data folder).

    `overwrite` regenerates a folder that already holds demo data; a folder holding files rexbert
    did not write is refused whatever the flag says.
    """
    from rexbert import outputs
    from rexbert.errors import UserError
    from rexbert.sources.demo.generate import generate_demo_data

    out = Path(out)
    if out.is_dir() and outputs.owner_kind(out) == OUTPUT_KIND and any(
            p.name != outputs.MARKER for p in out.iterdir()):
        if not overwrite:
            raise UserError(f"--out {out}: already holds demo data; pass --overwrite to regenerate it, "
                            "or choose an empty folder")
        outputs.remove(out)
    outputs.claim(out, OUTPUT_KIND)
    manifest = generate_demo_data(out, seed=cfg.seed, size=cfg.size, progress=progress)
    outputs.seal(out)
    return DemoData(out, manifest)
