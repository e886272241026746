"""Hand-written BPTT against finite differences of the NumPy forward: central and complex step."""

import numpy as np
import pytest
from hypothesis import given

from gradlab import mistakes
from gradlab.compare import compare_all
from gradlab.models.registry import MODELS
from gradlab.oracles import finite_diff
from gradlab.tolerances import tolerance
from tests.support import failures, fixed_problem, grads_with, problems

MISTAKES = [pytest.param(m, id=m.id) for m in mistakes.MISTAKES.values()]
ORACLES = {"central": finite_diff.central_differences, "complex-step": finite_diff.complex_step}


def _loss(model, xs, targets):
    return lambda theta: model.loss(theta, xs.astype(np.float64), targets)


@pytest.mark.parametrize("oracle", ORACLES)
@given(problem=problems(dtypes=("float64", "float32")))
def test_bptt_equals_finite_differences(oracle, problem):
    model, theta, xs, targets = problem
    ours = grads_with(model, theta, xs, targets)
    theirs = ORACLES[oracle](_loss(model, xs, targets), theta)
    assert failures(compare_all(ours, theirs, tolerance(xs.dtype, oracle), oracle)) == []


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("mistake", MISTAKES)
def test_finite_differences_catch_a_mutated_backward(oracle, mistake):
    model, theta, xs, targets = fixed_problem(MODELS[mistake.model])
    ours = grads_with(model, theta, xs, targets, mistake.backward)
    theirs = ORACLES[oracle](_loss(model, xs, targets), theta)
    assert failures(compare_all(ours, theirs, tolerance("float64", oracle), oracle))


def test_complex_step_is_exact_to_rounding_where_central_differences_are_not():
    # f(x) = sum exp(x) / sqrt(sum sin(x)^3 + cos(x)^3), Squire & Trapp's style of test function
    def f(theta):
        x = theta["x"]
        return np.sum(np.exp(x)) / np.sqrt(np.sum(np.sin(x) ** 3 + np.cos(x) ** 3))

    x = np.array([0.3, 1.1, -0.4])
    s = np.sum(np.sin(x) ** 3 + np.cos(x) ** 3)
    exact = np.exp(x) / np.sqrt(s) - 0.5 * np.sum(np.exp(x)) * s ** -1.5 * (
        3 * np.sin(x) ** 2 * np.cos(x) - 3 * np.cos(x) ** 2 * np.sin(x))
    cs = finite_diff.complex_step(f, {"x": x})["x"]
    cd = finite_diff.central_differences(f, {"x": x})["x"]
    assert np.max(np.abs(cs - exact) / np.abs(exact)) < 1e-15
    assert 1e-13 < np.max(np.abs(cd - exact) / np.abs(exact)) < 1e-8


def test_a_probe_restricts_the_elements_and_leaves_the_rest_nan():
    model, theta, xs, targets = fixed_problem(MODELS["rnn"])
    grads = finite_diff.complex_step(_loss(model, xs, targets), theta, probe={"b_h": [1, 3]})
    assert set(grads) == {"b_h"}
    assert np.isnan(grads["b_h"][[0, 2, 4]]).all() and np.isfinite(grads["b_h"][[1, 3]]).all()


def test_differencing_leaves_theta_unchanged():
    model, theta, xs, targets = fixed_problem(MODELS["rnn"])
    before = {k: v.copy() for k, v in theta.items()}
    finite_diff.central_differences(_loss(model, xs, targets), theta)
    finite_diff.complex_step(_loss(model, xs, targets), theta)
    assert all(np.array_equal(before[k], theta[k]) for k in theta)


def test_central_step_grows_with_the_value():
    h = finite_diff.central_step(np.array([0.0, 1.0, 100.0]))
    assert h[0] == h[1] == pytest.approx(np.finfo(float).eps ** (1 / 3))
    assert h[2] == pytest.approx(100 * h[0])


def test_bad_theta_and_probe_are_named():
    with pytest.raises(TypeError, match="theta: expected a dict of numpy arrays, got list"):
        finite_diff.complex_step(lambda th: 0.0, [np.ones(2)])
    with pytest.raises(TypeError, match=r"theta\['w'\]: expected a numeric numpy array, got list"):
        finite_diff.central_differences(lambda th: 0.0, {"w": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"probe: expected names from \['w'\], got unknown \['v'\]"):
        finite_diff.central_differences(lambda th: 0.0, {"w": np.ones(2)}, probe={"v": None})
