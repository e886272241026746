"""gradlab/student/plan.py and result.py: pools shared between calls, the answer's layout, clean JSON."""

from __future__ import annotations

import json
import math

import numpy as np

from gradlab.models.sizes import Sizes
from gradlab.student import frames
from gradlab.student.adapters import Gradlab
from gradlab.student.plan import OUT_CHUNK, Plan
from gradlab.student.result import CheckResult, ParamResult


def test_arrays_travel_once_however_many_calls_use_them_and_the_answer_is_sliced_back():
    ad = Gradlab("rnn")
    p = ad.problem(Sizes(2, 1, 2, 3, 4), 0)
    plan = Plan()
    for _ in range(3):
        plan.add(("base", "x"), ad.call(p.sizes), p, ad.outs(p.sizes))
    plan.add(("fd", "x", "W_hh"), ad.call(p.sizes), p, [], mode="loss", perturb=("W_hh", 4, 1e-6))
    arrays = frames.decode(plan.request([], 1.0, 1.0))
    assert arrays["f64"].size == sum(v.size for v in p.args.values())  # once, not three times
    assert plan.calls[3]["perturb"] == ["W_hh", 4, 1e-6] and plan.calls[3]["out"] == [["loss", []]]
    total = plan.total_out
    spec = plan.expected()
    assert spec["out0"].shape == (total,) and spec["status"].shape == (4,)
    flat = np.arange(total, dtype=float)
    _, answers = plan.answers({"status": np.array([0, 1, 0, 0], np.int8), "out0": flat})
    assert answers[1] is None and answers[0]["loss"].shape == () and answers[2]["W_hh"].shape == (3, 3)
    assert answers[0]["W_xh"][0, 0] == 1.0 and answers[3]["loss"] == total - 1
    assert OUT_CHUNK * 8 == frames.MAX_ARRAY_BYTES


def test_results_serialise_without_nan_or_inf():
    r = CheckResult("s.py", "gradlab", "rnn", "wrong",
                    params=[ParamResult("W_hh", "W_hh", False, math.inf, math.nan, None, None, None)])
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["params"][0]["max_abs_err"] is None and r.exit_code == 1
