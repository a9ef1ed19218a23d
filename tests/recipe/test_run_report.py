"""The run report's verdict compares the right numbers and says when the target is missed."""

from rexbert.evaluate.results import ResultRecord, Results
from rexbert.recipe.report import Verdict, verdict_from


def _results(top1_a, top1_c, rho_a, rho_c):
    records = []
    for model, top1, rho in (("annealed", top1_a, rho_a), ("control", top1_c, rho_c)):
        records.append(ResultRecord(model, "mlm", "top1_accuracy", top1, {},
                                    axes={"field": "product_title", "block_size": 128, "k": 1}))
        # a distractor: same metric at another block size must not be picked
        records.append(ResultRecord(model, "mlm", "top1_accuracy", 0.99, {},
                                    axes={"field": "product_title", "block_size": 256, "k": 1}))
        records.append(ResultRecord(model, "similarity", "spearman", rho, {}, axes={"stage": "fine-tuned"}))
        records.append(ResultRecord(model, "similarity", "spearman", 0.0, {}, axes={"stage": "zero-shot"}))
    results = Results()
    results.records.extend(records)
    return results


def test_target_met():
    verdict = verdict_from(_results(0.50, 0.40, 0.70, 0.65))
    assert abs(verdict.top1_gain_points - 10) < 1e-9
    assert abs(verdict.spearman_gain - 0.05) < 1e-9
    assert verdict.target_met
    assert "target is met" in verdict.sentences()[-1]


def test_target_missed_names_what_missed():
    verdict = verdict_from(_results(0.42, 0.40, 0.60, 0.65))
    assert not verdict.target_met
    assert "NOT met (the top-1 margin and the Spearman comparison)" in verdict.sentences()[-1]


def test_missing_numbers_give_no_verdict():
    assert "No verdict" in Verdict({"annealed": 0.5}, {}).sentences()[0]
