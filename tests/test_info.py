"""gradlab/info.py: shapes and counts per convention, checked against the real parameters."""

import numpy as np
import pytest

from gradlab import cli
from gradlab.info import conventions, layer_count
from gradlab.models.registry import MODELS
from gradlab.models.sizes import Sizes

D, H, V = 3, 5, 7


@pytest.mark.parametrize("model", list(MODELS))
def test_our_shapes_are_the_shapes_init_makes(model):
    ours = conventions(model, D, H, V)[0]
    params = MODELS[model].init(Sizes(1, 1, D, H, V), np.random.default_rng(0))
    assert ours.shapes == {k: v.shape for k, v in params.items()}
    assert ours.count == sum(v.size for v in params.values())


def test_lstm_counts_one_bias_and_pytorchs_two():
    ours, torch_, keras = conventions("lstm", D, H, V)
    assert layer_count(ours) == 4 * (D * H + H * H + H) == layer_count(keras)
    assert layer_count(torch_) == 4 * (D * H + H * H + 2 * H)
    assert keras.shapes["kernel"] == (D, 4 * H) and keras.gate_order == "i, f, c, o"


def test_gru_conventions_differ_in_bias_rows_and_gate_order():
    _, _, keras_after = conventions("gru", D, H, V)
    assert keras_after.shapes["bias"] == (2, 3 * H) and keras_after.gate_order == "z, r, h"
    names = [c.name for c in conventions("gru-cho", D, H, V)]
    assert names == ["gradlab", "Keras"]  # nn.GRU has no reset-before variant
    assert conventions("gru-cho", D, H, V)[1].shapes["bias"] == (3 * H,)


@pytest.mark.parametrize("model, layer", [("rnn", "RNN"), ("lstm", "LSTM"), ("gru", "GRU")])
def test_pytorch_counts_equal_the_real_modules(model, layer):
    torch = pytest.importorskip("torch", reason="the torch extra is not installed: pip install -e '.[torch]'")
    module = getattr(torch.nn, layer)(D, H)
    linear = torch.nn.Linear(H, V)
    torch_conv = conventions(model, D, H, V)[1]
    assert torch_conv.count == sum(p.numel() for p in [*module.parameters(), *linear.parameters()])
    assert {k: v for k, v in torch_conv.shapes.items() if "linear" not in k} == {
        k: tuple(p.shape) for k, p in module.named_parameters()}


def test_bad_sizes_and_names(capsys):
    with pytest.raises(ValueError, match="hidden: expected a positive integer, got 0"):
        conventions("rnn", 1, 0, 1)
    assert cli.main(["info", "elman"]) == 2
    assert "model: expected one of rnn" in capsys.readouterr().err


def test_cli_table_and_json(capsys):
    assert cli.main(["info", "lstm", "-D", "65", "-H", "100", "-V", "65"]) == 0
    out = capsys.readouterr().out
    assert "4(DH + H^2 + H)" in out and "66,400" in out and "66,800" in out
    import json

    assert cli.main(["info", "rnn", "--json"]) == 0
    assert [c["convention"] for c in json.loads(capsys.readouterr().out)] == ["gradlab", "PyTorch", "Keras"]
