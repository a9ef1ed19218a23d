"""Faults of the curate stage: one bad record never crashes it, a bad file or config key is one
line before or without a traceback, curation is byte-identical across runs and across a kill and
rerun, rejects name their files one way, no error advises a flag the command lacks, an answer the
LLM labeller cannot parse is never taken for "not relevant", and a failed first run never blocks
the corrected command on the same --out."""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rexbert.cli.main import build_parser, main
from rexbert.config.flags import generated_actions

SHOP = ("This {item} is on sale for {price} dollars with free shipping and easy returns; add it to your cart "
        "today, compare the price with other stores and read the reviews of the customers who bought it.")
TOWN = ("The council met on Tuesday to discuss the budget for the schools and the roads near the old {item} "
        "bridge, and the mayor said the work would take several years in every district of the town.")
ITEMS = ["jacket", "camera", "guitar", "blender", "helmet", "tent", "kettle", "bicycle", "watch", "lamp"]
WORDS = "apple river stone cloud green quiet morning garden window letter candle silver forest ocean pencil".split()
# Lexicon labels, lexicon audit, small distillation: every stage runs, fastText models are trained.
CONFIG = """
domains: {filter_required: [news, sports], directly_selected: [fashion]}
sampling: {per_domain: 30}
audit: {per_domain: 10, max_rounds: 2}
distill: {epochs: 10, folds: 3}
labelling:
  labeller: {backend: lexicon}
  auditor: {backend: lexicon, lexicon: {threshold: 2.0}}
"""
DIRECT = "domains: {filter_required: [], directly_selected: [news, sports, fashion]}\n"


def records(domain: str, n: int, seed: int = 0) -> list[dict]:
    """Distinct English documents of a domain, half shopping text, half civic news."""
    rng = random.Random(f"{seed}-{domain}")
    rows = []
    for i in range(n):
        text = (SHOP if i % 2 == 0 else TOWN).format(item=rng.choice(ITEMS), price=rng.randint(5, 500))
        text += " " + " ".join(rng.choice(WORDS) for _ in range(30)) + f" {domain} {i}."
        rows.append({"text": text, "url": f"https://example.com/{domain}/{i}", "id": f"{domain}-{i}",
                     "domain": domain, "language_score": 0.9})
    return rows


def write_corpus(root: Path, n: int = 24, extra: dict[str, bytes] | None = None) -> Path:
    """`root/<domain>/<domain>_000000.jsonl` for news, sports, fashion (+ raw `extra` files)."""
    for domain in ("news", "sports", "fashion"):
        (root / domain).mkdir(parents=True, exist_ok=True)
        (root / domain / f"{domain}_000000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records(domain, n)))
    for name, data in (extra or {}).items():
        (root / name).write_bytes(data)
    return root


def config(tmp_path: Path, text: str = CONFIG, name: str = "curate.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def tree(out: Path) -> dict[str, bytes]:
    """The curation's output files (everything but timings and the work folder), by path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
            and p.parts[len(out.parts)] not in ("work", "timings.json", ".rexbert-output.json")}


def rejects(out: Path) -> list[dict]:
    return [json.loads(line) for p in sorted((out / "rejected").rglob("*.jsonl")) for line in p.read_text().splitlines()]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m rexbert ARGS` as a user runs it: everything it prints, and its exit status."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "rexbert", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def assert_one_error_line(done: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2, one `rexbert: error:` line holding `fragments`, and no traceback or datatrove log."""
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("rexbert: error:")]
    assert len(errors) == 1 and done.stderr.rstrip().endswith(errors[0])
    assert "Traceback" not in done.stderr and "datatrove" not in done.stderr and "| ERROR" not in done.stderr
    for fragment in fragments:
        assert fragment in errors[0]
    return errors[0]


# --------------------------------------------------------------------------- bad records and files

def test_a_lone_surrogate_is_rejected_with_a_reason_and_curate_finishes(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    broken = '{"text": "A cut emoji \\ud83d in an otherwise fine listing of shoes", "id": "bad", "url": "u"}\n'
    with (corpus / "fashion" / "fashion_000000.jsonl").open("a") as handle:
        handle.write(broken)
    out = tmp_path / "out"
    assert main(["curate", "--input", str(corpus), "--out", str(out), "--config", str(config(tmp_path, DIRECT))]) == 0
    bad = [r for r in rejects(out) if r["reason"] == "bad_text"]
    assert len(bad) == 1 and bad[0]["stage"] == "read" and "lone surrogate" in bad[0]["detail"]
    assert bad[0]["source_line"] == 25 and bad[0]["text"] == broken.strip()
    assert json.loads((out / "stats.json").read_text())["drop_reasons"]["bad_text"] == 1


def test_a_parquet_file_of_garbage_bytes_is_one_line_naming_it(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", extra={"fashion/fashion_000001.parquet": b"PAR1 not parquet" * 40})
    done = run_cli("curate", "--input", str(corpus), "--out", str(tmp_path / "out"), "--config",
                   str(config(tmp_path, DIRECT)))
    assert_one_error_line(done, str(corpus / "fashion" / "fashion_000001.parquet"), "not a readable parquet file")


def test_a_truncated_gzip_is_one_line_and_the_traceback_stays_in_the_log(tmp_path):
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in records("fashion", 300, seed=1)).encode())
    corpus = write_corpus(tmp_path / "corpus", extra={"fashion/fashion_000001.jsonl.gz": data[: len(data) // 2]})
    out = tmp_path / "out"
    done = run_cli("curate", "--input", str(corpus), "--out", str(out), "--config", str(config(tmp_path, DIRECT)))
    assert_one_error_line(done, "fashion_000001.jsonl.gz:", "truncated or corrupt")
    console = (out / "work" / "logs" / "clean" / "console.log").read_text()
    assert "Traceback" in console and "fashion_000001.jsonl.gz" in console


@pytest.mark.parametrize(("key", "yaml"), [
    ("cleaning.profanity.wordlist_path", "cleaning: {profanity: {wordlist_path: WHERE/words.txt}}"),
    ("cleaning.language.model_path", "cleaning: {language: {model_path: WHERE/lid.bin}}"),
    ("labelling.labeller.embedding.model_dir", "labelling: {labeller: {backend: embedding, embedding: {model_dir: WHERE/m}}}"),
])
def test_a_config_naming_a_missing_file_is_one_line_before_any_work(tmp_path, capsys, key, yaml):
    corpus = write_corpus(tmp_path / "corpus")
    cfg = config(tmp_path, CONFIG + yaml.replace("WHERE", str(tmp_path / "missing")) + "\n")
    out = tmp_path / "out"
    assert main(["curate", "--input", str(corpus), "--out", str(out), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"curate config key '{key}'" in err and str(tmp_path / "missing") in err
    assert not out.exists()


def test_a_labeller_block_counts_only_where_labelling_runs(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    cfg = config(tmp_path, CONFIG + f"  auditor: {{backend: lexicon, embedding: {{model_dir: {tmp_path}/none}}}}\n")
    # the embedding block is not the auditor's backend, and with --no-relevance no labeller runs
    assert main(["curate", "--input", str(corpus), "--out", str(tmp_path / "a"), "--config", str(cfg),
                 "--no-relevance"]) == 0


# --------------------------------------------------------------------------- reproducibility

@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """A finished curation of the small corpus (every stage, fastText models trained)."""
    root = tmp_path_factory.mktemp("reference")
    corpus = write_corpus(root / "corpus")
    cfg = config(root)
    assert main(["curate", "--input", str(corpus), "--out", str(root / "out"), "--config", str(cfg)]) == 0
    return root / "out", corpus, cfg


@pytest.mark.slow
def test_two_clean_runs_are_byte_identical(reference_run, tmp_path):
    reference, corpus, cfg = reference_run
    out = tmp_path / "again"
    assert main(["curate", "--input", str(corpus), "--out", str(out), "--config", str(cfg)]) == 0
    first, second = tree(reference), tree(out)
    assert first == second and any(name.startswith("kept/") for name in first)
    models = sorted((reference / "work" / "distill" / "models").glob("*.bin"))
    assert len(models) == 2  # both filter-required domains trained a fastText model
    assert all(path.read_bytes() == (out / path.relative_to(reference)).read_bytes() for path in models)


def _launch(corpus: Path, out: Path, cfg: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    return subprocess.Popen([sys.executable, "-m", "rexbert", "curate", "--input", str(corpus), "--out", str(out),
                             "--config", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)


def _kill_when(proc: subprocess.Popen, condition, timeout: float = 120.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            os.killpg(proc.pid, signal.SIGKILL)  # the group this test started: the run and its helpers
            proc.wait()
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("the kill condition never happened")


@pytest.mark.slow
def test_a_kill_at_any_moment_and_rerun_gives_identical_output(reference_run, tmp_path):
    reference, corpus, cfg = reference_run
    out = tmp_path / "killed"
    completions = out / "work" / "logs" / "clean" / "completions"
    # kill 1: inside the clean stage, after its first task finished and before the others
    assert _kill_when(_launch(corpus, out, cfg), lambda: completions.is_dir() and any(completions.iterdir()))
    assert not (out / "work" / "stages" / "clean.done").exists()
    # kill 2: inside distillation, after the first domain's classifier was saved
    records_dir = out / "work" / "distill" / "records"
    assert _kill_when(_launch(corpus, out, cfg), lambda: records_dir.is_dir() and any(records_dir.iterdir()))
    assert not (out / "stats.json").exists()
    assert _launch(corpus, out, cfg).wait(timeout=300) == 0
    assert tree(out) == tree(reference)


def test_a_killed_run_rerun_with_another_config_starts_afresh(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    completions = out / "work" / "logs" / "clean" / "completions"
    assert _kill_when(_launch(corpus, out, config(tmp_path)), lambda: completions.is_dir() and any(completions.iterdir()))
    # the killed run's partial clean stage is rexbert's own work: replacing it is allowed
    assert main(["curate", "--input", str(corpus), "--out", str(out), "--config", str(config(tmp_path, DIRECT, "d.yaml"))]) == 0
    assert json.loads((out / "stats.json").read_text())["skipped_stages"]["label"].startswith("no domain needs")


def test_rejects_name_their_files_one_way_across_resumes(tmp_path, monkeypatch):
    write_corpus(tmp_path / "corpus", extra={"news/news_000001.jsonl": b"{broken\n" + b'{"id": "n", "url": "u"}\n'})
    cfg = config(tmp_path, DIRECT)
    monkeypatch.chdir(tmp_path)
    assert main(["curate", "clean", "--input", "corpus", "--out", "out", "--config", str(cfg)]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = tmp_path / "out"
    assert main(["curate", "--out", str(out)]) == 0  # the rest, with the remembered input
    assert main(["curate", "clean", "--out", str(out), "--force"]) == 0  # re-read from another folder
    sources = {r["source_file"] for r in rejects(out) if r["stage"] == "read"}
    assert sources == {str(tmp_path / "corpus" / "news" / "news_000001.jsonl")}
    assert all(Path(s).is_absolute() and Path(s).is_file() for s in sources)


# --------------------------------------------------------------------------- messages and fixes

def test_no_error_advises_a_flag_the_command_lacks(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus")
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "products.csv").write_text("sku,title\nA1,Trail shoe\n")
    (tmp_path / "plain.jsonl").write_text('{"text": "a document without any domain"}\n')
    changed = config(tmp_path, CONFIG.replace("epochs: 10", "epochs: 11"), "changed.yaml")
    cases = [
        ["curate", "--out", str(tmp_path / "a")],
        ["curate", "--domain", "x", "--out", str(tmp_path / "b")],
        ["curate", "audit", "--out", str(tmp_path / "c")],
        ["curate", "--input", str(tmp_path / "own"), "--domain", "shop", "--out", str(tmp_path / "d")],
        ["curate", "--input", str(tmp_path / "plain.jsonl"), "--out", str(tmp_path / "e")],
        ["curate", "--force", "--out", str(tmp_path / "f")],
        ["curate", "evaluate", "--out", str(tmp_path / "g")],
    ]
    assert main(["curate", "--input", str(corpus), "--out", str(tmp_path / "done"), "--config",
                 str(config(tmp_path, DIRECT, "direct.yaml"))]) == 0
    cases.append(["curate", "--out", str(tmp_path / "done"), "--config", str(changed)])
    curate_options = {o for prog, a in generated_actions(build_parser()) if prog == "rexbert curate"
                      for o in a.option_strings}
    for argv in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("rexbert: error:") and "\n" not in err, argv
        advised = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", err))
        assert advised <= curate_options, (argv, err)
    assert "--on-error" not in curate_options


class ChatServer:
    """An OpenAI-compatible chat-completions server on 127.0.0.1: `answer(user_text)` is the reply."""

    def __init__(self, answer) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                user = body["messages"][-1]["content"]
                server.requests.append(user)
                data = json.dumps({"choices": [{"message": {"content": answer(user)}}],
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


def _answer(user: str) -> str:
    if "bridge" in user and "guitar" in user:
        return "Hmm, hard to say."  # never a label
    return json.dumps({"label": "relevant" if "price" in user else "not_relevant", "reason": "test"})


def test_unparsable_answers_are_retried_then_counted_and_never_trained_on(tmp_path):
    from rexbert.curate.config import OpenAIOptions
    from rexbert.curate.labellers.base import LabelCache, LabelItem, load_prompt
    from rexbert.curate.labellers.openai_chat import OpenAIChatLabeller, is_unparsed

    server = ChatServer(_answer)
    try:
        options = OpenAIOptions(base_url=server.url, model="m", max_retries=2, backoff_s=0.0, timeout_s=5)
        cache = LabelCache(tmp_path / "cache.sqlite")
        labeller = OpenAIChatLabeller(options, load_prompt("commerce_relevance_v1"), cache)
        items = [LabelItem("ok", "news", "A guitar on sale, see the price."), LabelItem("odd", "news", "The guitar bridge.")]
        ok, odd = labeller.label(items)
        assert ok.label is True and not is_unparsed(ok)
        assert is_unparsed(odd) and "Hmm, hard to say." in odd.reason
        assert sum("bridge" in r for r in server.requests) == 3  # asked, then retried twice
        assert labeller.usage["unparseable"] == 1 and labeller.usage["retries"] == 2
        assert cache.count() == 1  # a rerun asks again instead of keeping a guess
        # through the whole curation: counted in the report, left out of the training labels
        cfg = CONFIG.replace("labeller: {backend: lexicon}", f"labeller: {{backend: openai, openai: {{base_url: "
                             f"'{server.url}', model: m, max_retries: 1, backoff_s: 0}}}}")
        out = tmp_path / "out"
        assert main(["curate", "--input", str(write_corpus(tmp_path / "corpus")), "--out", str(out), "--config",
                     str(config(tmp_path, cfg))]) == 0
    finally:
        server.close()
    summary = json.loads((out / "work" / "label" / "summary.json").read_text())
    unparsed = sum(d["unparsed"] for d in summary["domains"].values())
    assert unparsed > 0 and summary["usage"]["unparseable"] == unparsed
    final = [json.loads(line) for line in (out / "work" / "audit" / "final_labels.jsonl").read_text().splitlines()]
    left_out = {d: sum(r["domain"] == d and "unparsed answer" in r["reason"] for r in final) for d in ("news", "sports")}
    validation = json.loads((out / "work" / "distill" / "validation.json").read_text())
    for domain, n in left_out.items():
        assert validation[domain]["labelled"] == summary["domains"][domain]["sampled"] - n
    assert f"{unparsed} documents whose answers never parsed" in (out / "report.md").read_text()


def test_a_failed_first_run_never_blocks_the_corrected_command(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    garbage = tmp_path / "extra.parquet"
    garbage.write_bytes(b"not parquet at all" * 20)
    out = tmp_path / "out"
    direct = config(tmp_path, DIRECT, "direct.yaml")
    # 1. the clean stage fails on a bad file; the corrected --input on the same --out runs
    assert main(["curate", "--input", str(corpus), str(garbage), "--domain", "fashion", "--out", str(out),
                 "--config", str(direct)]) == 2
    assert not (out / "config.yaml").exists() and not (out / "work" / "input.json").exists()
    assert main(["curate", "--input", str(corpus), "--out", str(out), "--config", str(config(tmp_path))]) == 0
    # 2. labelling fails (no server answers); the corrected labelling config on the same --out runs
    closed = CONFIG.replace("labeller: {backend: lexicon}", "labeller: {backend: openai, openai: {base_url: "
                            "'http://127.0.0.1:9/v1', model: m, max_retries: 0, timeout_s: 2}}")
    out2 = tmp_path / "out2"
    assert main(["curate", "--input", str(corpus), "--out", str(out2), "--config", str(config(tmp_path, closed, "c.yaml"))]) == 2
    assert (out2 / "work" / "stages" / "clean.done").is_file() and not (out2 / "work" / "stages" / "label.done").exists()
    assert main(["curate", "--input", str(corpus), "--out", str(out2), "--config", str(config(tmp_path))]) == 0
    assert "backend: lexicon" in (out2 / "config.yaml").read_text()
    assert tree(out2) == tree(out)


def test_the_audit_never_counts_an_unparsed_answer_as_not_relevant():
    from rexbert.curate.audit import _final_labels, _reference_set, agreement
    from rexbert.curate.labellers.base import Label, LabelItem
    from rexbert.curate.labellers.openai_chat import is_unparsed, unparsed_label

    items = [LabelItem(f"d{i}", "news", f"text {i}") for i in range(5)]
    auditor = [Label(it.id, True, 1.0, "lexicon") for it in items[:4]] + [unparsed_label("d4", "'Hmm.'")]
    primary = [Label("d0", True, 1.0, "x"), Label("d1", True, 1.0, "x"), unparsed_label("d2", "'Hmm.'"),
               Label("d3", False, 0.0, "x"), Label("d4", True, 1.0, "x")]
    measured = agreement(items, primary, auditor)["overall"]
    # d2 (no answer from the labeller) and d4 (none from the auditor) are neither agreement nor error
    assert measured["n"] == 3 and measured["unparsed"] == 2
    assert measured["confusion"] == {"tp": 2, "fp": 0, "fn": 1, "tn": 0}
    assert measured["error_modes"]["false_negative"]["examples"] == ["d3"]
    refined_on, references = _reference_set(items, auditor, None)
    assert [it.id for it in refined_on] == ["d0", "d1", "d2", "d3"] and not any(map(is_unparsed, references))
    final = _final_labels(items, primary, list(range(5)), auditor, None)
    assert final[4] == primary[4]  # the auditor gave no answer: the labeller's label stands
    assert is_unparsed(final[2]) is False and final[2].reason == "audited: lexicon"
