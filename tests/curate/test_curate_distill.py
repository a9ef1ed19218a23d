"""fastText distillation: training, prediction under NumPy 2, NaN handling, validation records."""

import numpy as np
import pytest

from rexbert.curate import distill
from rexbert.curate.config import DistillConfig
from rexbert.errors import UserError

POS = ["buy this jacket on sale price discount shipping {i} cart order", "best camera deal coupon store review {i} price"]
NEG = ["the council met to discuss the budget of the town {i} mayor", "the team won the match with two goals {i} coach"]


def _data(n=30):
    texts, labels = [], []
    for i in range(n):
        texts.append(POS[i % 2].format(i=i))
        labels.append(True)
        texts.append(NEG[i % 2].format(i=i))
        labels.append(False)
    return texts, labels


def test_fasttext_trains_and_predicts_under_numpy2():
    assert int(np.__version__.split(".")[0]) >= 2
    texts, labels = _data()
    model = distill.train_fasttext(texts, labels, DistillConfig(epochs=20), seed=0)
    scores = model.score(["cheap jacket price discount", "the mayor and the council"], 400)
    assert scores.shape == (2,) and scores[0] > 0.5 > scores[1]


def test_nan_divergence_becomes_a_user_error(monkeypatch):
    calls = []

    def diverge(train_path, model_path, params, check):
        calls.append(params["lr"])
        raise distill._Diverged("Encountered NaN.")

    monkeypatch.setattr(distill, "_fit_in_fresh_process", diverge)
    texts, labels = _data(5)
    with pytest.raises(UserError, match=r"Encountered NaN.*distill.lr=0.1 and at 0.025, 0.00625.*lower distill.lr"):
        distill.train_fasttext(texts, labels, DistillConfig(lr=0.1), seed=0)
    assert calls == [0.1, 0.025, 0.00625]  # training is reproducible: a diverged rate is not retried


def test_fasttext_training_is_reproducible_model_after_model(tmp_path):
    # In one long-lived process this fastText build gave a different model from about the
    # fourth training on; every model is now fitted in a fresh interpreter.
    texts, labels = _data(30)
    saved = []
    for i in range(6):
        distill.train_fasttext(texts, labels, DistillConfig(epochs=10), seed=3, save_to=tmp_path / f"m{i}.bin")
        saved.append((tmp_path / f"m{i}.bin").read_bytes())
    assert all(blob == saved[0] for blob in saved)


def test_distill_domain_writes_model_and_validation(tmp_path):
    texts, labels = _data(40)
    record = distill.distill_domain("news", texts, labels, DistillConfig(epochs=15, folds=3), tmp_path)
    assert record["kind"] == "fasttext"
    assert record["heldout"]["n"] == 16 and record["cv"]["n"] == 64
    assert record["heldout"]["f1"] > 0.9 and record["cv"]["pr_auc"] > 0.9
    assert 0 < record["threshold"] < 1 and record["calibration"]
    scores = distill.load_classifier(tmp_path, "news").score(["discount price shipping jacket"], 400)
    assert scores[0] > 0.5


def test_single_class_domain_becomes_a_constant_classifier(tmp_path):
    record = distill.distill_domain("travel", ["a trip"] * 10, [False] * 10, DistillConfig(), tmp_path)
    assert record["kind"] == "constant" and "raise sampling.per_domain" in record["threshold_note"]
    assert distill.load_classifier(tmp_path, "travel").score(["x", "y"], 10).tolist() == [0.0, 0.0]


def test_missing_classifier_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="run `rexbert curate distill`"):
        distill.load_classifier(tmp_path, "news")
