"""gradlab/train/loop.py: the training loop, its state carrying, freezing, clipping and determinism."""

from dataclasses import replace

import numpy as np
import pytest

from gradlab.models.losses import log_softmax, one_hot
from gradlab.models.registry import MODELS
from gradlab.train.data import SENTENCES, Vocab
from gradlab.train.loop import (
    TrainConfig,
    Trainer,
    evaluate,
    final_state,
    init_params,
    loss_and_grads,
    train,
    zero_state,
)

AMAZON = SENTENCES[0]
SHORT = TrainConfig(model="rnn", optimizer="adam", learning_rate=0.03, hidden=16, seq_length=15, steps=150)


def test_training_on_a_short_sentence_reaches_exact_reproduction():
    result = train(AMAZON, SHORT)
    assert result.reproduced and result.reproduced_at is not None and result.reproduced_at < SHORT.steps
    assert result.final_loss < 0.05 and result.losses[-1] < result.losses[0] / 10


def test_reproduced_at_is_the_first_number_of_updates_after_which_greedy_reproduces():
    k = train(AMAZON, SHORT).reproduced_at
    assert k >= 1  # a fresh model does not reproduce the sentence
    model, vocab = MODELS["rnn"], Vocab.from_text(AMAZON)
    assert evaluate(model, train(AMAZON, replace(SHORT, steps=k)).params, vocab, AMAZON)[1] is True
    assert evaluate(model, train(AMAZON, replace(SHORT, steps=k - 1)).params, vocab, AMAZON)[1] is False


def test_the_same_seed_gives_identical_numbers_and_another_seed_does_not():
    config = replace(SHORT, steps=20)
    a, b, c = train(AMAZON, config), train(AMAZON, config), train(AMAZON, replace(config, seed=1))
    assert np.array_equal(a.losses, b.losses) and all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.losses, c.losses)


def test_frozen_parameters_stay_exactly_zero_while_the_others_train():
    result = train(AMAZON, replace(SHORT, steps=20, frozen=("b_h", "b_y")))
    assert not result.params["b_h"].any() and not result.params["b_y"].any()
    start = init_params(MODELS["rnn"], 13, replace(SHORT, frozen=("b_h", "b_y")), np.random.default_rng(0))
    assert not np.array_equal(result.params["W_hh"], start["W_hh"])


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registered_model_trains_on_a_long_text_with_the_state_carried(name):
    config = TrainConfig(model=name, optimizer="adam", learning_rate=0.02, hidden=12, seq_length=10, batch_size=2,
                         steps=60)
    result = train(SENTENCES[1] * 2, config)
    assert result.reproduced_at is None  # not one window: not tracked per step
    assert np.mean(result.losses[-10:]) < np.mean(result.losses[:10]) - 0.5


@pytest.mark.parametrize("name", list(MODELS))
def test_the_carried_state_continues_the_sequence_exactly(name):
    model = MODELS[name]
    params = model.init((1, 2, 5, 4, 5), np.random.default_rng(1))
    xs = one_hot(np.random.default_rng(2).integers(0, 5, (7, 2)), 5)
    whole, _ = model.forward(params, xs, zero_state(model, 2, 4))
    first, cache = model.forward(params, xs[:3], zero_state(model, 2, 4))
    rest, _ = model.forward(params, xs[3:], final_state(model, cache))
    np.testing.assert_array_equal(np.concatenate([first, rest]), whole)


def test_the_step_uses_the_registered_backward_and_the_mask_keeps_only_its_terms():
    model = MODELS["lstm"]
    params = model.init((1, 3, 4, 5, 4), np.random.default_rng(3))
    rng = np.random.default_rng(4)
    xs, targets = one_hot(rng.integers(0, 4, (6, 3)), 4), rng.integers(0, 4, (6, 3))
    out = loss_and_grads(model, params, xs, targets, zero_state(model, 3, 5))
    loss, grads = model.loss_and_grads(params, xs, targets, zero_state(model, 3, 5))
    assert out.loss == pytest.approx(float(loss), rel=1e-15)
    assert all(np.array_equal(out.grads[k], grads[k]) for k in grads)
    mask = np.zeros((6, 3))
    mask[4:] = 1
    masked = loss_and_grads(model, params, xs, targets, zero_state(model, 3, 5), mask)
    picked = np.take_along_axis(log_softmax(out.logits), targets[..., None], -1)[4:]
    assert masked.loss == pytest.approx(-picked.sum(), rel=1e-12)
    only_late = loss_and_grads(model, params, xs, np.where(mask > 0, targets, 0), zero_state(model, 3, 5), mask)
    assert all(np.allclose(only_late.grads[k], masked.grads[k], rtol=0, atol=1e-14) for k in grads)
    assert not np.allclose(masked.grads["W_x"], out.grads["W_x"])


def test_gradients_are_clipped_elementwise_before_the_update():
    model = MODELS["rnn"]
    config = TrainConfig(optimizer="sgd", learning_rate=1.0, hidden=3, clip=0.5)
    params = init_params(model, 4, config, np.random.default_rng(0))
    trainer = Trainer(model, params, config)
    grads = {k: np.full_like(p, 100.0) for k, p in params.items()}
    trainer.update(grads)
    np.testing.assert_allclose(trainer.params["W_hh"], params["W_hh"] - 0.5, rtol=0, atol=1e-15)


@pytest.mark.parametrize("changes, error, message", [
    ({"optimizer": "lbfgs"}, ValueError, "optimizer: expected one of sgd, momentum"),
    ({"model": "transformer"}, ValueError, "model: expected one of rnn, lstm, gru, gru-cho"),
    ({"hidden": 0}, ValueError, "hidden: expected a positive integer, got 0"),
    ({"learning_rate": -1.0}, ValueError, "learning_rate: expected a positive number or None, got -1.0"),
    ({"frozen": ("b",)}, ValueError, "frozen: expected parameter names of rnn .*, got 'b'"),
    ({"seed": -2}, ValueError, "seed: expected a non-negative integer, got -2"),
])
def test_a_bad_config_names_the_field(changes, error, message):
    with pytest.raises(error, match=message):
        train(AMAZON, replace(SHORT, **changes))


def test_the_config_round_trips_through_json():
    config = replace(SHORT, frozen=("b_y",), clip=None)
    assert TrainConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="config: expected fields of TrainConfig, got unknown"):
        TrainConfig.from_json('{"model": "rnn", "layers": 2}')
