"""The evaluate stage as a Python API: the callable package, its result objects, its config."""

import pytest

from rexbert.errors import UserError


def test_the_package_is_the_entry_point_and_names_its_outputs(models_dir, products_parquet, tmp_path):
    import rexbert
    from rexbert import evaluate
    from rexbert.sources.documents import DocumentInput

    assert rexbert.evaluate is evaluate and callable(evaluate)
    cfg = evaluate.EvaluateConfig(evaluations=["mlm"],
                                  mlm=evaluate.MlmSettings(block_sizes=[32], max_examples=4))
    data = DocumentInput(paths=[str(products_parquet)], text_fields=["product_title"])
    result = evaluate([models_dir / "bert_mlm"], cfg, tmp_path / "eval", mlm_data=data)
    mlm = result.evaluations["mlm"]
    assert list(result.evaluations) == ["mlm"]
    assert result.results_json == mlm.results_json == tmp_path / "eval" / "results.json"
    assert mlm.tables == {"table3": tmp_path / "eval" / "table3.md"}
    assert "| product_title | 32 | top-1 |" in mlm.tables["table3"].read_text()
    values = [r.value for r in mlm.results.records if r.metric == "top1_accuracy"]
    assert mlm.value("bert_mlm", "top1_accuracy", field="product_title", block_size=32) == values[0]
    assert mlm.value("bert_mlm", "top1_accuracy", block_size=999) is None


def test_a_listed_evaluation_without_its_input_is_an_error(models_dir, tmp_path):
    from rexbert import evaluate

    with pytest.raises(UserError, match="'similarity' is listed in evaluations but no pairs"):
        evaluate([models_dir / "bert_mlm"], evaluate.EvaluateConfig(evaluations=["similarity"]),
                 tmp_path / "eval")
    assert not (tmp_path / "eval").exists()


def test_config_models_hold_the_defaults_once():
    from rexbert.config import parse_config
    from rexbert.evaluate.config import EvaluateConfig

    cfg = parse_config(EvaluateConfig, {"glue": {"tasks": ["SST-2", "sts-b"], "epochs": 2},
                                        "similarity": {"learning_rate": 1e-4}})
    assert cfg.glue.tasks == ["sst2", "stsb"] and cfg.glue.epochs == 2.0
    assert cfg.similarity.learning_rate == 1e-4 and cfg.mlm.top_k == [1, 3, 5]
    with pytest.raises(UserError, match="unknown task 'cola'"):
        parse_config(EvaluateConfig, {"glue": {"tasks": ["cola"]}})
    with pytest.raises(UserError, match="unknown key 'mlm.topk'"):
        parse_config(EvaluateConfig, {"mlm": {"topk": [1]}})
