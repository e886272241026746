"""gradlab/train/checkpoint.py: .npz checkpoints round-trip and load without pickle."""

import numpy as np
import pytest

from gradlab.models.registry import MODELS
from gradlab.train import checkpoint
from gradlab.train.data import SENTENCES
from gradlab.train.loop import TrainConfig, train
from gradlab.train.sample import sample


@pytest.fixture(scope="module")
def result():
    return train(SENTENCES[0], TrainConfig(model="lstm", hidden=6, seq_length=15, steps=15, frozen=("b_y",)))


def test_a_checkpoint_round_trips_params_vocab_and_config(result, tmp_path):
    path = checkpoint.save(tmp_path / "run", result, prime="A")
    assert path.name == "run.npz"
    loaded = checkpoint.load(path)
    assert loaded.config == result.config and loaded.vocab == result.vocab
    assert list(loaded.params) == list(result.params)
    assert all(np.array_equal(loaded.params[k], result.params[k]) for k in result.params)
    assert loaded.meta == {"format": 1, "steps": 15, "final_loss": result.final_loss,
                           "reproduced": result.reproduced, "prime": "A"}
    model = MODELS["lstm"]
    assert (sample(model, loaded.params, loaded.vocab, "Am", 30, seed=3)
            == sample(model, result.params, result.vocab, "Am", 30, seed=3))


def test_the_file_holds_plain_arrays_only(result, tmp_path):
    path = checkpoint.save(tmp_path / "run.npz", result)
    with np.load(path, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
        assert str(data["vocab"]) == result.vocab.chars


def test_files_that_are_not_checkpoints_are_refused(result, tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="checkpoint: expected entries vocab, config, meta"):
        checkpoint.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="checkpoint: expected a gradlab .npz checkpoint"):
        checkpoint.load(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "missing.npz")
