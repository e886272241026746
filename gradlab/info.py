"""Parameter shapes and counts of each model under the conventions users meet: ours, PyTorch, Keras.

The same cell stores its parameters differently in each framework (REFERENCE.md sections 1-3 and
pitfalls 6-8): PyTorch keeps (out, in) weights and TWO bias vectors (b_ih + b_hh, of which only the sum
matters except for the GRU's r-gated b_hn); Keras keeps (in, out) kernels, one bias (two rows for the
reset-after GRU), and orders the GRU's blocks z, r, h instead of r, z, n. The output layer (W_hy, b_y)
is a separate Linear / Dense layer in both frameworks.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradlab.models.registry import get


@dataclass(frozen=True)
class Convention:
    name: str  # "gradlab", "PyTorch", "Keras"
    layer: str  # the framework's class, e.g. "nn.LSTM + nn.Linear"
    gate_order: str
    shapes: dict[str, tuple[int, ...]]
    formula: str  # parameter count of the recurrent layer, symbolically
    note: str = ""

    @property
    def count(self) -> int:
        """Every parameter, the output layer included."""
        return sum(_prod(s) for s in self.shapes.values())


def _output(D: int, H: int, V: int, style: str) -> dict[str, tuple[int, ...]]:
    return {"gradlab": {"W_hy": (V, H), "b_y": (V,)},
            "PyTorch": {"linear.weight": (V, H), "linear.bias": (V,)},
            "Keras": {"dense.kernel": (H, V), "dense.bias": (V,)}}[style]


def conventions(model: str, D: int, H: int, V: int) -> list[Convention]:
    """Every convention's shapes for ``model`` with D inputs, H hidden units and V outputs."""
    get(model)  # validates the name
    for name, value in (("input", D), ("hidden", H), ("output", V)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    g = {"rnn": 1, "lstm": 4, "gru": 3, "gru-cho": 3}[model]
    gh = g * H
    ours_names = {"rnn": ("W_xh", "W_hh", ("b_h",)), "lstm": ("W_x", "W_h", ("b",)),
                  "gru": ("W_x", "W_h", ("b_x", "b_h")), "gru-cho": ("W_x", "W_h", ("b_x", "b_h"))}[model]
    order = {"rnn": "-", "lstm": "i, f, g, o", "gru": "r, z, n", "gru-cho": "r, z, n"}[model]
    k = f"{g}" if g > 1 else ""
    ours_bias = {name: (gh,) for name in ours_names[2]}
    one_bias = f"{k}(DH + H^2 + H)" if k else "DH + H^2 + H"
    two_bias = f"{k}(DH + H^2 + 2H)" if k else "DH + H^2 + 2H"
    ours = Convention("gradlab", "gradlab/models/" + ("gru.py" if "gru" in model else f"{model}.py"), order,
                      {ours_names[0]: (gh, D), ours_names[1]: (gh, H), **ours_bias, **_output(D, H, V, "gradlab")},
                      two_bias if len(ours_bias) == 2 else one_bias,
                      "b_x and b_h are both plain additions here, so only their sum matters; PyTorch's nn.GRU has no "
                      "reset-before variant" if model == "gru-cho" else
                      "the reset gate multiplies (W_hn h + b_hn), so b_h's n block is not redundant"
                      if model == "gru" else "")
    torch_layer = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU", "gru-cho": None}[model]
    keras_layer = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU(reset_after=True)",
                   "gru-cho": "GRU(reset_after=False)"}[model]
    keras_bias = {"bias": (2, gh)} if model == "gru" else {"bias": (gh,)}
    result = [ours]
    if torch_layer:
        result.append(Convention(
            "PyTorch", f"{torch_layer} + nn.Linear", order,
            {"weight_ih_l0": (gh, D), "weight_hh_l0": (gh, H), "bias_ih_l0": (gh,), "bias_hh_l0": (gh,),
             **_output(D, H, V, "PyTorch")}, two_bias,
            "two biases; b_ih and b_hh get identical gradients" + (" (except the n block)" if model == "gru" else "")))
    result.append(Convention(
        "Keras", f"{keras_layer} + Dense", "z, r, h" if "gru" in model else order.replace("g", "c"),
        {"kernel": (D, gh), "recurrent_kernel": (H, gh), **keras_bias, **_output(D, H, V, "Keras")},
        two_bias if model == "gru" else one_bias,
        "kernels are (in, out): the transposes of ours"))
    return result


def layer_count(c: Convention) -> int:
    """Parameters of the recurrent layer alone (the output layer excluded)."""
    out_keys = {"W_hy", "b_y", "linear.weight", "linear.bias", "dense.kernel", "dense.bias"}
    return sum(_prod(s) for k, s in c.shapes.items() if k not in out_keys)


def _prod(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
