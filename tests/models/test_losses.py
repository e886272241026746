"""gradlab/models/losses.py: stable softmax cross-entropy and its gradient p - y."""

import numpy as np
import pytest

from gradlab.compare import compare
from gradlab.models.losses import log_softmax, one_hot, ones, row_offsets, softmax_cross_entropy
from gradlab.oracles import finite_diff
from gradlab.tolerances import tolerance


def test_shifted_softmax_is_stable_where_the_naive_one_overflows():
    p = np.exp(log_softmax(np.array([1000.0, 1001.0, 999.0])))
    np.testing.assert_allclose(p, [0.2447, 0.6652, 0.0900], atol=1e-4)  # REFERENCE.md section 6


def test_gradient_is_p_minus_y_and_equals_the_complex_step():
    rng = np.random.default_rng(0)
    logits, targets = rng.standard_normal((3, 2, 5)), rng.integers(0, 5, (3, 2))
    loss, dlogits = softmax_cross_entropy(logits, targets)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    assert compare("o", dlogits, p - one_hot(targets, 5), tolerance("float64", "rounding"), "p - y").ok
    cs = finite_diff.complex_step(lambda th: softmax_cross_entropy(th["o"], targets)[0], {"o": logits})["o"]
    assert compare("o", dlogits, cs, tolerance("float64", "complex-step"), "complex-step").ok
    assert float(loss) == pytest.approx(-np.sum(np.log(np.take_along_axis(p, targets[..., None], -1))))


@pytest.mark.parametrize("dtype", ["i1", "u1", ">i4", "i8", "u8"])
def test_every_integer_dtype_of_targets_gives_the_same_loss_and_gradient(dtype):
    """Targets index the logits through one flat int64 index; uint64 does not add into int64 by default."""
    rng = np.random.default_rng(1)
    logits, targets = rng.standard_normal((3, 2, 5)), rng.integers(0, 5, (3, 2))
    loss, dlogits = softmax_cross_entropy(logits, targets)
    loss_d, dlogits_d = softmax_cross_entropy(logits, targets.astype(dtype))
    assert loss_d == loss
    np.testing.assert_array_equal(dlogits_d, dlogits)


def test_the_twin_a_gradient_of_p_alone_is_not_the_gradient():
    logits, targets = np.zeros((1, 1, 3)), np.array([[2]])
    cs = finite_diff.complex_step(lambda th: softmax_cross_entropy(th["o"], targets)[0], {"o": logits})["o"]
    p = np.full((1, 1, 3), 1 / 3)
    assert np.max(np.abs(p - cs)) == pytest.approx(1.0)


def test_bad_targets_and_reduction_are_named():
    with pytest.raises(ValueError, match=r"targets: expected class indices in \[0, V\) = \[0, 3\), got -1 at"):
        softmax_cross_entropy(np.zeros((2, 1, 3)), np.array([[0], [-1]]))
    with pytest.raises(ValueError, match=r"targets: expected shape \(T, B\) = \(2, 1\) to match logits"):
        softmax_cross_entropy(np.zeros((2, 1, 3)), np.zeros((1, 1), int))
    with pytest.raises(ValueError, match="reduction: expected one of"):
        softmax_cross_entropy(np.zeros((1, 1, 3)), np.zeros((1, 1), int), reduction="none")


def test_the_cached_helpers_are_read_only_and_never_returned():
    """row_offsets and ones are shared between calls: a caller writing into them would corrupt every later loss."""
    for shared in (row_offsets(4, 3), ones(3, np.float64)):
        with pytest.raises(ValueError, match="read-only"):
            shared[0] = 7
    logits, targets = np.zeros((2, 2, 3)), np.array([[0, 1], [2, 0]])
    loss, dlogits = softmax_cross_entropy(logits, targets)
    dlogits[...] = 99.0  # the caller owns what it gets
    assert softmax_cross_entropy(logits, targets)[0] == loss == pytest.approx(4 * np.log(3))


def test_mean_divides_loss_and_gradient_by_t_times_b():
    rng = np.random.default_rng(2)
    logits, targets = rng.standard_normal((3, 2, 5)), rng.integers(0, 5, (3, 2))
    loss, dlogits = softmax_cross_entropy(logits, targets)
    loss_m, dlogits_m = softmax_cross_entropy(logits, targets, reduction="mean")
    assert loss_m == pytest.approx(loss / 6, rel=1e-15)
    np.testing.assert_allclose(dlogits_m, dlogits / 6, rtol=1e-15)
