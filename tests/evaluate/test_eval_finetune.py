"""The one fine-tuning loop of GLUE and similarity, against a loop written out with torch.optim."""

import math

import torch

from rexbert.evaluate.config import GlueSettings, SimilaritySettings
from rexbert.evaluate.finetune import epoch_batches, fine_tune, planned_steps


def test_every_example_once_per_epoch_and_the_remainder_kept():
    generator = torch.Generator().manual_seed(0)
    batches = epoch_batches(10, 4, 1, generator)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(i for b in batches for i in b) == list(range(10))
    # CoSENT needs two pairs: a remainder of one joins the batch before it.
    batches = epoch_batches(9, 4, 2, generator)
    assert [len(b) for b in batches] == [4, 5]
    assert sorted(i for b in batches for i in b) == list(range(9))
    assert planned_steps(9, SimilaritySettings(batch_size=4, epochs=1), min_batch=2) == 2
    assert planned_steps(10, GlueSettings(batch_size=4, epochs=1)) == 3
    assert planned_steps(10, GlueSettings(batch_size=4, epochs=2.5)) == 8
    assert planned_steps(3, GlueSettings(batch_size=16, epochs=0.1)) == 1


def _reference(model, x, y, settings, steps):
    """AdamW + linear warm-up/decay + clipping, written out from torch.optim alone."""
    warmup = int(settings.warmup_ratio * steps)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)

    def factor(step):
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (steps - step) / max(1, steps - warmup))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    generator = torch.Generator().manual_seed(settings.seed)
    order = []
    for _ in range(steps):
        if not order:
            order = epoch_batches(len(x), settings.batch_size, 1, generator)
        chosen = order.pop(0)
        loss = torch.nn.functional.mse_loss(model(x[chosen]).squeeze(-1), y[chosen])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()


def test_fine_tune_equals_the_loop_written_with_torch_optim():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(22, 3, generator=generator)
    y = x @ torch.tensor([1.5, -2.0, 0.5]) + 0.1 * torch.randn(22, generator=generator)
    settings = GlueSettings(batch_size=4, epochs=2.0, learning_rate=0.05, warmup_ratio=0.25)
    torch.manual_seed(0)
    ours, theirs = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    theirs.load_state_dict(ours.state_dict())

    def batch_loss(chosen):
        return torch.nn.functional.mse_loss(ours(x[chosen]).squeeze(-1), y[chosen])

    losses = fine_tune(ours, len(x), batch_loss, settings, "test")
    steps = planned_steps(len(x), settings)
    assert len(losses) == steps == 12
    _reference(theirs, x, y, settings, steps)
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert not ours.training  # left in eval mode for scoring
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]


def test_glue_and_similarity_use_this_loop():
    from rexbert.evaluate import finetune, glue_tasks, query_similarity

    assert glue_tasks.fine_tune is finetune.fine_tune
    assert query_similarity.fine_tune is finetune.fine_tune
