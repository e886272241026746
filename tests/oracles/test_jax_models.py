"""Hand-written BPTT against the independent JAX models: reverse mode and forward mode (jvp)."""

import numpy as np
import pytest
from hypothesis import given

from gradlab import mistakes
from gradlab.compare import compare_all
from gradlab.models.registry import MODELS
from gradlab.oracles import jax_models
from gradlab.tolerances import tolerance
from tests.support import as64, failures, fixed_problem, grads_with, problems

MISTAKES = [pytest.param(m, id=m.id) for m in mistakes.MISTAKES.values()]


def test_every_registered_model_has_a_jax_twin():
    assert set(MODELS) <= set(jax_models.LOSSES)


@given(problems(dtypes=("float64", "float32")))
def test_bptt_and_loss_equal_jax_reverse_mode(problem):
    model, theta, xs, targets = problem
    ours = grads_with(model, theta, xs, targets)
    loss_jax, theirs = jax_models.reverse(model.name, as64(theta), xs, targets)
    assert failures(compare_all(ours, theirs, tolerance(xs.dtype, "jax-reverse"), "jax-reverse")) == []
    loss_ours = model.loss(as64(theta), xs.astype(np.float64), targets)
    assert loss_ours == pytest.approx(loss_jax, rel=tolerance("float64", "jax-reverse").rtol)


@pytest.mark.parametrize("mistake", MISTAKES)
def test_jax_reverse_mode_catches_a_mutated_backward(mistake):
    model, theta, xs, targets = fixed_problem(MODELS[mistake.model])
    ours = grads_with(model, theta, xs, targets, mistake.backward)
    theirs = jax_models.reverse(model.name, theta, xs, targets)[1]
    assert failures(compare_all(ours, theirs, tolerance("float64", "jax-reverse"), "jax-reverse"))


@given(problems(max_T=6, max_n=5))
def test_bptt_equals_jax_forward_mode_along_basis_vectors(problem):
    model, theta, xs, targets = problem
    ours = grads_with(model, theta, xs, targets)
    theirs = jax_models.forward(model.name, theta, xs, targets)
    assert failures(compare_all(ours, theirs, tolerance(xs.dtype, "jax-forward"), "jax-forward")) == []


@given(problems(max_T=8))
def test_bptt_dot_random_direction_equals_one_jvp(problem):
    model, theta, xs, targets = problem
    ours = grads_with(model, theta, xs, targets)
    rng = np.random.default_rng(0)
    v = {k: rng.standard_normal(x.shape) for k, x in theta.items()}
    ours_dot = sum(float(np.sum(ours[k] * v[k])) for k in theta)
    scale = sum(float(np.sum(np.abs(ours[k] * v[k]))) for k in theta)  # the dot product's own rounding scale
    theirs_dot = jax_models.directional(model.name, theta, xs, targets, v)
    assert abs(ours_dot - theirs_dot) <= tolerance("float64", "jax-forward").rtol * max(scale, 1.0)


@pytest.mark.parametrize("mistake", MISTAKES)
def test_jax_forward_mode_catches_a_mutated_backward(mistake):
    model, theta, xs, targets = fixed_problem(MODELS[mistake.model])
    ours = grads_with(model, theta, xs, targets, mistake.backward)
    theirs = jax_models.forward(model.name, theta, xs, targets)
    assert failures(compare_all(ours, theirs, tolerance("float64", "jax-forward"), "jax-forward"))


def test_forward_mode_probes_only_the_requested_entries():
    _model, theta, xs, targets = fixed_problem(MODELS["rnn"])
    theirs = jax_models.forward("rnn", theta, xs, targets, probe={"W_hh": [0, 7], "b_y": None})
    assert set(theirs) == {"W_hh", "b_y"}
    assert np.isfinite(theirs["W_hh"].ravel()[[0, 7]]).all()
    assert np.isnan(theirs["W_hh"]).sum() == theirs["W_hh"].size - 2
    assert np.isfinite(theirs["b_y"]).all()


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(ValueError, match="model: expected one of .*rnn"):
        jax_models.reverse("elman", {}, np.zeros((1, 1, 1)), np.zeros((1, 1), int))


def test_bad_arguments_are_named():
    _model, theta, xs, targets = fixed_problem(MODELS["rnn"])
    with pytest.raises(ValueError, match=r"xs: expected a 3-D array \(T, B, D\), got shape"):
        jax_models.reverse("rnn", theta, xs[0], targets)
    with pytest.raises(TypeError, match="targets: expected an integer dtype, got float64"):
        jax_models.forward("rnn", theta, xs, targets.astype(float))
    with pytest.raises(TypeError, match="theta: expected a dict of numpy arrays, got list"):
        jax_models.directional("rnn", list(theta.values()), xs, targets, theta)
