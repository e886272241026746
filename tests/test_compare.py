"""gradlab/compare.py: the GradReport's numbers, its floor, NaN handling and its one-line text."""

import numpy as np
import pytest

from gradlab.compare import compare, compare_all
from gradlab.tolerances import Tolerance

TOL = Tolerance(rtol=1e-6, floor=1e-2, reason="test")


def test_reports_the_worst_element_by_relative_error():
    theirs = np.array([[1.0, 2.0, -3.0], [0.5, 4.0, 10.0]])
    ours = theirs.copy()
    ours[1, 0] += 1e-3  # rel 2e-3: the worst, though not the largest absolute error
    ours[1, 2] += 2e-3  # rel 2e-4
    r = compare("W_hh", ours, theirs, TOL, "jax-reverse")
    assert not r.ok and r.worst_index == (1, 0)
    assert r.max_rel_err == pytest.approx(2e-3) and r.max_abs_err == pytest.approx(2e-3)
    assert r.ours == pytest.approx(0.501) and r.theirs == 0.5 and r.n_checked == 6
    assert r.text().startswith("W_hh[1, 0] vs jax-reverse: FAIL, max rel err 2.00e-03 (> rtol 1e-06)")


def test_equal_gradients_pass_with_zero_error():
    g = np.array([1.0, -2.0])
    r = compare("b_h", g, g.copy(), TOL, "central")
    assert r.ok and r.max_rel_err == 0.0 and "ok" in r.text()


def test_floor_scales_with_the_largest_gradient_entry():
    theirs = np.array([100.0, 1e-9])
    ours = np.array([100.0, 1e-9 + 1e-5])  # absolute 1e-5 below a floor of 1e-2 * 100 = 1: rel 1e-5
    r = compare("W", ours, theirs, TOL, "x")
    assert r.max_rel_err == pytest.approx(1e-5) and not r.ok
    assert compare("W", np.array([100.0, 1e-9 + 1e-7]), theirs, TOL, "x").ok


def test_nan_in_the_oracle_means_not_probed_but_nan_in_ours_fails():
    theirs = np.array([1.0, np.nan, 3.0])
    assert compare("b", np.array([1.0, 99.0, 3.0]), theirs, TOL, "central").n_checked == 2
    assert compare("b", np.array([1.0, 99.0, 3.0]), theirs, TOL, "central").ok
    r = compare("b", np.array([np.nan, 2.0, 3.0]), np.ones(3), TOL, "central")
    assert not r.ok and r.worst_index == (0,) and "non-finite" in r.text()


def test_missing_and_misshapen_gradients_fail_with_a_reason():
    r = compare("h0", None, np.ones(2), TOL, "x")
    assert not r.ok and "no gradient returned" in r.text()
    r = compare("W", np.ones((2, 3)), np.ones((3, 2)), TOL, "x")
    assert not r.ok and "shape (2, 3), expected (3, 2)" in r.text()


def test_compare_all_follows_our_order_and_fails_missing_keys():
    reports = compare_all({"b": np.ones(1), "a": np.ones(1)}, {"a": np.ones(1), "b": np.ones(1), "c": np.ones(1)},
                          TOL, "x")
    assert [r.name for r in reports] == ["b", "a", "c"]
    assert [r.ok for r in reports] == [True, True, False]


def test_to_dict_is_json_ready():
    import json

    d = compare("W", np.ones((2, 2)), np.ones((2, 2)) * 2, TOL, "x").to_dict()
    assert json.loads(json.dumps(d))["worst_index"] == [0, 0]
