"""Hand-written forward and BPTT against PyTorch's nn.RNN / nn.LSTM / nn.GRU holding our weights."""

import sys

import numpy as np
import pytest
from hypothesis import given

pytest.importorskip("torch", reason="the torch extra is not installed: pip install -e '.[torch]'")

from gradlab import mistakes
from gradlab.compare import compare, compare_all
from gradlab.models.registry import MODELS
from gradlab.models.sizes import Sizes
from gradlab.oracles import torch_models
from gradlab.tolerances import tolerance
from tests.support import failures, fixed_problem, grads_with, problems

pytestmark = pytest.mark.torch

SUPPORTED = torch_models.SUPPORTED
MISTAKES = [pytest.param(m, id=m.id) for m in mistakes.MISTAKES.values() if m.model in SUPPORTED]
SIZES = Sizes(T=5, B=3, D=4, H=6, V=7)  # small and all different, so a transpose cannot pass by symmetry


def our_logits(model, theta, xs):
    return model.forward(model.params(theta), xs, model.state(theta))[0]


def test_the_oracle_runs_every_registered_model_but_gru_cho():
    assert set(SUPPORTED) == set(MODELS) - {"gru-cho"}
    assert torch_models.available()


@given(problems(models=SUPPORTED, dtypes=("float64", "float32")))
def test_forward_logits_and_loss_equal_torch(problem):
    model, theta, xs, targets = problem
    tol = tolerance(xs.dtype, "torch")
    loss_ours, _ = model.grads(theta, xs, targets)
    loss_torch, _, logits_torch = torch_models.reverse(model.name, theta, xs, targets)
    assert failures([compare("logits", our_logits(model, theta, xs), logits_torch, tol, "torch")]) == []
    assert float(loss_ours) == pytest.approx(loss_torch, rel=tol.rtol, abs=tol.rtol)


@given(problems(models=SUPPORTED, dtypes=("float64", "float32")))
def test_bptt_equals_torch_autograd_for_every_parameter_and_initial_state(problem):
    model, theta, xs, targets = problem
    ours = grads_with(model, theta, xs, targets)
    _, theirs, _ = torch_models.reverse(model.name, theta, xs, targets)
    assert set(theirs) == set(theta)  # every parameter and h0 (and c0) is checked
    assert failures(compare_all(ours, theirs, tolerance(xs.dtype, "torch"), "torch")) == []


@pytest.mark.parametrize("mistake", MISTAKES)
def test_torch_catches_a_mutated_backward(mistake):
    model, theta, xs, targets = fixed_problem(MODELS[mistake.model])
    ours = grads_with(model, theta, xs, targets, mistake.backward)
    theirs = torch_models.reverse(model.name, theta, xs, targets)[1]
    assert failures(compare_all(ours, theirs, tolerance("float64", "torch"), "torch"))


@given(problems(models=("rnn", "lstm")))
def test_rnn_and_lstm_give_their_two_biases_the_same_gradient(problem):
    model, theta, xs, targets = problem
    grads = torch_models.run(model.name, theta, xs, targets).grads
    report = compare("bias_hh_l0", grads["rnn.bias_hh_l0"], grads["rnn.bias_ih_l0"], tolerance("float64", "torch"),
                     "torch bias_ih_l0")
    assert report.ok, report.text()


@given(problems(models=("gru",)))
def test_gru_two_biases_share_the_r_and_z_gradients(problem):
    model, theta, xs, targets = problem
    grads = torch_models.run(model.name, theta, xs, targets).grads
    H = theta["h0"].shape[1]
    b_ih, b_hh = grads["rnn.bias_ih_l0"], grads["rnn.bias_hh_l0"]
    report = compare("bias_hh_l0[r, z]", b_hh[:2 * H], b_ih[:2 * H], tolerance("float64", "torch"), "torch")
    assert report.ok, report.text()


def test_gru_two_biases_differ_in_the_n_part():
    model, theta, xs, targets = fixed_problem(MODELS["gru"], sizes=SIZES)
    grads = torch_models.run(model.name, theta, xs, targets).grads
    H = SIZES.H
    dn_ih, dn_hh = grads["rnn.bias_ih_l0"][2 * H:], grads["rnn.bias_hh_l0"][2 * H:]
    assert np.abs(dn_ih - dn_hh).max() > 1e-2  # b_hn is gated by r: da_n against r * da_n


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nn_gru_reproduces_reset_after_and_not_reset_before(seed):
    gru, gru_cho = MODELS["gru"], MODELS["gru-cho"]
    theta, xs, targets = gru.random_problem(SIZES, seed=seed)  # the same weights serve both conventions
    logits_torch = torch_models.reverse("gru", theta, xs, targets)[2]
    tol = tolerance("float64", "torch")
    assert compare("logits", our_logits(gru, theta, xs), logits_torch, tol, "torch").ok
    cho = our_logits(gru_cho, theta, xs)
    assert not compare("logits", cho, logits_torch, tol, "torch").ok
    assert np.abs(cho - logits_torch).max() > 1e-2  # REFERENCE pitfall 8: ~0.2 at these scales


def test_gru_cho_is_refused_with_the_reason():
    _, theta, xs, targets = fixed_problem(MODELS["gru-cho"])
    with pytest.raises(ValueError, match="gru-cho.*reset"):
        torch_models.reverse("gru-cho", theta, xs, targets)


def test_unknown_model_names_the_supported_ones():
    with pytest.raises(ValueError, match="model: expected one of rnn, lstm, gru"):
        torch_models.reverse("elman", {}, np.zeros((1, 1, 1)), np.zeros((1, 1), int))


def test_missing_initial_state_is_named():
    _, theta, xs, targets = fixed_problem(MODELS["lstm"])
    del theta["c0"]
    with pytest.raises(ValueError, match=r"theta: .*missing \['c0'\]"):
        torch_models.reverse("lstm", theta, xs, targets)


def test_without_torch_the_oracle_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    assert not torch_models.available()
    _, theta, xs, targets = fixed_problem(MODELS["rnn"])
    with pytest.raises(ImportError, match=r"pip install -e '\.\[torch\]'"):
        torch_models.reverse("rnn", theta, xs, targets)
