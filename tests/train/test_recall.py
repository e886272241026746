"""gradlab/train/recall.py: the copy and palindrome strings, and a recall the model can reach."""

import numpy as np
import pytest

from gradlab.train.loop import TrainConfig
from gradlab.train.recall import ALPHABET, recall_batch, train_recall


@pytest.mark.parametrize("task", ["copy", "palindrome"])
def test_the_second_half_says_the_first_again(task):
    L = 5
    batch = recall_batch(np.random.default_rng(0), L, 7, task)
    assert batch.inputs.shape == batch.targets.shape == batch.mask.shape == (2 * L, 7)
    assert np.all(batch.inputs[L] == len(ALPHABET))  # the delimiter
    said = batch.targets[L:]
    expected = batch.inputs[:L] if task == "copy" else batch.inputs[:L][::-1]
    assert np.array_equal(said, expected)
    assert np.array_equal(batch.mask.sum(axis=0), np.full(7, L)) and not batch.mask[:L].any()
    assert np.array_equal(batch.targets[:-1], batch.inputs[1:])


def test_an_unknown_task_is_refused():
    with pytest.raises(ValueError, match="task: expected one of copy, palindrome, got 'sort'"):
        recall_batch(np.random.default_rng(0), 3, 2, "sort")


def test_a_short_copy_is_learned_and_scored_on_held_out_strings():
    config = TrainConfig(model="rnn", learning_rate=0.03, hidden=16, batch_size=16, steps=150)
    learned = train_recall(config, 1)
    assert learned.recall == learned.char_accuracy == 1.0 and learned.final_loss < 0.1
    untrained = train_recall(TrainConfig(model="rnn", learning_rate=1e-6, hidden=16, batch_size=16, steps=1), 3)
    assert untrained.recall < 0.05 and untrained.char_accuracy < 0.3  # near chance: 8^-3 and 1/8
    assert learned.losses.shape == (150,) and learned.losses[-1] < learned.losses[0]
