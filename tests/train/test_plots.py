"""gradlab/train/plots.py: the loss curve and the experiment figures are written as PNG files."""

import numpy as np

from gradlab.train import plots
from gradlab.train.experiments import Options, run

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_loss_curve_is_a_png(tmp_path):
    path = plots.loss_curve(np.geomspace(3, 0.01, 120), tmp_path / "sub" / "loss.png")
    assert path.read_bytes()[:8] == PNG


def test_sentence_and_recall_experiments_plot(tmp_path):
    for name in ("cells", "seq-length"):
        path = plots.experiment_plot(run(name, Options(seeds=1, quick=True)), tmp_path / f"{name}.png")
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 10_000


def test_arm_labels_name_the_setting():
    assert plots.arm_label({"text": "x", "optimizer": "adam", "lr": 0.03}) == "adam, lr=0.03"
    assert plots.arm_label({"text": "x", "model": "lstm", "parameters": 1108}) == "lstm, 1108 params"
