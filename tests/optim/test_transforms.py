"""The building blocks: clipping pinned on [3, -12, 4], momentum's conventions, argument checks."""

import numpy as np
import pytest

from gradlab import optim


def _apply(transform, grads, params=None):
    params = params or {k: np.zeros_like(np.asarray(v, float)) for k, v in grads.items()}
    return transform.update({k: np.asarray(v, float) for k, v in grads.items()}, transform.init(params), params)[0]


def test_clip_by_value_and_by_global_norm_point_in_different_directions():
    g = {"g": np.array([3.0, -12.0, 4.0])}
    by_value = _apply(optim.clip(5.0), g)["g"]
    by_norm = _apply(optim.clip_by_global_norm(5.0), g)["g"]  # |g| = 13
    np.testing.assert_array_equal(by_value, [3, -5, 4])
    np.testing.assert_allclose(by_norm, [1.15, -4.62, 1.54], atol=5e-3)
    np.testing.assert_allclose(by_norm, np.array([3, -12, 4]) * 5 / 13, rtol=1e-15)
    cos = by_value @ by_norm / (np.linalg.norm(by_value) * np.linalg.norm(by_norm))
    assert cos < 0.98  # elementwise clipping turned the direction by more than 11 degrees


def test_global_norm_spans_every_array_and_leaves_small_gradients_alone():
    g = {"a": np.array([3.0]), "b": np.array([[4.0]])}  # joint norm 5, each alone below 5
    np.testing.assert_allclose(_apply(optim.clip_by_global_norm(2.5), g)["b"], [[2.0]], rtol=1e-15)
    assert _apply(optim.clip_by_global_norm(5.1), g)["a"] == 3.0


def test_min_char_rnn_update_is_clip_then_adagrad():
    opt = optim.chain(optim.clip(5.0), optim.make("adagrad", "minchar"))
    p1, _ = opt.step({"w": np.zeros(2)}, {"w": np.array([12.0, -0.5])}, opt.init({"w": np.zeros(2)}))
    np.testing.assert_allclose(p1["w"], -0.1 * np.array([5.0, -0.5]) / np.sqrt(np.array([25.0, 0.25]) + 1e-8),
                               rtol=1e-15)


def test_trace_pytorch_first_step_matters_only_with_dampening():
    g = {"w": np.array([1.0])}
    ema, torch_ema = (optim.trace(0.9, dampening=0.9, undamped_first_step=u) for u in (False, True))
    assert _apply(ema, g)["w"] == pytest.approx(0.1) and _apply(torch_ema, g)["w"] == 1.0
    plain, torch_plain = (optim.trace(0.9, undamped_first_step=u) for u in (False, True))
    assert _apply(plain, g)["w"] == _apply(torch_plain, g)["w"] == 1.0


def test_adagrad_gives_zero_where_every_gradient_so_far_was_zero_even_with_eps_zero():
    u = _apply(optim.scale_by_rss(0.0, 0.0), {"w": np.array([0.0, 2.0])})["w"]
    np.testing.assert_array_equal(u, [0.0, 1.0])


def test_eps_hat_is_algorithm_1_with_eps_scaled_by_sqrt_of_one_minus_b2_t():
    """Keras's form at step t equals Algorithm 1 with eps' = eps / sqrt(1 - b2^t) (one step, t = 1)."""
    g = {"w": np.array([1e-4, 0.3])}
    hat = _apply(optim.scale_by_adam(eps=1e-7, eps_hat=True), g)["w"]
    alg1 = _apply(optim.scale_by_adam(eps=1e-7 / np.sqrt(1 - 0.999)), g)["w"]
    np.testing.assert_allclose(hat, alg1, rtol=1e-13)


def test_add_decayed_weights_needs_params():
    t = optim.add_decayed_weights(1e-2)
    with pytest.raises(ValueError, match="needs params"):
        t.update({"w": np.ones(1)}, t.init({"w": np.ones(1)}), None)


@pytest.mark.parametrize(("build", "error", "match"), [
    (lambda: optim.clip(0.0), ValueError, "clip: max_delta must be > 0"),
    (lambda: optim.clip_by_global_norm(-1.0), ValueError, "clip_by_global_norm: max_norm must be > 0"),
    (lambda: optim.trace(1.0), ValueError, r"trace: decay must be in \[0, 1\)"),
    (lambda: optim.trace(0.9, dampening=1.5), ValueError, r"trace: dampening must be in \[0, 1\]"),
    (lambda: optim.scale_by_rss(eps=-1e-7), ValueError, "scale_by_rss: eps must be >= 0"),
    (lambda: optim.scale_by_adam(b2=float("nan")), ValueError, "scale_by_adam: b2 must be finite"),
    (lambda: optim.scale_by_rms(eps_in_sqrt="yes"), TypeError, "scale_by_rms: eps_in_sqrt must be True or False"),
    (lambda: optim.scale_by_learning_rate("0.1"), TypeError, "learning_rate must be a real number, got '0.1'"),
])
def test_bad_hyper_parameters_are_named(build, error, match):
    with pytest.raises(error, match=match):
        build()
