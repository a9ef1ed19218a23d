"""Best-fit packing, chunking, mixture weights and the resumable stream."""

from __future__ import annotations

import math

import numpy as np

from rexbert.data.mixture import apply_temperature, mixture_probabilities, schedule_fraction
from rexbert.data.packing import best_fit_take, chunk_lengths, cu_seqlens_from_lengths
from rexbert.data.shards import ShardSet
from rexbert.data.stream import TrainStream, build_components, heldout_packs


def test_best_fit_fills_the_budget():
    assert best_fit_take(np.array([5, 9, 3, 7, 2]), 12) == [1, 2]  # 9 + 3 = 12
    assert best_fit_take(np.array([20, 30]), 10) == []
    assert best_fit_take(np.array([4, 4, 4]), 8) == [0, 1]  # ties: earliest first


def test_chunks_and_cu_seqlens():
    assert chunk_lengths(10, 4) == [(0, 4), (4, 4), (8, 2)]
    assert cu_seqlens_from_lengths([3, 5]).tolist() == [0, 3, 8]


def test_temperature_and_schedule_formulas():
    p = apply_temperature(np.array([0.9, 0.1]), 2.0)
    assert np.allclose(p, np.array([0.9**0.5, 0.1**0.5]) / (0.9**0.5 + 0.1**0.5))
    assert schedule_fraction(0.25, "linear") == 0.25
    assert math.isclose(schedule_fraction(0.5, "cosine"), 0.5)
    assert schedule_fraction(0.7, "constant") == 0.0
    mid = mixture_probabilities(0.5, np.array([1.0, 0.0]), np.array([0.0, 1.0]), "linear", 1.0)
    assert np.allclose(mid, [0.5, 0.5])


def _stream(shards_dir, seq_len=64, pack_tokens=256, end=None):
    components = build_components(ShardSet(shards_dir), {"g": ["general"], "d": ["ecommerce"]}, holdout=8)
    return TrainStream(components, [0.8, 0.2], end, "linear", 1.0, seq_len, pack_tokens, seed=3, lookahead=64)


def test_packs_fit_budget_split_long_docs_and_follow_mix(shards_dir):
    stream = _stream(shards_dir)
    used, counts = [], np.zeros(2)
    for _ in range(60):
        for pack in stream.next_packs(2, 0.0):
            assert all(length <= 62 for _, _, _, length in pack)  # split at seq_len (with specials)
            used.append(sum(length + 2 for *_, length in pack))
            for component, *_ in pack:
                counts[component] += 1
    assert max(used) <= 256
    assert np.mean(used) / 256 > 0.95  # best fit leaves little room
    assert 0.7 < counts[0] / counts.sum() < 0.9


def test_annealing_moves_the_mix_to_the_domain(shards_dir):
    stream = _stream(shards_dir, end=[0.0, 1.0])
    stream.next_packs(1, 0.0)
    stream.buffer.clear()  # drop chunks drawn under the start mix
    late = [c for pack in stream.next_packs(20, 1.0) for c, *_ in pack]
    assert set(late) == {1}


def test_state_round_trip_gives_identical_packs(shards_dir):
    a = _stream(shards_dir)
    a.next_packs(7, 0.1)
    saved = a.state_dict()
    expected = a.next_packs(5, 0.2)
    b = _stream(shards_dir)
    b.load_state_dict(saved)
    assert b.next_packs(5, 0.2) == expected


def test_heldout_documents_are_not_trained_on(shards_dir):
    shards = ShardSet(shards_dir)
    components = build_components(shards, {"g": ["general"]}, holdout=8)
    assert components[0].num_documents == shards.source("general").num_documents - 8
    held = build_components(shards, {"g": ["general"]}, holdout=0)
    packs = heldout_packs(held, 8, 64, 256, max_documents=8)
    docs = {d for pack in packs for _, d, _, _ in pack}
    assert docs == set(range(232, 240))
