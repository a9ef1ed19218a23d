"""What the scale tests share: the curation recipe, running `rexbert curate` as a user does (a
subprocess of this interpreter), reading a curation's kept and rejected shards, and the wall times
printed at the end of the session."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import yaml

# Wall-clock seconds of what the tests ran (clusters, curations, whole tests), printed at the end.
TIMINGS: dict[str, float] = {}

# Where the recipe differs from the defaults, and why: two tasks per executor stage (so a run can
# be stopped with some shards finished and others not), four MinHash buckets (four bucket tasks
# instead of fourteen), the lexicon labeller in both labelling roles and two cross-validation folds
# (label, audit and distill work on the sample where the command is launched, whatever the
# executor, so here they only need to be quick). Every run in these tests uses this recipe; only
# the executor differs.
RECIPE = {
    "executor": {"tasks": 2},
    "cleaning": {"dedup": {"num_buckets": 4}},
    "labelling": {"labeller": {"backend": "lexicon"}, "auditor": {"backend": "lexicon"}},
    "distill": {"folds": 2},
}
TASKS = RECIPE["executor"]["tasks"]


@contextmanager
def timed(name: str):
    """Record the wall time of the block under `name` (when it completes)."""
    start = time.perf_counter()
    yield
    TIMINGS[name] = time.perf_counter() - start


def write_recipe(path: Path, executor: dict | None = None) -> Path:
    """The shared recipe, with `executor` options merged into its executor block."""
    recipe = json.loads(json.dumps(RECIPE))
    recipe["executor"].update(executor or {})
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return path


def curate_command(*args) -> list[str]:
    """`rexbert curate ARGS` with this interpreter."""
    return [sys.executable, "-m", "rexbert", "curate", *map(str, args)]


def run_curate(args: list, env: dict | None = None, timeout: float = 300) -> str:
    """Run `rexbert curate` to its exit; fails the test (with the output's tail) unless it exits 0."""
    result = subprocess.run(curate_command(*args), env=env, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"rexbert curate {' '.join(map(str, args))} exited {result.returncode}:\n{output[-4000:]}"
    return output


def read_shards(folder: Path) -> dict[str, dict]:
    """id → record over every JSONL shard under `folder`."""
    records: dict[str, dict] = {}
    for path in sorted(folder.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            assert record["id"] not in records, f"{record['id']} written twice ({path})"
            records[record["id"]] = record
    return records


def kept_documents(out: Path) -> dict[str, tuple[str, str]]:
    """id → (domain, text) of every kept document of a curation output."""
    docs = {doc_id: (r["domain"], r["text"]) for doc_id, r in read_shards(out / "kept").items()}
    assert docs, f"{out}/kept holds no document"
    return docs


def rejected_documents(out: Path) -> dict[str, tuple[str, str]]:
    """id → (stage, reason) of every rejected document of a curation output."""
    return {doc_id: (r["stage"], r["reason"]) for doc_id, r in read_shards(out / "rejected").items()}


def assert_same_curation(out: Path, reference: Path) -> None:
    """Document for document: the same kept ids, domains and texts, and the same rejections."""
    kept, expected = kept_documents(out), kept_documents(reference)
    assert kept.keys() == expected.keys(), (f"kept ids differ from {reference}: {len(kept.keys() - expected.keys())} "
                                            f"extra, {len(expected.keys() - kept.keys())} missing")
    changed = [doc_id for doc_id in expected if kept[doc_id] != expected[doc_id]]
    assert not changed, f"{len(changed)} kept documents differ from {reference}, e.g. {changed[:3]}"
    rejected, expected_rejected = rejected_documents(out), rejected_documents(reference)
    assert rejected == expected_rejected, f"rejections differ from {reference}"
    reasons = {stage for stage, _ in expected_rejected.values()}
    assert "dedup" in reasons, f"no near-duplicate was removed in {reference}, so MinHash went untested: {reasons}"


class LocalReference:
    """The local executor's curation of a corpus with the shared recipe, run once per session
    for each relevance switch."""

    def __init__(self, corpus: Path, root: Path):
        self.corpus, self.root = corpus, root
        self.outs: dict[bool, Path] = {}

    def out(self, relevance: bool = True) -> Path:
        """The output folder of the local run (running it the first time it is asked for)."""
        if relevance not in self.outs:
            name = "local" if relevance else "local-no-relevance"
            out = self.root / name
            args = ["--input", self.corpus, "--out", out, "--config", write_recipe(self.root / f"{name}.yaml"),
                    "--workers", "2", *([] if relevance else ["--no-relevance"])]
            with timed(f"curate, local executor{'' if relevance else ', --no-relevance'}"):
                run_curate(args)
            self.outs[relevance] = out
        return self.outs[relevance]
