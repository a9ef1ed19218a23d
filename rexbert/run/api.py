"""The typed entry point of `rexbert run`: `run(cfg, out, start_from=None) -> RunResult`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rexbert import outputs
from rexbert.fileio import atomic_write_text
from rexbert.run.config import RunConfig
from rexbert.run.plan import RunPlan
from rexbert.run.report import Verdict
from rexbert.run.runner import check_unchanged, run_stages

OUTPUT_KIND = "run"


@dataclass(frozen=True)
class RunResult:
    """What a finished run wrote and concluded."""

    out: Path
    timings: dict[str, float]
    verdict: Verdict

    @property
    def report_md(self) -> Path:
        return self.out / "report.md"

    @property
    def report_html(self) -> Path:
        return self.out / "report.html"


def run(cfg: RunConfig, out: str | Path, start_from: str | None = None, echo=print) -> RunResult:
    """Run every unfinished stage of `cfg` into the run folder `out`.

    Raises `rexbert.run.runner.StageStopped` when a stage stops early (a signal, queued cluster
    jobs): the same call later continues where it stopped.
    """
    from rexbert.run.report import read_verdict
    from rexbert.run.stages import stage_list

    out = outputs.claim(Path(out), OUTPUT_KIND)
    plan = RunPlan(cfg, out)
    stages = stage_list(plan)
    check_unchanged(out, stages, start_from)  # before run_config.yaml says anything new
    atomic_write_text(out / "run_config.yaml", cfg.to_yaml())
    timings = run_stages(out, stages, start_from=start_from, echo=echo)
    outputs.seal(out)
    return RunResult(out, timings, read_verdict(plan))
