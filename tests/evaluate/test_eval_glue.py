"""`rexbert evaluate glue` on tiny fixture TSVs written in the exact GLUE layouts."""

import json
import random

import pytest
from scipy import stats
from sklearn.metrics import accuracy_score

from rexbert.cli.main import main
from rexbert.errors import UserError
from rexbert.evaluate.config import GlueSettings
from rexbert.evaluate.glue_tasks import GLUE_TASKS, GlueFineTune, read_glue_tsv
from rexbert.evaluate.models import ModelSpec

WORDS = "red blue green shoe shirt cotton leather women men small large kitchen knife phone case".split()


def sentence(rng, n=6):
    return " ".join(rng.choices(WORDS, k=n))


def write_glue(root, rows=24, seed=0):
    """SST-2, QNLI, QQP, MNLI and STS-B folders with the GLUE download's headers and files."""
    rng = random.Random(seed)
    mnli_head = (
        "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
        "sentence1_parse\tsentence2_parse\tsentence1\tsentence2"
    )
    for split in ("train", "dev"):
        lines = {
            "SST-2": ["sentence\tlabel"],
            "QNLI": ["index\tquestion\tsentence\tlabel"],
            "QQP": ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"],
            "MNLI": [
                mnli_head
                + (
                    "\tlabel1\tgold_label"
                    if split == "train"
                    else "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label"
                )
            ],
            "STS-B": [
                "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
            ],
        }
        for i in range(rows):
            a, b = sentence(rng), sentence(rng)
            label = rng.randint(0, 1)
            nli = rng.choice(["entailment", "neutral", "contradiction"])
            lines["SST-2"].append(f'{a} "quoted"\t{label}')
            lines["QNLI"].append(f"{i}\t{a} ?\t{b}\t{['entailment', 'not_entailment'][label]}")
            lines["QQP"].append(f"{i}\t{2 * i}\t{2 * i + 1}\t{a} ?\t{b} ?\t{label}")
            extra = "\tneutral" * (1 if split == "train" else 5)
            lines["MNLI"].append(
                f"{i}\t{i}\t{i}n\tfiction\t( {a} )\t( {b} )\t(ROOT {a})\t(ROOT {b})\t{a}\t{b}{extra}\t{nli}"
            )
            lines["STS-B"].append(
                f"{i}\tmain-news\tMSRpar\t2012test\t{i}\tnone\tnone\t{a}\t{b}\t{rng.uniform(0, 5):.3f}"
            )
        lines["QQP"].append("999\tbroken row without enough fields")  # the real QQP has a few
        for task, content in lines.items():
            name = "dev_matched.tsv" if (task == "MNLI" and split == "dev") else f"{split}.tsv"
            (root / task).mkdir(parents=True, exist_ok=True)
            (root / task / name).write_text("\n".join(content) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory):
    return write_glue(tmp_path_factory.mktemp("glue"))


def test_reads_each_layout(glue_dir):
    mnli = read_glue_tsv(glue_dir / "MNLI" / "dev_matched.tsv", GLUE_TASKS["mnli"])
    assert len(mnli) == 24 and len(mnli.texts[0]) == 2 and set(mnli.labels) <= {0.0, 1.0, 2.0}
    sst = read_glue_tsv(glue_dir / "SST-2" / "train.tsv", GLUE_TASKS["sst2"])
    assert sst.texts[0][0].endswith('"quoted"')  # GLUE TSVs are unquoted: quotes are text
    qqp = read_glue_tsv(glue_dir / "QQP" / "train.tsv", GLUE_TASKS["qqp"])
    assert len(qqp) == 24  # the malformed row is skipped (and counted in a warning)
    stsb = read_glue_tsv(glue_dir / "STS-B" / "dev.tsv", GLUE_TASKS["stsb"])
    assert all(0 <= s <= 5 for s in stsb.labels)


def test_glue_all_tasks_table4(models_dir, glue_dir, tmp_path):
    out = tmp_path / "out"
    status = main(
        [
            "evaluate",
            "glue",
            "--model",
            str(models_dir / "bert_mlm"),
            "--glue-dir",
            str(glue_dir),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--lr",
            "1e-3",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    data = json.loads((out / "results.json").read_text())
    metrics = {(r["task"], r["metric"]) for r in data["records"]}
    assert metrics == {
        ("glue/sst2", "accuracy"),
        ("glue/qnli", "accuracy"),
        ("glue/qqp", "accuracy"),
        ("glue/mnli", "accuracy"),
        ("glue/stsb", "pearson"),
        ("glue/stsb", "spearman"),
    }
    for record in data["records"]:
        assert -1.0 <= record["value"] <= 1.0
        assert record["settings"]["train_examples"] == 24 and record["settings"]["steps"] == 3
    table = (out / "table4.md").read_text()
    assert "| Model | SST-2 | QNLI | QQP | MNLI | STS-B (P) | STS-B (S) | Avg |" in table


def test_glue_metrics_match_sklearn_and_scipy(models_dir, glue_dir, monkeypatch):
    captured = {}
    original = GlueFineTune._predict

    def keep(self, *args):
        captured[self.glue.name] = original(self, *args)
        return captured[self.glue.name]

    monkeypatch.setattr(GlueFineTune, "_predict", keep)
    spec = ModelSpec("tiny", models_dir / "bert_mlm")
    settings = GlueSettings(epochs=1, batch_size=8, learning_rate=1e-3)
    sst = GlueFineTune(GLUE_TASKS["sst2"], glue_dir, settings)
    _, (measured,) = sst.evaluate(spec)
    assert measured.value == pytest.approx(accuracy_score(sst.dev.labels, captured["sst2"]))
    stsb = GlueFineTune(GLUE_TASKS["stsb"], glue_dir, settings)
    _, (pearson, spearman) = stsb.evaluate(spec)
    assert pearson.value == pytest.approx(stats.pearsonr(captured["stsb"], stsb.dev.labels)[0])
    assert spearman.value == pytest.approx(stats.spearmanr(captured["stsb"], stsb.dev.labels)[0])


def test_glue_resume_skips_finished_tasks(models_dir, glue_dir, tmp_path, monkeypatch):
    args = [
        "evaluate",
        "glue",
        "--model",
        str(models_dir / "bert_mlm"),
        "--glue-dir",
        str(glue_dir),
        "--tasks",
        "sst2",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    before = (tmp_path / "results.json").read_text()

    def refuse(*_a, **_k):
        raise AssertionError("finished task was fine-tuned again")

    monkeypatch.setattr(GlueFineTune, "evaluate", refuse)
    assert main(args) == 0
    assert (tmp_path / "results.json").read_text() == before


def test_glue_errors(models_dir, glue_dir, tmp_path, capsys):
    bad = tmp_path / "bad" / "SST-2"
    bad.mkdir(parents=True)
    (bad / "train.tsv").write_text("sentence\tlabel\nred shoe\t1\nblue shirt\tpositive\n")
    (bad / "dev.tsv").write_text("sentence\tlabel\n")
    with pytest.raises(UserError, match=r"train.tsv:3: label 'positive' is not one of 0, 1"):
        GlueFineTune(GLUE_TASKS["sst2"], tmp_path / "bad", GlueSettings())
    (bad / "train.tsv").write_text("sentence\tlabel\nred shoe\t1\n")
    with pytest.raises(UserError, match="the dev split is empty"):
        GlueFineTune(GLUE_TASKS["sst2"], tmp_path / "bad", GlueSettings())
    (bad / "dev.tsv").write_text("text\tlabel\nred\t1\n")
    with pytest.raises(UserError, match="no column 'sentence'"):
        GlueFineTune(GLUE_TASKS["sst2"], tmp_path / "bad", GlueSettings())
    with pytest.raises(UserError, match="no folder for QNLI"):
        GlueFineTune(GLUE_TASKS["qnli"], tmp_path / "bad", GlueSettings())
    # No --glue-dir and no hub (tests run offline): a one-line error saying what to pass.
    status = main(
        [
            "evaluate",
            "glue",
            "--model",
            str(models_dir / "bert_mlm"),
            "--tasks",
            "sst2",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        err.startswith("rexbert: error: cannot load GLUE SST-2 from the hub")
        and "--glue-dir" in err
    )
    assert (
        main(
            [
                "evaluate",
                "glue",
                "--model",
                str(models_dir / "bert_mlm"),
                "--tasks",
                "cola",
                "--glue-dir",
                str(glue_dir),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "unknown task 'cola'" in capsys.readouterr().err
