"""The stages of `rexbert run`, each one a call of another rexbert command on files.

The recipe owns no stage logic: it only decides paths and arguments and calls the same
subcommands a user would (`demo-data`, `curate`, `tokenizer train`, `shards build`, `spans mine`,
`pretrain`, `export`, `evaluate`, `report`), so the end-to-end run exercises exactly the user's
code paths and every intermediate folder is a valid input to those commands.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from rexbert.errors import UserError
from rexbert.fileio import atomic_write_text
from rexbert.recipe.config import RunConfig
from rexbert.recipe.runner import Stage, StageNotFinished

MODEL_NAMES = ("annealed", "control")


def packaged_config(relative: str) -> Path:
    """Path of a recipe shipped inside the package (`rexbert/configs/…`)."""
    path = Path(str(resources.files("rexbert") / "configs" / relative))
    if not path.is_file():
        raise UserError(f"packaged config {relative} is missing from this install; reinstall rexbert")
    return path


def resolve_config_path(value: str, key: str) -> str:
    """A config file named in a run config: an existing path, or one of the packaged recipes.

    `configs/pretrain/micro.yaml` (or `pretrain/micro.yaml`) names the file shipped with rexbert,
    so the example run configs work from any directory and from a non-editable install.
    """
    if Path(value).is_file():
        return value
    relative = value.removeprefix("configs/")
    packaged = Path(str(resources.files("rexbert") / "configs" / relative))
    if packaged.is_file():
        return str(packaged)
    raise UserError(f"{key}: {value} is neither a file nor a packaged config (see configs/)")


def invoke(argv: list[str]) -> None:
    """Run one rexbert subcommand in this process; a failure stops the run with its reason."""
    from rexbert.cli.main import main

    try:
        status = main(["--log-level", "WARNING", *argv])
    except SystemExit as exit_:  # argparse rejected the arguments (already printed)
        status = exit_.code if isinstance(exit_.code, int) else 2
    if status != 0:
        raise UserError(
            f"stage command failed: rexbert {' '.join(argv)} (see the message above); fix it and "
            "rerun the same `rexbert run` command to continue where it stopped"
        )


def torchrun_command(argv: list[str], nproc_per_node: int) -> list[str]:
    """The `torchrun --nproc_per_node N -m rexbert …` command line for one subcommand."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc_per_node}", "-m", "rexbert", *argv]


def launch_torchrun(argv: list[str], nproc_per_node: int) -> None:
    """Run a subcommand on `nproc_per_node` processes of this node (DDP / FSDP2 training)."""
    command = torchrun_command(argv, nproc_per_node)
    status = subprocess.run(command, check=False).returncode
    if status != 0:
        raise UserError(f"stage command failed with exit code {status}: {' '.join(command)}; fix it "
                        "and rerun the same `rexbert run` command to continue where it stopped")


@dataclass(frozen=True)
class RunPaths:
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

    def pretrain_run(self, model: str) -> Path:
        return self.out / "pretrain" / model

    def recipe(self, model: str) -> Path:
        return self.out / "pretrain" / f"{model}.yaml"

    def export(self, model: str) -> Path:
        return self.out / "models" / model


class Recipe:
    """Builds the ordered stage list for one run folder and config."""

    def __init__(self, cfg: RunConfig, out: Path):
        self.cfg = cfg
        self.paths = RunPaths(out)

    # ---- inputs -------------------------------------------------------------------------
    @property
    def corpus(self) -> str:
        return self.cfg.data.corpus or str(self.paths.data / "corpus")

    @property
    def esci(self) -> Path:
        return Path(self.cfg.data.esci) if self.cfg.data.esci else self.paths.data / "esci"

    @property
    def glue_dir(self) -> Path | None:
        if self.cfg.data.glue_dir:
            return Path(self.cfg.data.glue_dir)
        return None if self.cfg.data.corpus else self.paths.data / "glue"

    @property
    def uses_demo_data(self) -> bool:
        return self.cfg.data.corpus is None

    @property
    def tokenizer_dir(self) -> Path:
        return Path(self.cfg.tokenizer.path) if self.cfg.tokenizer.path else self.paths.tokenizer

    def models(self) -> list[str]:
        return list(MODEL_NAMES if self.cfg.pretrain.control else MODEL_NAMES[:1])

    # ---- stages -------------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        """Every stage in order (names are what `--from` accepts)."""
        paths = self.paths
        annealed = paths.pretrain_run("annealed")
        stages = []
        if self.uses_demo_data:
            stages.append(Stage("data", "demo data", self.make_demo_data, (paths.data,)))
        stages += [
            Stage("curate", "curation", self.curate, (paths.curated,)),
            Stage("tokenizer", "tokenizer", self.train_tokenizer, (paths.tokenizer,)),
            Stage("shards", "token shards and Guided-MLM spans", self.build_shards, (paths.shards,)),
            Stage("phase1", "phase 1: general MLM", lambda: self.pretrain("annealed", 0), (annealed,)),
            Stage("phase2", "phase 2: context extension", lambda: self.pretrain("annealed", 1),
                  tuple(annealed.glob("phase2_*"))),
            Stage("phase3", "phase 3: domain annealing with Guided MLM",
                  lambda: self.pretrain("annealed", 2), tuple(annealed.glob("phase3_*"))),
        ]
        if self.cfg.pretrain.control:
            stages.append(Stage("control", "control: phase 3 on the general mix", self.pretrain_control,
                                (paths.pretrain_run("control"),)))
        stages += [
            Stage("export", "export to transformers / sentence-transformers", self.export,
                  (paths.out / "models",)),
            Stage("evaluate", "evaluation", self.evaluate, (paths.eval,)),
            Stage("report", "report", self.report),
        ]
        return stages

    def make_demo_data(self) -> None:
        argv = ["demo-data", "--out", str(self.paths.data), "--seed", str(self.cfg.seed),
                "--size", self.cfg.data.demo_size]
        if self.paths.data.exists():  # a killed earlier attempt: regenerate (deterministic)
            argv.append("--overwrite")
        invoke(argv)

    def curate(self) -> None:
        argv = ["curate", "--input", self.corpus, "--out", str(self.paths.curated),
                "--workers", str(self.cfg.curate.workers), "--executor", self.cfg.curate.executor]
        if self.cfg.curate.config:
            argv += ["--config", resolve_config_path(self.cfg.curate.config, "curate.config")]
        invoke(argv)
        if not (self.paths.curated / "stats.json").is_file():
            raise StageNotFinished("curation jobs were queued on the cluster; run the same "
                                   "`rexbert run` command again when they have finished")
        truth = self.paths.data / "truth.jsonl"
        if self.uses_demo_data and truth.is_file():
            # Quality bars against the planted defects: an evaluation, outside the pipeline.
            invoke(["curate", "evaluate", "--out", str(self.paths.curated), "--truth", str(truth)])

    def train_tokenizer(self) -> None:
        if self.cfg.tokenizer.path:
            return
        argv = ["tokenizer", "train", "--input", self.corpus, str(self.paths.curated / "kept"),
                "--vocab-size", str(self.cfg.tokenizer.vocab_size), "--out", str(self.paths.tokenizer)]
        if self.cfg.tokenizer.max_documents:
            argv += ["--max-documents", str(self.cfg.tokenizer.max_documents)]
        invoke(argv)

    def general_domains(self) -> list[str]:
        """Domain folders of the corpus that curation does not target: the general text.

        The paper's phases 1–2 train on a general mix, not on the domain corpus; the demo's
        analogue is every web domain outside the curated set (physics, law, history, …).
        """
        from rexbert.curate.config import read_config

        curated = read_config(self.paths.curated / "config.yaml").domains
        declared = {*curated.filter_required, *curated.directly_selected}
        corpus = Path(self.corpus)
        found = sorted(p.name for p in corpus.iterdir() if p.is_dir()) if corpus.is_dir() else []
        general = [d for d in found if d not in declared]
        if not general:
            raise UserError(f"{corpus}: every domain folder is one curation targets, so there is no "
                            "general text; set data.general_corpus to a general-domain corpus")
        return general

    def build_shards(self) -> None:
        general, domain = self.cfg.pretrain.general_source, self.cfg.pretrain.domain_source
        general_input = (f"{general}={self.cfg.data.general_corpus}" if self.cfg.data.general_corpus
                         else self.corpus)  # one source per domain folder; grouped in the recipe
        invoke(["shards", "build", "--input", general_input, f"{domain}={self.paths.curated / 'kept'}",
                "--tokenizer", str(self.tokenizer_dir), "--out", str(self.paths.shards),
                "--workers", str(self.cfg.pretrain.workers)])
        invoke(["spans", "mine", "--shards", str(self.paths.shards), "--source", domain,
                "--reference-source", *self.general_sources()])

    def general_sources(self) -> list[str]:
        """Shard sources that make up the general mixture component."""
        if self.cfg.data.general_corpus:
            return [self.cfg.pretrain.general_source]
        return self.general_domains()

    def _recipe_data(self) -> dict:
        source = (Path(resolve_config_path(self.cfg.pretrain.recipe, "pretrain.recipe"))
                  if self.cfg.pretrain.recipe else packaged_config("pretrain/demo.yaml"))
        from rexbert.config import load_config
        from rexbert.train.config import PretrainConfig

        recipe = load_config(PretrainConfig, source)  # validate before anything trains
        names = [p.name for p in recipe.phases]
        if len(names) != 3 or self.cfg.pretrain.anneal_phase != names[2]:
            raise UserError(f"{source}: `rexbert run` expects three phases ending with "
                            f"'{self.cfg.pretrain.anneal_phase}', got {names}")
        data = recipe.model_dump(mode="json")
        data["seed"] = self.cfg.seed
        data["data"]["tokenizer"] = str(self.tokenizer_dir)
        data["data"]["shards"] = str(self.paths.shards)
        data["data"]["groups"] = {self.cfg.pretrain.general_source: self.general_sources(),
                                  self.cfg.pretrain.domain_source: [self.cfg.pretrain.domain_source]}
        return data

    def _write_recipe(self, model: str, data: dict) -> Path:
        path = self.paths.recipe(model)
        atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
        return path

    def pretrain(self, model: str, phase_index: int) -> None:
        data = self._recipe_data()
        recipe = self._write_recipe(model, data)
        phase = data["phases"][phase_index]["name"]
        self._run_pretrain(recipe, self.paths.pretrain_run(model), phase)

    def _run_pretrain(self, recipe: Path, run_dir: Path, phase: str) -> None:
        argv = ["pretrain", "--config", str(recipe), "--out", str(run_dir), "--phases", phase]
        if run_dir.exists():
            argv.append("--resume")
        if self.cfg.pretrain.max_steps:
            argv += ["--max-steps", str(self.cfg.pretrain.max_steps)]
        if self.cfg.pretrain.nproc_per_node > 1:
            launch_torchrun(argv, self.cfg.pretrain.nproc_per_node)
        else:
            invoke(argv)

    def pretrain_control(self) -> None:
        """Phase 3 from the same phase-2 weights, on the phase-1 general mix: equal compute."""
        data = self._recipe_data()
        first, second, anneal = data["phases"]
        anneal["init_from"] = str(self.paths.pretrain_run("annealed") / f"phase2_{second['name']}" / "final")
        anneal["mixture"] = {**first["mixture"], "end_weights": None, "schedule": "constant"}
        anneal["masking"]["guided_share"] = 0.0
        data["phases"] = [anneal]
        recipe = self._write_recipe("control", data)
        self._run_pretrain(recipe, self.paths.pretrain_run("control"), anneal["name"])

    def final_checkpoint(self, model: str) -> Path:
        """The last phase's final checkpoint of `model`'s run."""
        run = self.paths.pretrain_run(model)
        finals = sorted(run.glob("phase*/final"))
        if not finals:
            raise UserError(f"{run}: no finished phase; rerun with `--from phase1`")
        return finals[-1]

    def export(self) -> None:
        for model in self.models():
            target = self.paths.export(model)
            if target.exists():
                shutil.rmtree(target)
            invoke(["export", "--checkpoint", str(self.final_checkpoint(model)), "--out", str(target)])

    def evaluate(self) -> None:
        ev = self.cfg.evaluate
        models = [str(self.paths.export(m)) for m in self.models()]
        out = str(self.paths.eval)
        seed = ["--seed", str(self.cfg.seed)]
        products = self.esci / "shopping_queries_dataset_products.parquet"
        mlm = ["evaluate", "mlm", "--model", *models, "--data", str(products),
               "--text-field", "product_title,product_description", "--out", out,
               "--block-sizes", ",".join(map(str, ev.mlm_block_sizes)),
               "--topk", ",".join(map(str, ev.mlm_topk)), *seed]
        if ev.mlm_max_examples:
            mlm += ["--max-examples", str(ev.mlm_max_examples)]
        invoke(mlm)
        sim = ["evaluate", "similarity", "--model", *models, "--esci", str(self.esci), "--out", out,
               "--epochs", str(ev.similarity_epochs), "--lr", str(ev.similarity_lr),
               "--batch-size", str(ev.similarity_batch_size), *seed]
        for flag, value in (("--max-train-examples", ev.similarity_max_train),
                            ("--max-test-examples", ev.similarity_max_test),
                            ("--max-length", ev.similarity_max_length)):
            if value:
                sim += [flag, str(value)]
        invoke(sim)
        if self.glue_dir is not None and ev.glue_tasks:
            glue = ["evaluate", "glue", "--model", *models, "--tasks", ",".join(ev.glue_tasks),
                    "--glue-dir", str(self.glue_dir), "--out", out,
                    "--epochs", str(ev.glue_epochs), "--lr", str(ev.glue_lr),
                    "--batch-size", str(ev.glue_batch_size), "--max-length", str(ev.glue_max_length),
                    *seed]
            for flag, value in (("--max-train-examples", ev.glue_max_train),
                                ("--max-eval-examples", ev.glue_max_eval)):
                if value:
                    glue += [flag, str(value)]
            invoke(glue)

    def report(self) -> None:
        from rexbert.recipe.report import write_run_report
        from rexbert.recipe.runner import stage_timings

        runs = {m: self.paths.pretrain_run(m) for m in self.models()}
        write_run_report(self.paths.out, runs, self.paths.data if self.uses_demo_data else None,
                         self.paths.curated, self.paths.eval, stage_timings(self.paths.out))
