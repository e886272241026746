"""Shared helpers of the grading tests: a fast task (small limits, weights that tell every check apart)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradlab.grade.tasks import dumps_toml, load_task

# Powers of two: a score names exactly the checks that passed. Small limits keep the attacks quick.
FAST_TASK = {
    "name": "test-class", "title": "the synthetic class", "style": "minchar", "model": "rnn",
    "file": "min-char-rnn.py",
    "limits": {"cpu_s": 3, "wall_s": 6, "memory_mb": 1024},
    "weights": {"runs": 1, "forward": 2, "own_forward": 4,
                "params": {"dWxh": 8, "dWhh": 16, "dWhy": 32, "dbh": 64, "dby": 128}},
}


def write_task(folder: Path, data: dict, name: str = "task.toml") -> Path:
    path = folder / name
    path.write_text(dumps_toml(data))
    return path


@pytest.fixture
def fast_task(tmp_path):
    return load_task(write_task(tmp_path, FAST_TASK))
