"""gradlab/models/_checks.py: the validation every model call runs, against plain reference predicates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradlab.models import gru, rnn
from gradlab.models._checks import check_target_range, infer_sizes
from gradlab.models.sizes import Sizes

INT_DTYPES = ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", ">i4", ">u2")


@settings(max_examples=300, deadline=None)
@given(dtype=st.sampled_from(INT_DTYPES), V=st.integers(1, 70_000), data=st.data())
def test_target_range_raises_exactly_when_an_index_is_outside_0_to_v(dtype, V, data):
    """The check takes both bounds in one reduction over an unsigned view; it must agree with the two-sided
    predicate for every integer dtype, including V beyond a small dtype's positive range (int8, V = 200)."""
    info = np.iinfo(np.dtype(dtype))
    values = data.draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=1, max_size=6))
    targets = np.array(values, dtype=dtype).reshape(-1, 1)
    bad = (targets.astype(np.int64) < 0) | (targets.astype(np.int64) >= V) if info.max < 2**63 else (targets >= V)
    if bad.any():
        with pytest.raises(ValueError, match=r"targets: expected class indices in \[0, V\)"):
            check_target_range(targets, V)
    else:
        check_target_range(targets, V)


def test_target_range_twin_a_negative_index_below_a_large_v_is_caught():
    """The case a bare unsigned view would miss: int8 -100 reads 156 < V = 200."""
    with pytest.raises(ValueError, match=r"got -100 at \(t, b\) = \(1, 0\)"):
        check_target_range(np.array([[3], [-100]], np.int8), 200)


def test_infer_sizes_is_recomputed_for_new_shapes_and_names_the_first_mismatch():
    """The sizes are cached per set of types, shapes and dtypes: a cached good call must not let a bad one
    through, and the returned dict is the caller's own."""
    params = rnn.init(Sizes(2, 1, 3, 4, 5), np.random.default_rng(0))
    sizes = infer_sizes(params, rnn.PARAM_SHAPES)
    assert sizes == {"H": 4, "D": 3, "V": 5}
    sizes["H"] = 99
    assert infer_sizes(params, rnn.PARAM_SHAPES)["H"] == 4
    params["W_hh"] = np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"params\['W_hh'\]: expected shape \(H, H\) = \(4, 4\), got \(4, 5\)"):
        infer_sizes(params, rnn.PARAM_SHAPES)
    params["W_hh"] = np.zeros((4, 4), np.int64)
    with pytest.raises(TypeError, match=r"params\['W_hh'\]: expected a float or complex dtype, got int64"):
        infer_sizes(params, rnn.PARAM_SHAPES)


class _LookAlike:
    """Not an ndarray, though it has the shape and dtype of one that passed."""

    shape, dtype, ndim = (4, 4), np.dtype(np.float64), 2


@pytest.mark.parametrize("bad", [_LookAlike(), [[0.0] * 4] * 4], ids=["look-alike", "list"])
def test_infer_sizes_remembers_what_passed_by_type_shape_and_dtype_so_a_look_alike_still_fails(bad):
    params = rnn.init(Sizes(2, 1, 3, 4, 5), np.random.default_rng(0))
    infer_sizes(params, rnn.PARAM_SHAPES)  # passes, and is remembered
    params["W_hh"] = bad
    with pytest.raises(TypeError, match=r"params\['W_hh'\]: expected a numpy array"):
        infer_sizes(params, rnn.PARAM_SHAPES)


def test_infer_sizes_reads_multiplied_symbols():
    params = gru.init(Sizes(2, 1, 3, 4, 5), np.random.default_rng(0))
    assert infer_sizes(params, gru.PARAM_SHAPES) == {"H": 4, "D": 3, "V": 5}
    params["b_h"] = np.zeros(13)
    with pytest.raises(ValueError, match=r"params\['b_h'\]: expected shape \(3H\) = \(12,\), got \(13,\)"):
        infer_sizes(params, gru.PARAM_SHAPES)
