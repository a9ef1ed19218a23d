"""What each stage of `rexbert run` reads and where it writes.

The plan decides which text goes to which stage — the user's inputs, or the demo data for the
parts not given — and where under the run folder each stage writes. The stages themselves are
in `rexbert.run.stages`.

Run folder::

    OUT/run_config.yaml      the resolved run config
    OUT/data/                demo data, for the parts of the input not given
    OUT/curated/             curation output (kept/, rejected/, stats.json, report.md)
    OUT/tokenizer/           trained tokenizer (unless data.tokenizer names one)
    OUT/shards/              token shards and Guided-MLM spans
    OUT/pretrain/<arm>/      pretraining run folders (annealed, and each of pretrain.arms);
                             OUT/pretrain/<arm>.yaml their recipes
    OUT/models/<arm>/        exported transformers / sentence-transformers folders
    OUT/eval/                results.json, tables, per-example files (eval/examples/)
    OUT/report.md, OUT/report.html, OUT/figures/
    OUT/stages/<stage>.json  completion markers
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rexbert.errors import UserError
from rexbert.run.config import RunConfig
from rexbert.sources.documents import DocumentInput

ANNEALED = "annealed"


@dataclass(frozen=True)
class RunLayout:
    """Where every stage reads and writes under the run folder."""

    out: Path

    @property
    def data(self) -> Path:
        return self.out / "data"

    @property
    def curated(self) -> Path:
        return self.out / "curated"

    @property
    def tokenizer(self) -> Path:
        return self.out / "tokenizer"

    @property
    def shards(self) -> Path:
        return self.out / "shards"

    @property
    def eval(self) -> Path:
        return self.out / "eval"

    def pretrain_run(self, arm: str) -> Path:
        return self.out / "pretrain" / arm

    def recipe(self, arm: str) -> Path:
        return self.out / "pretrain" / f"{arm}.yaml"

    def model(self, arm: str) -> Path:
        return self.out / "models" / arm


class RunPlan:
    """What each stage of one run reads, from its config and run folder."""

    def __init__(self, cfg: RunConfig, out: Path):
        self.cfg = cfg
        self.layout = RunLayout(out)

    @property
    def arms(self) -> list[str]:
        """Every model the run trains: the annealed one, then the phase-3 arms."""
        return [ANNEALED, *self.cfg.pretrain.arms]

    # ---- which inputs are the user's and which the demo's ---------------------------------
    @property
    def demo_parts(self) -> list[str]:
        """The parts of the input that fall back to the demo data (the report lists them)."""
        data, evaluations = self.cfg.data, self.cfg.evaluate.evaluations
        parts = []
        if data.corpus is None and not data.domain_corpus:
            parts.append("web corpus")
        if data.pairs is None and "similarity" in evaluations:
            parts.append("query–product pairs")
        if data.mlm_eval is None and "mlm" in evaluations:
            parts.append("held-out product text")
        if data.glue_dir is None and "glue" in evaluations and self.cfg.evaluate.glue.tasks:
            parts.append("GLUE-layout tasks")
        return parts

    @cached_property
    def demo(self):
        from rexbert.sources.api import DemoData

        return DemoData(self.layout.data, manifest={})

    @property
    def web_corpus(self) -> DocumentInput | None:
        data = self.cfg.data
        if data.corpus is not None:
            return data.corpus
        return None if data.domain_corpus else DocumentInput(paths=[str(self.demo.corpus)])

    @property
    def domain_inputs(self) -> list[DocumentInput]:
        """Already on-domain text: its domain defaults to the domain source's name."""
        name = self.cfg.pretrain.domain_source
        return [spec if spec.domain or spec.domain_field else spec.model_copy(update={"domain": name})
                for spec in self.cfg.data.domain_corpus]

    @property
    def curate_inputs(self) -> list[DocumentInput]:
        return ([self.web_corpus] if self.web_corpus is not None else []) + self.domain_inputs

    @property
    def kept(self) -> DocumentInput:
        """The curated domain corpus, as one shard source named after the domain component."""
        from rexbert.curate.api import CurateResult

        kept = CurateResult.at(self.layout.curated).kept
        return DocumentInput(paths=[str(kept)], domain=self.cfg.pretrain.domain_source)

    def general_sources(self) -> list[str]:
        """Shard sources of the general mixture component.

        The paper's phases 1–2 train on a general mix, not on the domain corpus: the given
        general corpus, or else every domain of the web corpus that curation does not target
        (the demo's physics, law, history, …).
        """
        if self.cfg.data.general_corpus:
            return [self.cfg.pretrain.general_source]
        from rexbert.sources.documents import list_files

        targets = set(self.cfg.curate.all_domains) | {s.domain for s in self.domain_inputs}
        found = sorted({d for _, d in list_files(self.web_corpus)} - targets - {None}) \
            if self.web_corpus is not None else []
        if not found:
            raise UserError("the web corpus has no domain outside the ones curation targets, so there "
                            "is no general text; set data.general_corpus in the run config")
        return found

    def uncurated_sources(self) -> list[str]:
        """Shard sources of the `uncurated` arm: the web corpus's folders of the domains that
        curation targets, as they were before curation (rexbert run shards the whole web corpus
        beside the curated one)."""
        if self.web_corpus is None:
            raise UserError("pretrain.arms: 'uncurated' anneals on the web corpus's target-domain "
                            "folders before curation, and this run has no web corpus; set data.corpus "
                            "or drop 'uncurated'")
        from rexbert.sources.documents import list_files

        targets = set(self.cfg.curate.all_domains) - {self.cfg.pretrain.domain_source}
        found = sorted({d for _, d in list_files(self.web_corpus)} & targets)
        if not found:
            raise UserError(f"pretrain.arms: 'uncurated' needs web-corpus folders of the curated "
                            f"domains ({', '.join(sorted(targets))}); {self.web_corpus.paths} has none")
        return found

    @property
    def shard_inputs(self) -> list[DocumentInput]:
        """Everything the shards hold: the general text, the curated corpus, and — for the
        `uncurated` arm when the general text is the user's own — the web corpus as well."""
        inputs = [*self.general_inputs, self.kept]
        if "uncurated" in self.cfg.pretrain.arms and self.cfg.data.general_corpus and self.web_corpus:
            inputs.append(self.web_corpus)
        return inputs

    @property
    def mlm_input(self) -> DocumentInput:
        """Held-out product text for token recovery: the user's, or the demo ESCI products."""
        if self.cfg.data.mlm_eval is not None:
            return self.cfg.data.mlm_eval
        from rexbert.sources.esci import PRODUCTS_FILE

        return DocumentInput(paths=[str(self.demo.esci / PRODUCTS_FILE)],
                             text_fields=["product_title", "product_description"], id_field="product_id")

    @property
    def pairs(self):
        """Query–product judgments: the user's, or the demo ESCI pairs."""
        from rexbert.evaluate.api import PairsInput

        return self.cfg.data.pairs or PairsInput(esci=str(self.demo.esci))

    @property
    def glue_dir(self) -> Path | None:
        if self.cfg.data.glue_dir is not None:
            return Path(self.cfg.data.glue_dir)
        return self.demo.glue if "GLUE-layout tasks" in self.demo_parts else None

    @property
    def general_inputs(self) -> list[DocumentInput]:
        name = self.cfg.pretrain.general_source
        if self.cfg.data.general_corpus:
            return [spec.model_copy(update={"domain": name, "domain_field": None})
                    for spec in self.cfg.data.general_corpus]
        return [self.web_corpus]  # one shard source per domain; groups pick the general ones

