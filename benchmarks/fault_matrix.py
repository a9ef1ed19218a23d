"""The fault matrix: every fault and bad input rexbert promises to survive, run against the
installed `rexbert` command, with a table `case | expected | observed | pass`.

Each row reproduces one fault on small files the script writes itself in a temporary folder (the
tiny demo data from `rexbert demo-data --size tiny` where a corpus is needed, a 2-layer model,
a few training steps) and observes what a user would: the exit status, the one error line, and
the files left behind. The rows follow the reliability promises of docs/reliability.md:

  1 output folders: a folder holding files rexbert did not write is refused, never emptied
  2 preemption: a stage stopped by a signal is not marked finished; the same command resumes
  3 state files: a crafted pickle is never unpickled, verified or not
  4 bad records and files: a bad record is rejected with a reason while the stage finishes; a
    bad file or config value is one error line naming it
  5 corruption: damaged or non-finite weights are refused by every loader
  6 curation is byte-identical across two runs and across kills and reruns
  7 a changed config on a finished run folder is refused with what differs
  8 the test suite catches two planted mutations (run on a temporary copy of the package)
  9 smaller promises: corrected commands after a failure, errors that name real flags,
    domain typos, NaN scores, unparsable labeller answers, folder permissions

`--quick` leaves out the rows that need a whole `rexbert run` (2.3, 2.4, 7.2, 1.3, 8.3), about
a third of the time of a full run. Exit status 0 when every row passes, 1 otherwise.

    nice -n 15 python benchmarks/fault_matrix.py [--quick] [--only 4. 6.1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
MARKER = ".rexbert-output.json"
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
       "TOKENIZERS_PARALLELISM": "false"}


# ------------------------------------------------------------------------------ the command


def rexbert_command() -> list[str]:
    """The installed console script beside this interpreter, else `python -m rexbert`."""
    script = Path(sys.executable).parent / "rexbert"
    if script.is_file():
        return [str(script)]
    found = shutil.which("rexbert")
    return [found] if found else [sys.executable, "-m", "rexbert"]


@dataclass
class Done:
    """What a finished command printed and returned."""

    args: tuple[str, ...]
    rc: int
    out: str
    err: str


def rexbert(*args: str, cwd: Path | None = None, timeout: float = 900) -> Done:
    done = subprocess.run([*rexbert_command(), *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **ENV}, timeout=timeout)
    return Done(args, done.returncode, done.stdout, done.stderr)


def launch(*args: str, log: Path) -> subprocess.Popen:
    """Start `rexbert ARGS` in a process group of its own (so a kill reaches its helpers), with
    everything it prints going to `log`."""
    with log.open("w") as handle:
        return subprocess.Popen([*rexbert_command(), *args], stdout=handle, stderr=subprocess.STDOUT,
                                env={**os.environ, **ENV}, start_new_session=True)


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen, timeout: float = 600) -> bool:
    """Poll `condition` every 20 ms while `proc` runs; False when it ended first or timed out."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.02)
    return False


@functools.cache
def options_of(command: str) -> frozenset[str]:
    """Every option of `rexbert COMMAND`, read from the usage block of its --help."""
    usage = rexbert(*command.split(), "--help").out.split("\n\n")[0]
    return frozenset(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", usage))


# ------------------------------------------------------------------------------ observing


class World:
    """The temporary folder, the fixtures built in it on first use, and what was observed."""

    def __init__(self, root: Path, quick: bool = False) -> None:
        self.root = root
        self.quick = quick
        self.errors: list[tuple[str, str]] = []  # (command, error line) of every expected error

    def short(self, text: str, limit: int = 120) -> str:
        text = " ".join(text.replace(str(self.root), "T").split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)


def error_line(done: Done) -> str | None:
    """The one `rexbert: error:` line when it is the last thing printed and nothing else is an
    error or a traceback; else None."""
    lines = [line for line in done.err.splitlines() if line.strip()]
    errors = [line for line in lines if "rexbert: error:" in line]
    if len(errors) != 1 or not lines or lines[-1] != errors[0] or not errors[0].startswith("rexbert: error:"):
        return None
    if "Traceback" in done.err or "| ERROR" in done.err:
        return None
    return errors[0]


def refused(w: World, done: Done, *fragments: str) -> tuple[str, bool]:
    """Observed text and verdict for 'exit 2 with one error line holding `fragments`'."""
    line = error_line(done)
    command = " ".join(a for a in done.args[:2] if not a.startswith("-")) if done.args[0] in (
        "evaluate", "shards", "tokenizer", "spans") else done.args[0]
    if line is not None:
        w.errors.append((command, line))
    ok = done.rc == 2 and line is not None and all(f in line for f in fragments)
    if line is None:
        last = (done.err.strip().splitlines() or ["(nothing on stderr)"])[-1]
        return f"exit {done.rc}, no single error line: {w.short(last, 90)}", False
    return f"exit {done.rc}: \"{w.short(line.removeprefix('rexbert: error: '), 100)}\"", ok


def refused_each(w: World, runs: dict[str, Done], *fragments: str) -> tuple[str, bool]:
    """`refused` for several commands given the same fault: the exits, and the first line."""
    seen = {name: refused(w, done, *fragments) for name, done in runs.items()}
    bad = [name for name, (_, ok) in seen.items() if not ok]
    if bad:
        return "; ".join(f"{name}: {text}" for name, (text, _) in seen.items()), False
    first = next(iter(seen.values()))[0].split(": ", 1)[1]
    return f"{', '.join(runs)}: exit 2 each, one line, e.g. {first}", True


def files(folder: Path, skip: tuple[str, ...] = ("work", "timings.json", MARKER)) -> dict[str, bytes]:
    """Every file under `folder` by relative path (top-level names in `skip` left out)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).parts[0] not in skip}


def bit_rot(path: Path) -> None:
    """Flip one byte in the tensor data of a safetensors file (same size)."""
    data = bytearray(path.read_bytes())
    header = int.from_bytes(data[:8], "little")
    data[8 + header + (len(data) - 8 - header) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def put_nan(path: Path) -> str:
    """Rewrite a safetensors file with one NaN in its first 2-D tensor; returns that name."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    name = next(n for n, t in sorted(tensors.items()) if t.dim() == 2)
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = float("nan")
    save_file(tensors, str(path), metadata={"format": "pt"})
    return name


class CreatesFile:
    """Unpickling this creates a file: what a crafted trainer_state.pt would do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def plant_pickle(checkpoint: Path, payload: Path, rewrite_manifest: bool) -> None:
    """Replace trainer_state.pt with a crafted pickle (and, as an attacker would, its checksum)."""
    import torch

    state = checkpoint / "trainer_state.pt"
    torch.save({"step": 1, "optimizer": CreatesFile(payload)}, state)
    if rewrite_manifest:
        manifest = json.loads((checkpoint / "checkpoint.json").read_text())
        manifest["files"]["trainer_state.pt"] = {"size": state.stat().st_size,
                                                 "sha256": hashlib.sha256(state.read_bytes()).hexdigest()}
        (checkpoint / "checkpoint.json").write_text(json.dumps(manifest))


def read_records(folder: Path) -> dict[str, dict]:
    """Every record of the JSONL(.gz) files under `folder`, by id."""
    found = {}
    for path in sorted(folder.rglob("*.jsonl*")):
        text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
        for line in text.splitlines():
            record = json.loads(line)
            found[record["id"]] = record
    return found


# ------------------------------------------------------------------------------ fixtures

CURATE_FULL = """\
domains: {filter_required: [news, sports], directly_selected: [fashion]}
sampling: {per_domain: 30}
audit: {per_domain: 10, max_rounds: 2}
distill: {epochs: 10, folds: 3}
labelling:
  labeller: {backend: lexicon}
  auditor: {backend: lexicon, lexicon: {threshold: 2.0}}
"""
CURATE_DIRECT = "domains: {filter_required: [], directly_selected: [news, sports, fashion]}\n"
WHOLE_EVALUATE = {"mlm": {"block_sizes": [128], "max_examples": 16},
                  "similarity": {"max_train_examples": 16, "max_test_examples": 16},
                  "glue": {"tasks": ["sst2", "stsb"], "epochs": 1.0, "max_train_examples": 16,
                           "max_test_examples": 16}}
TINY_MODEL = {"preset": "nano", "overrides": {"num_layers": 2, "hidden_size": 32, "intermediate_size": 64,
                                              "num_heads": 2}}


def tiny_phase(name: str, init_from: str | None, steps: int, seq_len: int = 64, **extra) -> dict:
    return {"name": name, "init_from": init_from, "seq_len": seq_len, "steps": steps, "batch_tokens": 512,
            "micro_batch_tokens": 256, "optimizer": {"lr": 3e-3, "weight_decay": 3e-4, "reset": False},
            "schedule": {"warmup_fraction": 0.25}, "mixture": {"weights": {"general": 1.0}}, **extra}


def tiny_recipe(general_steps: int = 12, tokenizer: str | None = None, shards: str | None = None,
                three_phases: bool = False) -> dict:
    """A 2-layer recipe: general (fresh), [context,] anneal from the previous phase's moments."""
    anneal = tiny_phase("anneal", "previous", 4, schedule={"decay_fraction": 1.0},
                        mixture={"weights": {"general": 0.5, "ecommerce": 0.5}})
    phases = [tiny_phase("general", None, general_steps)]
    if three_phases:
        phases.append(tiny_phase("context", "previous", 4, seq_len=128))
    recipe = {"seed": 0, "model": TINY_MODEL,
              "data": {"holdout_documents": 4, "lookahead": 16},
              "eval": {"every_steps": 4, "sets": {"general": ["general"], "domain": ["ecommerce"]},
                       "max_documents": 4, "seq_len": 64},
              "checkpoint": {"every_steps": 2, "keep_last": 2},
              "logging": {"every_steps": 1, "tensorboard": False, "progress_bar": False},
              "phases": [*phases, anneal]}
    if tokenizer is not None:
        recipe["data"].update(tokenizer=tokenizer, shards=shards)
    return recipe


WHOLE_RUN = {"data": {"demo": {"size": "tiny"}}, "tokenizer": {"vocab_size": 512},
             "curate": {"labelling": {"labeller": {"backend": "lexicon"}, "auditor": {"backend": "lexicon"}}},
             "pretrain": {"recipe": tiny_recipe(24, three_phases=True)}, "evaluate": WHOLE_EVALUATE}


def partial_run_config(missing_wordlist: Path, seed: int = 0) -> str:
    return yaml.safe_dump({"seed": seed, "data": {"demo": {"size": "tiny"}},
                           "curate": {"cleaning": {"profanity": {"wordlist_path": str(missing_wordlist)}}}})


def must(done: Done, what: str) -> Done:
    if done.rc != 0:
        raise RuntimeError(f"{what} failed (exit {done.rc}): {(done.err or done.out)[-1500:]}")
    return done


class Fixtures(World):
    """Inputs several rows share, each built once on first use."""

    @functools.cached_property
    def demo(self) -> Path:
        must(rexbert("demo-data", "--size", "tiny", "--out", str(self.path("demo"))), "demo-data")
        return self.path("demo")

    def corpus(self, name: str, domains: tuple[str, ...] = ("fashion", "news", "sports")) -> Path:
        """A fresh copy of some demo domain folders (FineFineWeb layout)."""
        root = self.path(name)
        for domain in domains:
            shutil.copytree(self.demo / "corpus" / domain, root / domain)
        return root

    def config(self, name: str, text: str) -> Path:
        path = self.path(name)
        path.write_text(text)
        return path

    @functools.cached_property
    def c3(self) -> Path:
        """Three demo domains: news and sports relevance-filtered, fashion selected directly."""
        return self.corpus("c3")

    @functools.cached_property
    def curate_full(self) -> Path:
        return self.config("curate_full.yaml", CURATE_FULL)

    @functools.cached_property
    def curated(self) -> Path:
        """A clean curation of three demo domains, every stage run and fastText models trained."""
        out = self.path("curated")
        must(rexbert("curate", "--input", str(self.c3), "--out", str(out), "--config", str(self.curate_full)),
             "curate")
        return out

    @functools.cached_property
    def tokenizer(self) -> Path:
        out = self.path("tok")
        must(rexbert("tokenizer", "train", "--input", str(self.demo / "corpus"), "--vocab-size", "512",
                     "--out", str(out)), "tokenizer train")
        return out

    @functools.cached_property
    def shards(self) -> Path:
        general = self.corpus("general_text", ("history", "law", "physics", "politics"))
        shop = self.corpus("shop_text", ("fashion", "beauty"))
        out = self.path("shards")
        must(rexbert("shards", "build", "--input", f"general={general}", f"ecommerce={shop}", "--tokenizer",
                     str(self.tokenizer), "--out", str(out)), "shards build")
        return out

    @functools.cached_property
    def recipe(self) -> Path:
        path = self.path("recipe.yaml")
        path.write_text(yaml.safe_dump(tiny_recipe(12, str(self.tokenizer), str(self.shards))))
        return path

    @functools.cached_property
    def reference_run(self) -> Path:
        """The tiny recipe trained without interruption."""
        must(rexbert("pretrain", "--config", str(self.recipe), "--out", str(self.path("ref"))), "pretrain")
        return self.path("ref")

    @functools.cached_property
    def checkpoint(self) -> Path:
        return (self.reference_run / "phase2_anneal" / "final").resolve()

    @functools.cached_property
    def exported(self) -> Path:
        must(rexbert("export", "--model", str(self.checkpoint), "--out", str(self.path("model"))), "export")
        return self.path("model")

    def copy(self, source: Path, name: str) -> Path:
        target = self.path(name)
        shutil.copytree(source, target, symlinks=True)
        return target

    @functools.cached_property
    def product_texts(self) -> Path:
        return self.demo / "esci" / "shopping_queries_dataset_products.parquet"

    @functools.cached_property
    def partial_run(self) -> tuple[Path, Path]:
        """A run folder whose demo-data stage finished and whose curation then stopped on a config
        naming a missing word list (exit 2): what a failed first attempt leaves behind."""
        config = self.config("partial.yaml", partial_run_config(self.path("missing-1.txt")))
        out = self.path("prun")
        done = rexbert("run", "--config", str(config), "--out", str(out))
        if done.rc != 2 or not (out / "stages" / "data.json").is_file():
            raise RuntimeError(f"the partial run did not stop after its data stage: {done.err[-800:]}")
        return out, config

    @functools.cached_property
    def whole_run_stopped(self) -> dict:
        """`rexbert run` of the tiny whole-run config, sent SIGTERM once phase 1 has logged a step."""
        config = self.config("whole.yaml", yaml.safe_dump(WHOLE_RUN, sort_keys=False))
        out = self.path("frun")
        metrics = out / "pretrain" / "annealed" / "metrics.csv"
        proc = launch("run", "--config", str(config), "--out", str(out), log=self.path("frun-1.log"))
        in_phase1 = wait_for(lambda: metrics.is_file() and len(metrics.read_text().splitlines()) > 1, proc, 3600)
        proc.send_signal(signal.SIGTERM)  # the run's own process, as a scheduler's preemption
        proc.wait(timeout=900)
        return {"config": config, "out": out, "rc": proc.returncode, "in_phase1": in_phase1,
                "printed": self.path("frun-1.log").read_text(),
                "marked": (out / "stages" / "phase1.json").exists(),
                "checkpoints": sorted(p.name for p in (out / "pretrain" / "annealed").glob("phase1_*/checkpoint-*"))}

    @functools.cached_property
    def whole_run(self) -> tuple[Path, Path]:
        """The stopped whole run, finished by the same command."""
        stopped = self.whole_run_stopped
        self.whole_run_resumed = must(rexbert("run", "--config", str(stopped["config"]), "--out",
                                              str(stopped["out"]), timeout=3600), "the resumed run")
        return stopped["out"], stopped["config"]

    def mlm(self, model: Path, out: str) -> Done:
        return rexbert("evaluate", "mlm", "--model", str(model), "--input", str(self.product_texts),
                       "--text-field", "product_title", "--block-sizes", "64", "--max-examples", "8",
                       "--out", str(self.path(out)))


# ------------------------------------------------------------------------------ the rows


@dataclass
class Case:
    id: str
    title: str
    expected: str
    run: Callable[[Fixtures], tuple[str, bool]]
    whole_run: bool = False  # needs a whole `rexbert run` (left out by --quick)


CASES: list[Case] = []


def case(id: str, title: str, expected: str, whole_run: bool = False):
    def register(fn: Callable[[Fixtures], tuple[str, bool]]):
        CASES.append(Case(id, title, expected, fn, whole_run))
        return fn
    return register


def both(*parts: tuple[str, bool]) -> tuple[str, bool]:
    return "; ".join(text for text, _ in parts), all(ok for _, ok in parts)


def fact(text: str, ok: bool) -> tuple[str, bool]:
    return text if ok else f"NOT {text}", ok


# 1 ---- output folders ---------------------------------------------------------------------

@case("1.1", "`run --out OUT` where OUT holds data/corpus/mine.jsonl and report.md",
      "exit 2, one line; both files unchanged, nothing added")
def run_over_user_files(w: Fixtures):
    out = w.path("user_out")
    (out / "data" / "corpus").mkdir(parents=True)
    (out / "data" / "corpus" / "mine.jsonl").write_text('{"text": "mine"}\n')
    (out / "report.md").write_text("my report")
    before = files(out, skip=())
    return both(refused(w, rexbert("run", "--out", str(out)), "not written by rexbert"),
                fact("files unchanged", files(out, skip=()) == before))


@case("1.2", "`run --from data` on a run folder whose data/ holds the user's corpus/mine.jsonl",
      "exit 2 naming mine.jsonl; it and data/ kept")
def from_data_keeps_user_file(w: Fixtures):
    out, config = w.partial_run
    mine = out / "data" / "corpus" / "mine.jsonl"
    mine.write_text('{"text": "mine"}\n')
    before = files(out / "data", skip=())
    done = rexbert("run", "--config", str(config), "--out", str(out), "--from", "data")
    kept = files(out / "data", skip=())
    mine.unlink()
    return both(refused(w, done, "mine.jsonl: not written by rexbert"), fact("data/ unchanged", kept == before))


@case("1.3", "`run --from data` on a finished run whose eval/ holds the user's notes.md",
      "exit 2 naming notes.md, checked before anything is deleted", whole_run=True)
def from_data_checks_every_stage_first(w: Fixtures):
    out, config = w.whole_run
    notes = out / "eval" / "notes.md"
    notes.write_text("my notes")
    before = files(out, skip=())
    done = rexbert("run", "--config", str(config), "--out", str(out), "--from", "data")
    after = files(out, skip=())
    notes.unlink()
    before.pop(MARKER, None), after.pop(MARKER, None)
    return both(refused(w, done, "notes.md: not written by rexbert"), fact("run folder unchanged", after == before))


@case("1.4", "`import-hf --out` a folder holding the user's model.safetensors",
      "exit 2, one line; the user's file unchanged")
def import_hf_refuses(w: Fixtures):
    mine = w.path("mine_import")
    mine.mkdir()
    (mine / "model.safetensors").write_bytes(b"the user's own weights")
    done = rexbert("import-hf", "--model", str(w.exported), "--out", str(mine))
    return both(refused(w, done, "not empty and not written by rexbert"),
                fact("file unchanged", files(mine, skip=()) == {"model.safetensors": b"the user's own weights"}))


@case("1.5", "every command with --out a folder holding a user's file",
      "each exits 2 with one line; the folder unchanged")
def every_out_refuses(w: Fixtures):
    mine = w.path("mine_everywhere")
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    commands = {
        "demo-data": ["demo-data", "--size", "tiny"],
        "curate": ["curate", "--input", str(w.demo / "corpus"), "--config", str(w.config("d.yaml", CURATE_DIRECT))],
        "tokenizer train": ["tokenizer", "train", "--input", str(w.demo / "corpus")],
        "shards build": ["shards", "build", "--input", str(w.demo / "corpus"), "--tokenizer", str(w.tokenizer)],
        "pretrain": ["pretrain", "--config", str(w.recipe)],
        "export": ["export", "--model", str(w.checkpoint)],
        "evaluate mlm": ["evaluate", "mlm", "--model", str(w.exported), "--input", str(w.product_texts),
                         "--text-field", "product_title"],
    }
    failed = [name for name, argv in commands.items()
              if not refused(w, rexbert(*argv, "--out", str(mine)), str(mine))[1]]
    unchanged = files(mine, skip=()) == {"notes.txt": b"mine"}
    return both((f"{len(commands) - len(failed)}/{len(commands)} refused" + (f" (not: {', '.join(failed)})"
                                                                              if failed else ""), not failed),
                fact("folder unchanged", unchanged))


# 2 ---- preemption ---------------------------------------------------------------------

def final_weights(run: Path) -> dict[str, bytes]:
    return {p.parent.name: (p / "model.safetensors").read_bytes() for p in sorted(run.glob("phase*/final"))}


@functools.cache
def stopped_pretrain(w: Fixtures) -> tuple[Done, Path]:
    """`rexbert pretrain` of the tiny recipe, sent SIGTERM after its first logged step."""
    run = w.path("stopped")
    log = w.path("stopped.log")
    proc = launch("pretrain", "--config", str(w.recipe), "--out", str(run), log=log)
    metrics = run / "metrics.csv"
    wait_for(lambda: metrics.is_file() and len(metrics.read_text().splitlines()) > 1, proc, 600)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=600)
    printed = log.read_text()
    w.copy(run, "stopped-copy")  # for the state-file and corruption rows, before the resume
    return Done(("pretrain",), proc.returncode, "", printed), run


@case("2.1", "SIGTERM to `rexbert pretrain` during phase 1",
      "exit 143, one line naming the checkpoint and --resume; phase 1 not marked finished")
def pretrain_sigterm(w: Fixtures):
    done, run = stopped_pretrain(w)
    line = next((x for x in done.err.splitlines() if "stopped by SIGTERM" in x), "")
    checkpoints = sorted(p.name for p in (run / "phase1_general").glob("checkpoint-*"))
    return both((f"exit {done.rc}: {w.short(line)}", done.rc == 143 and "--resume" in line),
                fact(f"phase 1 unfinished, checkpoints {', '.join(checkpoints)}",
                     bool(checkpoints) and not (run / "phase1_general" / "final.json").exists()))


@case("2.2", "`rexbert pretrain --resume` after that SIGTERM",
      "exit 0; final weights of both phases byte-identical to an uninterrupted run")
def pretrain_resume(w: Fixtures):
    _, run = stopped_pretrain(w)
    done = rexbert("pretrain", "--config", str(w.recipe), "--out", str(run), "--resume")
    same = final_weights(run) == final_weights(w.reference_run) and len(final_weights(run)) == 2
    return both((f"exit {done.rc}", done.rc == 0), fact("weights identical to the uninterrupted run", same))


@case("2.3", "SIGTERM to `rexbert run` during phase 1", "exit 143; no stages/phase1.json; it says to rerun",
      whole_run=True)
def run_sigterm(w: Fixtures):
    s = w.whole_run_stopped
    said = "run the same `rexbert run` command again to resume" in s["printed"]
    return both((f"exit {s['rc']}", s["rc"] == 143 and s["in_phase1"]),
                fact("phase 1 not marked finished", not s["marked"]),
                fact(f"checkpoints {', '.join(s['checkpoints'])}", bool(s["checkpoints"])),
                fact("says to rerun the same command", said))


@case("2.4", "the same `rexbert run` again, then once more",
      "exit 0; phase 1 resumed (each step once); the third run skips all 11 stages", whole_run=True)
def run_resumes(w: Fixtures):
    out, config = w.whole_run
    rows = (out / "pretrain" / "annealed" / "metrics.csv").read_text().splitlines()
    steps = [int(r.split(",")[1]) for r in rows[1:] if r.startswith("general,")]
    again = rexbert("run", "--config", str(config), "--out", str(out))
    return both(("exit 0", True),
                fact(f"phase 1 steps 1..{steps[-1] if steps else 0} once each",
                     steps == list(range(1, len(steps) + 1)) and len(steps) == 24),
                fact(f"rerun: exit {again.rc}, {again.out.count('already done')} stages already done",
                     again.rc == 0 and again.out.count("already done") == 11))


# 3 ---- state files ---------------------------------------------------------------------

def crafted_source(w: Fixtures, name: str, rewrite_manifest: bool, manifest: bool = True) -> tuple[Path, Path]:
    """A copy of the stopped run's newest checkpoint whose trainer_state.pt is a crafted pickle."""
    stopped_pretrain(w)
    newest = sorted((w.path("stopped-copy") / "phase1_general").glob("checkpoint-*"),
                    key=lambda p: int(p.name.split("-")[1]))[-1]
    source = w.copy(newest, name)
    payload = w.path(f"{name}-payload-ran")
    plant_pickle(source, payload, rewrite_manifest)
    if not manifest:
        (source / "checkpoint.json").unlink()
    return source, payload


def init_from(w: Fixtures, source: Path, name: str) -> Done:
    """Pretrain one phase from `source`, carrying its optimizer moments (optimizer.reset: false)."""
    recipe = tiny_recipe(12, str(w.tokenizer), str(w.shards))
    recipe["phases"] = [dict(recipe["phases"][1], init_from=str(source))]
    path = w.path(f"{name}.yaml")
    path.write_text(yaml.safe_dump(recipe))
    return rexbert("pretrain", "--config", str(path), "--out", str(w.path(f"{name}-run")))


@case("3.1", "phase `init_from: DIR` (moments carried) whose trainer_state.pt is a crafted pickle, "
             "checkpoint.json rewritten to match", "exit 2, one line; the pickle's code never ran")
def crafted_init_from(w: Fixtures):
    source, payload = crafted_source(w, "crafted1", rewrite_manifest=True)
    return both(refused(w, init_from(w, source, "crafted1"), "refusing to load it"),
                fact("payload not run", not payload.exists()))


@case("3.2", "the same with checkpoint.json left stale, and with it removed",
      "exit 2 each ('damaged checkpoint', 'cannot be verified'); the code never ran")
def crafted_unverified(w: Fixtures):
    stale, payload1 = crafted_source(w, "crafted2", rewrite_manifest=False)
    bare, payload2 = crafted_source(w, "crafted3", rewrite_manifest=False, manifest=False)
    return both(refused(w, init_from(w, stale, "crafted2"), "damaged checkpoint (trainer_state.pt"),
                refused(w, init_from(w, bare, "crafted3"), "cannot be verified and will not be loaded"),
                fact("payload not run", not payload1.exists() and not payload2.exists()))


@case("3.3", "`pretrain --resume` whose newest checkpoint holds a crafted pickle (checksums rewritten)",
      "exit 2, one line; the code never ran")
def crafted_resume(w: Fixtures):
    stopped_pretrain(w)
    run = w.copy(w.path("stopped-copy"), "crafted-resume")
    newest = sorted((run / "phase1_general").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[-1]
    payload = w.path("crafted-resume-payload-ran")
    plant_pickle(newest, payload, rewrite_manifest=True)
    done = rexbert("pretrain", "--config", str(w.recipe), "--out", str(run), "--resume")
    return both(refused(w, done, "trainer_state.pt: holds a reference to", "refusing to load it"),
                fact("payload not run", not payload.exists()))


# 4 ---- bad records and files -----------------------------------------------------------------

SURROGATE = '{"text": "A cut emoji \\ud83d in an otherwise fine listing of shoes", "id": "bad-1", "url": "u"}'


def read_rejects(out: Path) -> list[dict]:
    return [json.loads(line) for p in sorted((out / "rejected").rglob("*.jsonl")) for line in p.read_text().splitlines()]


@case("4.1", "a lone surrogate (JSON \"\\ud83d\") in one record of `curate` input, then the same command again",
      "exit 0 twice; the record in rejected/ as bad_text with file and line; stats count it")
def surrogate_curate(w: Fixtures):
    corpus = w.corpus("c3_surrogate")
    source = corpus / "fashion" / "fashion_000000.jsonl"
    line = len(source.read_text().splitlines()) + 1
    with source.open("a") as handle:
        handle.write(SURROGATE + "\n")
    out = w.path("surrogate_out")
    argv = ("curate", "--input", str(corpus), "--out", str(out), "--config", str(w.config("d.yaml", CURATE_DIRECT)))
    first, second = rexbert(*argv), rexbert(*argv)
    bad = [r for r in read_rejects(out) if r["reason"] == "bad_text"] if out.is_dir() else []
    counted = json.loads((out / "stats.json").read_text())["drop_reasons"].get("bad_text") if first.rc == 0 else None
    placed = len(bad) == 1 and bad[0]["source_line"] == line and "lone surrogate" in bad[0]["detail"]
    return both((f"exit {first.rc}, rerun exit {second.rc}", first.rc == second.rc == 0),
                fact(f"rejected as bad_text at line {line}", placed), fact("counted in stats.json", counted == 1))


@case("4.2", "the same record in `tokenizer train` and `shards build` input, each run twice",
      "exit 0; rejects.jsonl lists it as bad_text; the rerun writes the same files")
def surrogate_data(w: Fixtures):
    folder = w.path("surrogate_in")
    folder.mkdir()
    lines = [json.dumps({"text": f"navy cotton shirt size {i} for men"}) for i in range(40)]
    lines.insert(10, SURROGATE)
    (folder / "x.jsonl").write_text("\n".join(lines) + "\n")
    parts = []
    for name, argv in (("tokenizer", ["tokenizer", "train", "--input", str(folder), "--vocab-size", "320"]),
                       ("shards", ["shards", "build", "--input", str(folder), "--tokenizer", str(w.tokenizer)])):
        out = w.path(f"surrogate_{name}")
        first = rexbert(*argv, "--out", str(out))
        before = files(out, skip=(MARKER,)) if first.rc == 0 else None
        second = rexbert(*argv, "--out", str(out))
        rejects = [(r["line"], r["reason"]) for r in map(json.loads, (out / "rejects.jsonl").read_text().splitlines())] \
            if (out / "rejects.jsonl").is_file() else []
        ok = first.rc == second.rc == 0 and rejects == [(11, "bad_text")] and files(out, skip=(MARKER,)) == before
        parts.append(fact(f"{name}: exit {first.rc}/{second.rc}, rejects {rejects}", ok))
    return both(*parts)


@case("4.3", "a parquet file of garbage bytes in the input of `curate`, `shards build` and `evaluate mlm`",
      "exit 2 each, one line naming the file; no ArrowInvalid traceback")
def garbage_parquet(w: Fixtures):
    corpus = w.corpus("c3_garbage")
    garbage = corpus / "fashion" / "fashion_000001.parquet"
    garbage.write_bytes(b"PAR1 not parquet" * 40)
    curate = rexbert("curate", "--input", str(corpus), "--out", str(w.path("garbage_curate")), "--config",
                     str(w.config("d.yaml", CURATE_DIRECT)))
    shards = rexbert("shards", "build", "--input", str(corpus), "--tokenizer", str(w.tokenizer), "--out",
                     str(w.path("garbage_shards")))
    mlm = rexbert("evaluate", "mlm", "--model", str(w.exported), "--input", str(garbage), "--out",
                  str(w.path("garbage_mlm")))
    return refused_each(w, {"curate": curate, "shards build": shards, "evaluate mlm": mlm}, str(garbage),
                        "not a readable parquet file")


@case("4.4", "`betas: [0.9, 1.5]` in a pretrain recipe", "exit 2, one line naming the key; no run folder")
def bad_betas(w: Fixtures):
    recipe = tiny_recipe(12, str(w.tokenizer), str(w.shards))
    recipe["phases"][0]["optimizer"]["betas"] = [0.9, 1.5]
    path = w.path("betas.yaml")
    path.write_text(yaml.safe_dump(recipe))
    out = w.path("betas-run")
    return both(refused(w, rexbert("pretrain", "--config", str(path), "--out", str(out)),
                        "phases.0.optimizer.betas.1", "less than 1"),
                fact("no run folder", not out.exists()))


@case("4.5", "a curate config naming a missing word list, language-ID model or embedding model folder",
      "exit 2 each, one line naming the key and the path; nothing written")
def missing_curate_files(w: Fixtures):
    missing = w.path("nowhere")
    blocks = {"cleaning.profanity.wordlist_path": f"cleaning: {{profanity: {{wordlist_path: {missing}/words.txt}}}}",
              "cleaning.language.model_path": f"cleaning: {{language: {{model_path: {missing}/lid.bin}}}}",
              "labelling.labeller.embedding.model_dir":
                  f"labelling: {{labeller: {{backend: embedding, embedding: {{model_dir: {missing}/m}}}}}}"}
    seen = []
    for key, block in blocks.items():
        out = w.path(f"missing-{key}")
        done = rexbert("curate", "--input", str(w.demo / "corpus"), "--out", str(out), "--config",
                       str(w.config(f"{key}.yaml", block + "\n")))
        text, ok = refused(w, done, f"'{key}'", str(missing))
        seen.append((text, ok and not out.exists()))
    if not all(ok for _, ok in seen):
        return both(*seen)
    return f"exit 2 each, one line naming key and path, nothing written; e.g. {seen[0][0].split(': ', 1)[1]}", True


@case("4.6", "`evaluate mlm` on an exported folder whose model.safetensors is garbage (no checkpoint.json)",
      "exit 2, one line: folder named, 'corrupt'; no SafetensorError")
def corrupt_export_mlm(w: Fixtures):
    model = w.copy(w.exported, "garbage_model")
    (model / "checkpoint.json").unlink()  # as if copied without it: nothing to compare
    (model / "model.safetensors").write_bytes(b"\x00" * 64)
    text, ok = refused(w, w.mlm(model, "garbage_model_eval"), str(model), "corrupt")
    return text, ok and "SafetensorError" not in text


def glue_copy(w: Fixtures, task: str, name: str) -> Path:
    target = w.path(name)
    shutil.copytree(w.demo / "glue" / task, target / task)
    return target


def glue(w: Fixtures, glue_dir: Path, task: str, out: str) -> Done:
    return rexbert("evaluate", "glue", "--model", str(w.exported), "--glue-dir", str(glue_dir), "--tasks", task,
                   "--epochs", "1", "--max-train-examples", "8", "--max-test-examples", "8", "--out", str(w.path(out)))


@case("4.7", "a GLUE TSV with a Latin-1 byte (0xe9) on line 5", "exit 2, one line naming file:line and the fix")
def latin1_glue(w: Fixtures):
    root = glue_copy(w, "SST-2", "glue_latin1")
    train = root / "SST-2" / "train.tsv"
    lines = train.read_bytes().splitlines(keepends=True)
    lines[4] = "caf\u00e9 shoes\t1\n".encode("latin-1")
    train.write_bytes(b"".join(lines))
    return refused(w, glue(w, root, "sst2", "latin1_eval"), f"{train}:5: byte 0xe9", "iconv")


@case("4.8", "a truncated .jsonl.gz in `curate` input", "exit 2, one line naming the file; the datatrove "
      "traceback only in the log")
def truncated_gzip(w: Fixtures):
    corpus = w.corpus("c3_truncated")
    data = gzip.compress((w.demo / "corpus" / "beauty" / "beauty_000000.jsonl").read_bytes() * 4)
    broken = corpus / "fashion" / "fashion_000001.jsonl.gz"
    broken.write_bytes(data[: len(data) // 2])
    out = w.path("truncated_out")
    done = rexbert("curate", "--input", str(corpus), "--out", str(out), "--config", str(w.config("d.yaml", CURATE_DIRECT)))
    text, ok = refused(w, done, "fashion_000001.jsonl.gz", "truncated or corrupt")
    logs = list((out / "work" / "logs").rglob("console.log")) if out.is_dir() else []
    logged = any("Traceback" in p.read_text() for p in logs)
    return both((text, ok and "datatrove" not in done.err),
                fact(f"{len(done.err.splitlines())} stderr line(s); traceback in console.log", logged))


# 5 ---- corruption ---------------------------------------------------------------------

@case("5.1", "a same-size bit flip in a training checkpoint's model.safetensors: `export`, `fill-mask`",
      "exit 2 each: 'does not match its checksum'; no export folder")
def bit_rot_checkpoint(w: Fixtures):
    checkpoint = w.copy(w.checkpoint, "rotten_checkpoint")
    bit_rot(checkpoint / "model.safetensors")
    out = w.path("rotten_export")
    export = rexbert("export", "--model", str(checkpoint), "--out", str(out))
    fill = rexbert("fill-mask", "--model", str(checkpoint), "red cotton [MASK] for men")
    expected = f"{checkpoint}: model.safetensors does not match its checksum"
    return both(refused_each(w, {"export": export, "fill-mask": fill}, expected),
                fact("no export folder", not out.exists()))


@case("5.2", "the same bit flip in an exported folder: `evaluate mlm`, `fill-mask`, `import-hf`",
      "exit 2 each: 'does not match its checksum'")
def bit_rot_export(w: Fixtures):
    model = w.copy(w.exported, "rotten_model")
    bit_rot(model / "model.safetensors")
    expected = f"{model}: model.safetensors does not match its checksum"
    return refused_each(w, {"evaluate mlm": w.mlm(model, "rotten_eval"),
                            "fill-mask": rexbert("fill-mask", "--model", str(model), "red [MASK] shirt"),
                            "import-hf": rexbert("import-hf", "--model", str(model), "--out",
                                                 str(w.path("rotten_import")))}, expected)


@case("5.3", "one NaN weight in a checkpoint and in an export, no checksums to compare",
      "exit 2 each from export, fill-mask, import-hf, evaluate mlm: the tensor named, 'NaN/Inf'")
def nan_weights(w: Fixtures):
    checkpoint = w.copy(w.checkpoint, "nan_checkpoint")
    (checkpoint / "checkpoint.json").unlink()
    put_nan(checkpoint / "model.safetensors")
    model = w.copy(w.exported, "nan_model")
    (model / "checkpoint.json").unlink()
    put_nan(model / "model.safetensors")
    return refused_each(w, {
        "export": rexbert("export", "--model", str(checkpoint), "--out", str(w.path("nan_export"))),
        "fill-mask": rexbert("fill-mask", "--model", str(checkpoint), "a [MASK]"),
        "import-hf": rexbert("import-hf", "--model", str(model), "--out", str(w.path("nan_import"))),
        "evaluate mlm": w.mlm(model, "nan_eval")}, "weight head.", "holds 1 NaN/Inf value(s)")


@case("5.4", "`pretrain --resume` with every checkpoint of the phase bit-flipped",
      "exit 2, one line: every checkpoint damaged, nothing deleted; no restart, no file changed")
def every_checkpoint_corrupt(w: Fixtures):
    stopped_pretrain(w)
    run = w.copy(w.path("stopped-copy"), "all-corrupt")
    for weights in (run / "phase1_general").glob("checkpoint-*/model.safetensors"):
        bit_rot(weights)
    before = files(run, skip=(MARKER,))
    done = rexbert("pretrain", "--config", str(w.recipe), "--out", str(run), "--resume")
    return both(refused(w, done, "every checkpoint is damaged", "nothing was deleted"),
                fact("no file changed", files(run, skip=(MARKER,)) == before))


# 6 ---- reproducible curation ---------------------------------------------------------------------

def fasttext_models(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "work" / "distill" / "models").glob("*.bin"))}


@case("6.1", "two clean `curate` runs of the same three demo domains (labels, audit, fastText distillation)",
      "kept/, rejected/, stats.json, reports byte-identical; the fastText models too")
def curate_twice(w: Fixtures):
    again = w.path("curated-again")
    must(rexbert("curate", "--input", str(w.c3), "--out", str(again), "--config", str(w.curate_full)),
         "second curate")
    first, second = files(w.curated), files(again)
    kept = sum(1 for name in first if name.startswith("kept/"))
    models = fasttext_models(w.curated)
    return both(fact(f"{len(first)} output files identical ({kept} kept shards)", first == second and kept > 0),
                fact(f"{len(models)} fastText models identical", len(models) == 2 and models == fasttext_models(again)))


def kill_when(proc: subprocess.Popen, condition: Callable[[], bool]) -> bool:
    """SIGKILL the command's whole process group as soon as `condition` holds."""
    hit = wait_for(condition, proc, 600)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return hit


@case("6.2", "`curate` killed (SIGKILL) inside cleaning, killed again inside distillation, then rerun",
      "exit 0; every output file identical to the clean run")
def curate_killed(w: Fixtures):
    out = w.path("curated-killed")
    argv = ("curate", "--input", str(w.c3), "--out", str(out), "--config", str(w.curate_full))
    completions, distilled = out / "work" / "logs" / "clean" / "completions", out / "work" / "distill" / "records"
    first = kill_when(launch(*argv, log=w.path("kill1.log")), lambda: completions.is_dir() and any(completions.iterdir()))
    second = kill_when(launch(*argv, log=w.path("kill2.log")), lambda: distilled.is_dir() and any(distilled.iterdir()))
    done = rexbert(*argv)
    return both(fact("killed inside cleaning and inside distillation", first and second),
                (f"rerun exit {done.rc}", done.rc == 0),
                fact("outputs identical to the clean run", done.rc == 0 and files(out) == files(w.curated)))


@case("6.3", "`curate clean` with a relative --input, resumed and forced from another working folder",
      "every rejected/ record names its file by one absolute path")
def rejects_one_path(w: Fixtures):
    base = w.path("relative")
    corpus = base / "corpus"
    shutil.copytree(w.demo / "corpus" / "news", corpus / "news")
    (corpus / "news" / "news_000001.jsonl").write_bytes(b'{broken\n{"id": "n", "url": "u"}\n')
    direct = w.config("d.yaml", CURATE_DIRECT)
    elsewhere = w.path("elsewhere")
    elsewhere.mkdir()
    runs = [rexbert("curate", "clean", "--input", "corpus", "--out", "out", "--config", str(direct), cwd=base),
            rexbert("curate", "--out", str(base / "out"), cwd=elsewhere),
            rexbert("curate", "clean", "--out", str(base / "out"), "--force", cwd=elsewhere)]
    sources = sorted({r["source_file"] for r in read_rejects(base / "out") if r["stage"] == "read"})
    expected = [str(corpus / "news" / "news_000001.jsonl")]
    return both((f"exits {[d.rc for d in runs]}", all(d.rc == 0 for d in runs)),
                fact(f"source_file {w.short(', '.join(sources))}", sources == expected))


# 7 ---- a changed config -----------------------------------------------------------------------

def changed_seed(w: Fixtures, out: Path, config: Path, name: str) -> tuple[str, bool]:
    changed = w.path(name)
    text = config.read_text()  # the run's own seed is top-level; a recipe's nested seed is not it
    changed.write_text(re.sub(r"(?m)^seed: 0$", "seed: 123", text) if re.search(r"(?m)^seed:", text)
                       else text + "seed: 123\n")
    before = (out / "run_config.yaml").read_bytes()
    done = rexbert("run", "--config", str(changed), "--out", str(out))
    return both(refused(w, done, "seed: 0 → 123", "--from data"),
                fact("run_config.yaml unchanged", (out / "run_config.yaml").read_bytes() == before))


@case("7.1", "`rexbert run` with seed 123 on a folder whose first stage ran with seed 0",
      "exit 2, one line: what differs and --from STAGE / a new --out; run_config.yaml unchanged")
def changed_config_partial(w: Fixtures):
    out, config = w.partial_run
    return changed_seed(w, out, config, "partial-seed.yaml")


@case("7.2", "the same on a finished run (all 11 stages done)", "the same refusal; nothing rewritten",
      whole_run=True)
def changed_config_finished(w: Fixtures):
    out, config = w.whole_run
    return changed_seed(w, out, config, "whole-seed.yaml")


# 8 ---- tests that can fail ---------------------------------------------------------------------

def mutate_targets_after_mask(text: str) -> str | None:
    """token_recovery.py: read the MLM targets after writing [MASK] (the model is then scored on
    guessing [MASK] itself)."""
    lines = text.splitlines(keepends=True)
    masks = [i for i, line in enumerate(lines) if re.search(r"\]\s*=\s*tokenizer\.mask_token_id", line)]
    if len(masks) != 1:
        return None
    # The targets read nearest above the one [MASK] write, within the same few lines (other
    # scorers, e.g. the unigram baseline, read targets of their own elsewhere in the file).
    targets = [i for i in range(max(masks[0] - 3, 0), masks[0]) if re.match(r"\s*targets\s*=", lines[i])]
    if not targets:
        return None
    moved = lines.pop(targets[-1])
    lines.insert(masks[0], moved)  # right after the mask line (which moved up by one)
    return "".join(lines)


def mutate_unweighted_loss(text: str) -> str | None:
    """train/step.py `evaluate`: the held-out loss as the plain mean of the batches' mean losses."""
    weighted = r"float\(out\.loss\)\s*\*\s*batch\.num_labels"
    divided = r"loss_sum\s*/\s*max\(labels,\s*1\)"
    if len(re.findall(weighted, text)) != 1 or len(re.findall(divided, text)) != 1:
        return None
    return re.sub(divided, "loss_sum / max(len(batches), 1)", re.sub(weighted, "float(out.loss)", text))


def pytest_copy(copy: Path, targets: list[str]) -> tuple[int, list[str], str]:
    """Run pytest on the copy (PYTHONPATH pointing at it, no cache); (exit, failed ids, tail)."""
    env = {**os.environ, **ENV, "PYTHONPATH": str(copy)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", *targets],
                          cwd=copy, env=env, capture_output=True, text=True, timeout=1800)
    failed = re.findall(r"^FAILED (\S+)", done.stdout, flags=re.M)
    return done.returncode, failed, done.stdout[-600:]


def mutation_row(w: Fixtures, name: str, module: str, mutate: Callable[[str], str | None],
                 targets: list[str]) -> tuple[str, bool]:
    """Copy rexbert/ and tests/ to a temporary folder, apply `mutate` to `module` there, and run
    `targets`; then run the failing tests on an unmutated copy, which must pass them."""
    parts = []
    for label in ("mutated", "unmutated"):
        copy = w.path(f"{name}-{label}")
        for part in ("rexbert", "tests"):
            shutil.copytree(REPO / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
        if label == "mutated":
            source = copy / module
            mutated = mutate(source.read_text())
            if mutated is None:
                return f"the mutation site was not found in {module}", False
            source.write_text(mutated)
        where = subprocess.run([sys.executable, "-c", "import rexbert; print(rexbert.__file__)"], cwd=copy,
                               env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True, text=True).stdout
        if not where.strip().startswith(str(copy)):
            return f"the copy was not the package imported ({where.strip()})", False
        rc, failed, tail = pytest_copy(copy, targets)
        if label == "mutated":
            parts.append(fact(f"mutated copy: {len(failed)} failed ({', '.join(f.split('::')[-1] for f in failed)})",
                              rc != 0 and bool(failed)))
            targets = failed or targets
        else:
            parts.append(fact(f"unmutated copy: those pass (exit {rc})", rc == 0))
    return both(*parts)


@case("8.1", "mutation: token_recovery.py reads the MLM targets after writing [MASK]",
      "the suite fails on the mutated copy; the same tests pass unmutated")
def mutation_targets(w: Fixtures):
    return mutation_row(w, "mutation-targets", "rexbert/evaluate/token_recovery.py", mutate_targets_after_mask,
                        ["tests/evaluate/test_eval_mlm.py"] if not w.quick else
                        ["tests/evaluate/test_eval_mlm.py::test_accuracies_equal_a_direct_transformers_computation"])


@case("8.2", "mutation: the trainer's held-out loss unweighted (train/step.py `evaluate`: mean of batch means)",
      "the suite fails on the mutated copy; the same tests pass unmutated")
def mutation_held_out(w: Fixtures):
    return mutation_row(w, "mutation-loss", "rexbert/train/step.py", mutate_unweighted_loss,
                        ["tests/train/test_pretrain.py"] if not w.quick else
                        ["tests/train/test_pretrain.py::test_held_out_metrics_equal_a_token_weighted_recomputation"])


ARMS = ("annealed", "control")  # the two models the verdict compares (references are left out)
TOP1_SHOWN = re.compile(r"top-1: annealed ([\d.]+)% vs control ([\d.]+)% \(([+-][\d.]+) points, "
                        r"(?:95% CI \[([+-][\d.]+), ([+-][\d.]+)\]|no interval)")
RHO_SHOWN = re.compile(r"Spearman: annealed (-?[\d.]+) vs control (-?[\d.]+) \(([+-][\d.]+), "
                       r"(?:95% CI \[([+-][\d.]+), ([+-][\d.]+)\]|no interval)")


def verdict_records(out: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Title top-1 at 128 tokens and fine-tuned Spearman of the two arms, from results.json."""
    records = json.loads((out / "eval" / "results.json").read_text())["records"]
    top1 = {r["model"]: r["value"] for r in records if r["model"] in ARMS and r["task"] == "mlm"
            and r["metric"] == "top1_accuracy" and r["axes"].get("field") == "product_title"
            and r["axes"].get("block_size") == 128}
    rho = {r["model"]: r["value"] for r in records if r["model"] in ARMS and r["task"] == "similarity"
           and r["metric"] == "spearman" and r["axes"].get("stage") == "fine-tuned"}
    return top1, rho


def verdict_follows(report: str, top1: re.Match, rho: re.Match) -> tuple[bool, str]:
    """Whether the report's verdict and its stated reasons follow from the figures it prints: the
    target is met when the top-1 margin is ≥ +5 points and both intervals lie above 0."""
    def above_zero(shown: re.Match) -> bool:
        return shown.group(4) is not None and float(shown.group(4)) > 0

    checks = {"the top-1 margin is below +5 points": float(top1.group(3)) >= 5,
              "the top-1 interval does not lie above 0": above_zero(top1),
              "the Spearman interval does not lie above 0": above_zero(rho)}
    missed = [reason for reason, ok in checks.items() if not ok]
    if not missed:
        return "the target is met" in report and "target is NOT met" not in report, "met"
    return f"Verdict: the target is NOT met ({' and '.join(missed)})." in report, "NOT met"


@case("8.3", "the report's verdict figures against results.json", "top-1 and Spearman figures equal "
      "results.json to the digits printed; the verdict and its reasons follow from them", whole_run=True)
def verdict_figures(w: Fixtures):
    out, _ = w.whole_run
    report = (out / "report.md").read_text()
    top1, rho = verdict_records(out)
    shown, shown_rho = TOP1_SHOWN.search(report), RHO_SHOWN.search(report)
    if not (shown and shown_rho and set(top1) == set(rho) == set(ARMS)):
        return "verdict figures or results records missing", False
    want = (f"{100 * top1['annealed']:.2f}", f"{100 * top1['control']:.2f}",
            f"{100 * (top1['annealed'] - top1['control']):+.2f}", f"{rho['annealed']:.4f}",
            f"{rho['control']:.4f}", f"{rho['annealed'] - rho['control']:+.4f}")
    follows, verdict = verdict_follows(report, shown, shown_rho)
    return both(fact(f"top-1 {want[0]}% vs {want[1]}% ({want[2]}), Spearman {want[3]} vs {want[4]} ({want[5]}) "
                     "as in results.json", shown.groups()[:3] + shown_rho.groups()[:3] == want),
                fact(f"verdict '{verdict}' and its reasons follow", follows))


@case("8.4", "`curate` on parquet, .jsonl.gz and .jsonl.zst input against the same records as JSONL",
      "the same kept records, field for field")
def curate_formats(w: Fixtures):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    plain, mixed = w.corpus("formats_jsonl"), w.path("formats_mixed")
    for domain, suffix in (("news", ".parquet"), ("sports", ".jsonl.gz"), ("fashion", ".jsonl.zst")):
        source = plain / domain / f"{domain}_000000.jsonl"
        target = mixed / domain / f"{domain}_000000{suffix}"
        target.parent.mkdir(parents=True)
        data = source.read_bytes()
        if suffix == ".parquet":
            pq.write_table(pa.Table.from_pylist([json.loads(x) for x in data.splitlines()]), target)
        else:
            target.write_bytes(gzip.compress(data) if suffix.endswith(".gz")
                               else zstandard.ZstdCompressor().compress(data))
    direct = w.config("d.yaml", CURATE_DIRECT)
    kept = {}
    for name, corpus in (("jsonl", plain), ("mixed", mixed)):
        out = w.path(f"formats_out_{name}")
        must(rexbert("curate", "--input", str(corpus), "--out", str(out), "--config", str(direct)), f"curate {name}")
        kept[name] = read_records(out / "kept")
    return fact(f"{len(kept['mixed'])} kept records identical", kept["mixed"] == kept["jsonl"] and len(kept["jsonl"]) > 0)


# 9 ---- smaller promises ---------------------------------------------------------------------

@case("9.1", "a first attempt that failed (curate on a bad file; run on a config naming a missing file), "
             "then the corrected command on the same --out", "the corrected command runs; nothing from the "
      "failed attempt is held against it")
def corrected_command(w: Fixtures):
    garbage = w.path("extra.parquet")
    garbage.write_bytes(b"not parquet at all" * 20)
    out = w.path("corrected")
    corpus = w.corpus("c3_corrected")
    failed = rexbert("curate", "--input", str(corpus), str(garbage), "--domain", "fashion", "--out", str(out),
                     "--config", str(w.config("d.yaml", CURATE_DIRECT)))
    fixed = rexbert("curate", "--input", str(corpus), "--out", str(out), "--config", str(w.path("d.yaml")))
    run_out, _ = w.partial_run
    other = w.config("partial-2.yaml", partial_run_config(w.path("missing-2.txt")))
    again = rexbert("run", "--config", str(other), "--out", str(run_out))
    return both((f"curate: exit {failed.rc} then {fixed.rc}", failed.rc == 2 and fixed.rc == 0),
                refused(w, again, "missing-2.txt"),
                fact("run: the new config's own error, not 'different config'", "different config" not in again.err))


@case("9.2", "every error line of this matrix, and `evaluate similarity` on an ESCI row with a bad label",
      "no error advises a flag its command lacks (e.g. --on-error)")
def advised_flags(w: Fixtures):
    esci = w.path("esci_bad")
    shutil.copytree(w.demo / "esci", esci)
    import pandas as pd

    examples = pd.read_parquet(esci / "shopping_queries_dataset_examples.parquet")
    examples.loc[3, "esci_label"] = "X"
    examples.to_parquet(esci / "shopping_queries_dataset_examples.parquet")
    text, ok = refused(w, rexbert("evaluate", "similarity", "--model", str(w.exported), "--esci", str(esci),
                                  "--out", str(w.path("esci_eval"))), "bad_esci_label")
    wrong = [(command, flag) for command, line in w.errors
             for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", line.split("rexbert: error:", 1)[1])
             if flag not in options_of(command)]
    return both((text, ok), fact(f"{len(w.errors)} error lines, {len(wrong)} advising a missing flag"
                                 + (f": {wrong[:3]}" if wrong else ""), not wrong))


@case("9.3", "a curate config with a domain typo (newz) and an input with an empty file",
      "exit 0; the typo said with the likely fix (log and report); the empty file said")
def typo_and_empty(w: Fixtures):
    corpus = w.corpus("c3_typo")
    (corpus / "fashion" / "fashion_000001.jsonl").write_text("")
    config = w.config("typo.yaml", "domains: {filter_required: [newz], directly_selected: [fashion, sports]}\n")
    out = w.path("typo_out")
    done = rexbert("curate", "--input", str(corpus), "--out", str(out), "--config", str(config), "--no-relevance")
    said = "did you mean news for newz?"
    report = (out / "report.md").read_text() if (out / "report.md").is_file() else ""
    return both((f"exit {done.rc}", done.rc == 0), fact("typo said in the log and report", said in done.err and said in report),
                fact("empty file said", "empty file (no records)" in done.err))


@case("9.4", "one `nan` STS-B score in dev.tsv", "exit 2, one line naming file:line; no results.json")
def nan_stsb(w: Fixtures):
    root = glue_copy(w, "STS-B", "glue_nan")
    dev = root / "STS-B" / "dev.tsv"
    lines = dev.read_text().splitlines()
    lines[3] = lines[3].rsplit("\t", 1)[0] + "\tnan"
    dev.write_text("\n".join(lines) + "\n")
    done = glue(w, root, "stsb", "nan_stsb_eval")
    return both(refused(w, done, f"{dev}:4: score 'nan' is not a finite number"),
                fact("no results.json", not w.path("nan_stsb_eval", "results.json").exists()))


class ChatServer:
    """An OpenAI-compatible chat server on 127.0.0.1 that never gives a label for some documents."""

    def __init__(self) -> None:
        self.asked: dict[str, int] = {}
        asked = self.asked

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                user = body["messages"][-1]["content"]
                asked[user] = asked.get(user, 0) + 1
                relevant = any(word in user.lower() for word in ("price", "buy", "shop", "sale", "order"))
                answer = ("Hard to say, really." if len(user) % 4 == 0 else
                          json.dumps({"label": "relevant" if relevant else "not_relevant", "reason": "words"}))
                data = json.dumps({"choices": [{"message": {"content": answer}}],
                                   "usage": {"prompt_tokens": 10, "completion_tokens": 3}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@case("9.5", "an OpenAI-compatible labeller whose answers for some documents hold no label",
      "each asked again, then counted as unparsed: left out of the training labels and of the audit's "
      "agreement, said in the report")
def unparsable_answers(w: Fixtures):
    server = ChatServer()
    try:
        config = CURATE_FULL.replace("labeller: {backend: lexicon}", "labeller: {backend: openai, openai: "
                                     f"{{base_url: '{server.url}', model: m, max_retries: 1, backoff_s: 0}}}}")
        out = w.path("unparsed_out")
        done = rexbert("curate", "--input", str(w.corpus("c3_openai")), "--out", str(out), "--config",
                       str(w.config("openai.yaml", config)))
    finally:
        server.close()
    if done.rc != 0:
        return f"exit {done.rc}: {w.short(done.err.strip().splitlines()[-1])}", False
    work = out / "work"
    summary = json.loads((work / "label" / "summary.json").read_text())
    unparsed = sum(d["unparsed"] for d in summary["domains"].values())
    final = [json.loads(line) for line in (work / "audit" / "final_labels.jsonl").read_text().splitlines()]
    left_out = {d: sum(r["domain"] == d and "unparsed answer" in r["reason"] for r in final) for d in ("news", "sports")}
    validation = json.loads((work / "distill" / "validation.json").read_text())
    trained_on = all(validation[d]["labelled"] == summary["domains"][d]["sampled"] - n for d, n in left_out.items())
    rounds = [json.loads(line) for line in (work / "audit" / "rounds.jsonl").read_text().splitlines()]
    audited = rounds[0]["overall"]
    said = f"{unparsed} documents whose answers never parsed" in (out / "report.md").read_text()
    return both(("exit 0", True),
                fact(f"{unparsed} unparsed after {summary['usage']['retries']} retries",
                     unparsed > 0 and summary["usage"]["retries"] == summary["usage"]["unparseable"] == unparsed),
                fact(f"{sum(left_out.values())} without a label left out of training, the rest audited", trained_on),
                fact(f"audit: {audited.get('unparsed')} unparsed left out of its {audited['n']} compared",
                     audited.get("unparsed", 0) > 0 and audited["n"] + audited["unparsed"] == 20),
                fact("said in report.md", said))


@case("9.6", "folders written by export, import-hf and tokenizer train (umask 022)",
      "folders 0755, files 0644 (not 0700/0600)")
def permissions(w: Fixtures):
    imported = w.path("imported")
    must(rexbert("import-hf", "--model", str(w.exported), "--out", str(imported)), "import-hf")
    folders = [w.exported, w.exported / "1_Pooling", imported, imported / "tokenizer", w.tokenizer]
    modes = {str(p.relative_to(w.root)): oct(p.stat().st_mode & 0o777) for p in folders}
    weights = oct((w.exported / "model.safetensors").stat().st_mode & 0o777)
    return both(fact(f"folders {sorted(set(modes.values()))}", set(modes.values()) == {"0o755"}),
                fact(f"weights {weights}", weights == "0o644"))


# ------------------------------------------------------------------------------ the table

def case_key(case: Case) -> tuple[int, ...]:
    return tuple(int(part) for part in case.id.split("."))


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def run_cases(world: Fixtures, cases: list[Case]) -> list[tuple[Case, str, bool, float]]:
    rows = []
    # 9.2 reads the error lines every other row observed, so it runs last.
    ordered = sorted(cases, key=lambda c: (c.id == "9.2", case_key(c)))
    for number, item in enumerate(ordered, start=1):
        print(f"[{number}/{len(ordered)}] {item.id} {item.title} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            observed, passed = item.run(world)
        except Exception as err:  # a fixture that could not be built fails its rows, not the matrix
            observed, passed = f"matrix error: {type(err).__name__}: {world.short(str(err), 200)}", False
        seconds = time.perf_counter() - started
        print(f"[{number}/{len(ordered)}] {item.id} {'pass' if passed else 'FAIL'} in {seconds:.0f} s: "
              f"{observed}", file=sys.stderr, flush=True)
        rows.append((item, observed, passed, seconds))
    return sorted(rows, key=lambda row: case_key(row[0]))


def print_table(rows: list[tuple[Case, str, bool, float]]) -> None:
    print("| case | expected | observed | pass |")
    print("|---|---|---|---|")
    for item, observed, passed, _ in rows:
        print(f"| {item.id} {cell(item.title)} | {cell(item.expected)} | {cell(observed)} | "
              f"{'yes' if passed else '**NO**'} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="leave out the rows that need a whole `rexbert run`, and run only the named "
                             "tests against the mutations")
    parser.add_argument("--only", nargs="+", metavar="ID", default=None,
                        help="run only the cases whose id starts with one of these (e.g. 4. 6.1)")
    parser.add_argument("--keep", metavar="DIR", default=None,
                        help="work in DIR and keep it (default: a temporary folder, removed at the end)")
    args = parser.parse_args(argv)
    os.umask(0o022)  # what the permissions row expects of a user's shell
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="rexbert-fault-matrix-"))
    root.mkdir(parents=True, exist_ok=True)
    cases = [c for c in CASES if not (args.quick and c.whole_run)
             and (args.only is None or any(c.id == o or c.id.startswith(o.rstrip(".") + ".") for o in args.only))]
    world = Fixtures(root.resolve(), quick=args.quick)
    print(f"fault matrix: {len(cases)} cases against {' '.join(rexbert_command())} in {root}", file=sys.stderr)
    started = time.perf_counter()
    try:
        rows = run_cases(world, cases)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print_table(rows)
    failed = [item.id for item, _, passed, _ in rows if not passed]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} rows pass in {(time.perf_counter() - started) / 60:.1f} min"
          + (f"; failing: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
