import numpy as np
import pytest

from harfuse.train.splits import hidden_classes, stratified_pick

LABELS = np.repeat(np.arange(4), [10, 6, 3, 1])


def test_stratified_pick_takes_the_fraction_of_every_class():
    mask = stratified_pick(LABELS, 0.5, seed=0, keep_one=False)
    assert np.bincount(LABELS[mask], minlength=4).tolist() == [5, 3, 2, 1]  # round, >= 1
    assert stratified_pick(LABELS, 0.0, seed=0, keep_one=False).sum() == 0


def test_validation_pick_leaves_every_class_a_training_sample():
    mask = stratified_pick(LABELS, 0.5, seed=0, keep_one=True)
    assert np.bincount(LABELS[~mask], minlength=4).min() >= 1
    assert np.bincount(LABELS[mask], minlength=4).tolist() == [5, 3, 2, 0]


def test_picks_are_seeded():
    a, b = (stratified_pick(LABELS, 0.3, seed=7, keep_one=True) for _ in range(2))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, stratified_pick(LABELS, 0.3, seed=8, keep_one=True))


def test_hidden_classes():
    candidates = [0, 2, 3, 5, 7, 8, 9]
    picked = hidden_classes(candidates, 3, seed=0)
    assert picked == hidden_classes(candidates, 3, seed=0) == sorted(picked)
    assert len(set(picked)) == 3 and set(picked) <= set(candidates)
    with pytest.raises(ValueError, match="need 0 < count < 4"):
        hidden_classes([0, 1, 2, 3], 4, seed=0)
