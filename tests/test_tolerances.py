"""gradlab/tolerances.py: every entry has a reason; lookups fail clearly; the table is not loose."""

import numpy as np
import pytest

from gradlab.tolerances import ORACLES, TOLERANCES, tolerance


def test_every_entry_has_a_reason_and_sane_numbers():
    for key, tol in TOLERANCES.items():
        assert len(tol.reason) > 20, key
        assert 0 < tol.rtol < 1e-2 and 0 < tol.floor <= 1e-1, key
        assert key[1] in ORACLES


def test_float64_exact_oracles_are_far_tighter_than_float32():
    for oracle in ("jax-reverse", "jax-forward", "complex-step", "rtrl"):
        assert tolerance(np.float64, oracle).rtol <= 1e-11
        assert tolerance(np.float32, oracle).rtol >= 1e4 * tolerance(np.float64, oracle).rtol


def test_complex_step_holds_to_1e_minus_12_in_float64():
    assert tolerance("float64", "complex-step").rtol <= 1e-12


def test_unknown_entries_name_what_exists():
    with pytest.raises(ValueError, match=r"no entry for dtype 'float16' and oracle 'central' \(dtypes"):
        tolerance(np.float16, "central")
