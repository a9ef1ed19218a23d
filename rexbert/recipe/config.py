"""The configuration of `rexbert run`: which data, which recipe, how much evaluation.

With no file every field keeps its default, which is the embedded default: the generated demo
corpus, the nano model on the demo pretraining recipe, and an evaluation sized for 2 CPU cores.
At real scale a YAML points the same stages at real data (see configs/run/).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from rexbert.config import ConfigModel


class DataSection(ConfigModel):
    """Inputs. Leave `corpus` empty to generate the demo data (`rexbert demo-data`)."""

    demo_size: str = Field("small", pattern="^(tiny|small|medium)$")
    corpus: str | None = Field(None, description="FineFineWeb-layout folder (or hub id when online)")
    esci: str | None = Field(None, description="folder with the two ESCI parquet files")
    glue_dir: str | None = Field(None, description="GLUE TSV folder (SST-2/, QNLI/, …)")
    general_corpus: str | None = Field(
        None, description="general-domain text for phases 1–2 and the control (files or folder "
                          "with a `text` field); default: the corpus's domains outside the curated set")

    @model_validator(mode="after")
    def _real_data_together(self) -> DataSection:
        given = [name for name in ("corpus", "esci", "glue_dir") if getattr(self, name)]
        if given and "corpus" not in given:
            raise ValueError("set data.corpus as well when esci or glue_dir is given; "
                             "without it the demo corpus is generated and evaluated")
        return self


class CurateSection(ConfigModel):
    """The curation stage: a `rexbert curate` config file and its parallelism."""

    config: str | None = Field(None, description="curation YAML (default: the paper's recipe)")
    workers: int = Field(2, ge=1)
    executor: str = Field("local", pattern="^(local|slurm|ray)$")


class TokenizerSection(ConfigModel):
    """Train a BPE tokenizer of `vocab_size`, or reuse an existing tokenizer folder."""

    vocab_size: int = Field(4096, ge=256)
    path: str | None = Field(None, description="existing tokenizer folder to use instead")
    max_documents: int | None = Field(None, ge=1)


class PretrainSection(ConfigModel):
    """The pretraining recipe (phases 1–3) and the control model."""

    recipe: str | None = Field(None, description="pretrain YAML (default: the packaged demo recipe)")
    general_source: str = "general"
    domain_source: str = "ecommerce"
    anneal_phase: str = Field("anneal", description="name of the domain-annealing phase in the recipe")
    control: bool = Field(True, description="also train a control: same compute, no domain annealing")
    workers: int = Field(2, ge=1, description="processes for token shard building")
    nproc_per_node: int = Field(1, ge=1, description=">1: launch pretraining with torchrun (DDP/FSDP2)")
    max_steps: int | None = Field(None, ge=1, description="cap each phase (smoke runs)")


class EvaluateSection(ConfigModel):
    """Evaluation sizes; the defaults keep the demo inside its time budget on 2 CPU cores."""

    mlm_block_sizes: list[int] = Field(default_factory=lambda: [128, 256, 512])
    mlm_topk: list[int] = Field(default_factory=lambda: [1, 3, 5])
    mlm_max_examples: int | None = Field(400, ge=1)
    similarity_epochs: float = Field(1.0, gt=0)
    similarity_lr: float = Field(1e-4, gt=0)
    similarity_batch_size: int = Field(32, ge=2)
    similarity_max_train: int | None = Field(2000, ge=1)
    similarity_max_test: int | None = Field(1000, ge=1)
    similarity_max_length: int | None = Field(128, ge=8)
    glue_tasks: list[str] = Field(default_factory=lambda: ["sst2", "qnli", "qqp", "mnli", "stsb"])
    glue_epochs: float = Field(2.0, gt=0)
    glue_lr: float = Field(1e-4, gt=0)
    glue_batch_size: int = Field(32, ge=1)
    glue_max_length: int = Field(128, ge=8)
    glue_max_train: int | None = Field(600, ge=1)
    glue_max_eval: int | None = Field(300, ge=1)


class RunConfig(ConfigModel):
    """Everything `rexbert run` needs; every section has working defaults."""

    seed: int = 0
    data: DataSection = Field(default_factory=DataSection)
    curate: CurateSection = Field(default_factory=CurateSection)
    tokenizer: TokenizerSection = Field(default_factory=TokenizerSection)
    pretrain: PretrainSection = Field(default_factory=PretrainSection)
    evaluate: EvaluateSection = Field(default_factory=EvaluateSection)
