"""gradlab/train/sample.py: greedy at temperature 0 (and as temperature -> 0), seeded draws, priming."""

import numpy as np
import pytest

from gradlab.models.losses import log_softmax
from gradlab.models.registry import MODELS
from gradlab.train.data import SENTENCES, Vocab
from gradlab.train.loop import TrainConfig, train, zero_state
from gradlab.train.sample import next_char, sample

TEXT = SENTENCES[1]


@pytest.fixture(scope="module")
def trained():
    return train(TEXT, TrainConfig(model="gru", learning_rate=0.02, hidden=16, seq_length=69, steps=60))


def test_temperature_zero_is_the_argmax_chain(trained):
    model, vocab = MODELS["gru"], trained.vocab
    out = sample(model, trained.params, vocab, "All", 40, temperature=0)
    ids = vocab.encode(out)
    logits, _ = model.forward(trained.params, vocab.one_hot(ids[:-1, None]), zero_state(model, 1, 16))
    assert np.array_equal(np.argmax(logits[2:, 0], axis=-1), ids[3:])  # each generated char is the argmax


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampling_as_the_temperature_goes_to_zero_is_greedy(trained, seed):
    greedy = sample(MODELS["gru"], trained.params, trained.vocab, "A", 50, temperature=0)
    assert sample(MODELS["gru"], trained.params, trained.vocab, "A", 50, temperature=1e-6, seed=seed) == greedy
    assert sample(MODELS["gru"], trained.params, trained.vocab, "A", 50, temperature=2.0, seed=seed) != greedy


def test_draws_are_reproducible_by_seed_and_follow_the_tempered_softmax():
    logits = np.array([0.0, 1.0, 2.0])
    for temperature in (1.0, 0.5):
        rng = np.random.default_rng(0)
        counts = np.bincount([next_char(logits, temperature, rng) for _ in range(4000)], minlength=3) / 4000
        np.testing.assert_allclose(counts, np.exp(log_softmax(logits / temperature)), atol=0.03)
    untrained = MODELS["rnn"].init((1, 1, 5, 4, 5), np.random.default_rng(0))
    vocab = Vocab("abcde")
    a, b = (sample(MODELS["rnn"], untrained, vocab, "a", 30, seed=s) for s in (7, 7))
    assert a == b != sample(MODELS["rnn"], untrained, vocab, "a", 30, seed=8)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"prime": ""}, ValueError, "prime: expected at least 1 characters"),
    ({"prime": "Q"}, ValueError, "prime: expected characters of the vocabulary"),
    ({"temperature": -0.1}, ValueError, "temperature: expected a finite number >= 0, got -0.1"),
    ({"temperature": "hot"}, TypeError, "temperature: expected a number >= 0, got 'hot'"),
    ({"length": -1}, ValueError, "length: expected a non-negative integer, got -1"),
])
def test_bad_sampling_arguments_name_the_argument(trained, kwargs, error, message):
    args = {"prime": "A", "length": 5, **kwargs}
    with pytest.raises(error, match=message):
        sample(MODELS["gru"], trained.params, trained.vocab, args.pop("prime"), args.pop("length"), **args)


def test_a_vocabulary_of_the_wrong_size_is_refused(trained):
    with pytest.raises(ValueError, match=r"vocab: expected \d+ characters \(W_hy has V = \d+ rows\), got 3"):
        sample(MODELS["gru"], trained.params, Vocab("Alt"), "A", 5)
