"""gradlab/train/results.py: mean and spread over seeds, with the seeds that never got there counted."""

import numpy as np
import pytest

from gradlab.train.results import ExperimentResult, Metric, Row, format_summary, summary, thin


def test_the_summary_is_over_the_seeds_that_got_there():
    s = summary([10, None, 14])
    assert s == {"mean": 12.0, "sd": pytest.approx(np.sqrt(8)), "min": 10.0, "max": 14.0, "n": 2, "of": 3}
    assert format_summary([10, None, 14], ".0f") == "12 ± 3 (2/3)"
    assert format_summary([10, 12, 14], ".1f") == "12.0 ± 2.0"
    assert format_summary([None, None], ".1f") == "never (0/2)"
    assert summary([5.0])["sd"] == 0.0


def test_curves_are_thinned_to_at_most_the_points_asked_for():
    steps, values = thin(np.arange(1000.0), points=200)
    assert len(steps) == 200 and steps[0] == 1 and steps[1] == 6 and values[1] == 5.0
    steps, _ = thin(np.arange(50.0), points=200)
    assert len(steps) == 50


def test_the_markdown_table_has_a_row_per_arm_and_the_json_the_raw_values():
    metric = Metric("final_loss", "final loss", ".2f")
    rows = [Row({"text": "ab", "H": 4}, [0, 1], {"final_loss": [1.0, 2.0]}),
            Row({"text": "ab", "H": 8}, [0, 1], {"final_loss": [0.5, 0.5]})]
    result = ExperimentResult("x", "X", {}, ["text", "H"], [metric], rows)
    assert result.markdown().splitlines() == ["| text | H | final loss |", "|---|---|---|",
                                              "| ab | 4 | 1.50 ± 0.71 |", "| ab | 8 | 0.50 ± 0.00 |"]
    data = result.to_dict()
    assert data["rows"][0]["values"] == {"final_loss": [1.0, 2.0]}
    assert data["rows"][1]["summary"]["final_loss"]["mean"] == 0.5
