"""Each style's problems in the student's own layout, with gradlab's reference answers beside them.

An adapter turns one of gradlab's problems (theta, xs, targets; DESIGN.md's layout) into the
arguments a style's functions take, and gradlab's gradients into the arrays the student should
return, so every comparison happens in the STUDENT's layout (a worst index the student can find):

    minchar        B = 1, D = V, one-hot inputs as lists of ints; column vectors: bh (H, 1), hprev (H, 1)
    cs231n seq     batch-major x (N, T, D) = xs^T(0,1); Wx (D, G) = W_x^T; Wh (H, G) = W_h^T; b (G,);
                   upstream dh (N, T, H) = dL/dh_t of gradlab's loss through a fixed random output layer
    cs231n step    one step; random upstream dnext_h (and dnext_c)
    gradlab        gradlab's own names and shapes

where G = H for the RNN and 4H for the LSTM, whose gate blocks cs231n stacks i, f, o, g (gradlab:
i, f, g, o; the block permutation (0, 1, 3, 2) is its own inverse). Values are of order one (not
min-char-rnn's 0.01): small weights make tanh nearly linear and hide mistakes such as tanh' taken
of the pre-activation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gradlab.models import lstm, rnn
from gradlab.models.losses import one_hot, softmax_cross_entropy
from gradlab.models.registry import Model, get
from gradlab.models.sizes import Sizes
from gradlab.student.styles import CS231N, GRADLAB_FUNCTION, MINCHAR_ARRAYS, MINCHAR_FUNCTION

LSTM_CS231N_BLOCKS = (0, 1, 3, 2)  # cs231n block k holds gradlab's block LSTM_CS231N_BLOCKS[k]
CS231N_GATES = "ifog"


@dataclass(frozen=True)
class Out:
    """One output of a call: the student's name, its shape, and what it is."""

    name: str  # as the student returns it: "dWxh", "dWx", "W_hh", "loss", "h"
    shape: tuple[int, ...]
    role: str  # "loss" (scalar forward), "value" (forward array) or "grad"
    ours: str  # gradlab's name for the quantity: "W_xh", "h0", "xs", "loss", "h_T"
    arg: str | None = None  # the argument a gradient is taken with respect to (finite differences perturb it)


@dataclass
class Problem:
    sizes: Sizes
    seed: int
    theta: dict[str, np.ndarray]  # gradlab's parameters and states
    xs: np.ndarray  # (T, B, D)
    targets: np.ndarray  # (T, B)
    args: dict[str, np.ndarray]  # float arguments in the student's layout
    iargs: dict[str, np.ndarray]  # integer arguments
    ref: dict[str, np.ndarray]  # Out.name -> gradlab's answer in the student's layout


def draw_theta(model: Model, sizes: Sizes, rng: np.random.Generator, onehot_input: bool = False) -> dict:
    """Parameters of order one: matrices U(-1, 1) * min(1, 2/sqrt(fan_in)), biases U(-0.5, 0.5),
    initial states 0.5 N(0, 1). Recurrent matrices keep gain ~1 (the regime tolerances.py covers)."""
    template = model.random_problem(sizes, seed=0)[0]
    theta = {}
    for k, v in template.items():
        if k in model.state_names:
            theta[k] = 0.5 * rng.standard_normal(v.shape)
        elif v.ndim == 1:
            theta[k] = rng.uniform(-0.5, 0.5, v.shape)
        else:
            scale = 1.0 if (onehot_input and k == "W_xh") else min(1.0, 2.0 / np.sqrt(v.shape[1]))
            theta[k] = scale * rng.uniform(-1.0, 1.0, v.shape)
    return theta


def _blocks(a: np.ndarray, H: int, order, axis: int = 0) -> np.ndarray:
    return np.concatenate([np.take(a, np.arange(k * H, (k + 1) * H), axis=axis) for k in order], axis=axis)


class Adapter:
    style: str
    unit: str  # "loss" (one call returns loss and grads), "seq" or "step" (a forward/backward pair)
    functions: tuple[str, ...]
    label: str
    shrink: tuple[str, ...] = ()  # sizes that shrinking may reduce
    size_labels: ClassVar[dict[str, str]] = {"T": "T", "B": "B", "D": "D", "H": "H", "V": "V"}
    has_time = True
    loss_based = True  # the student returns the gradient of a scalar loss (truncated BPTT applies)
    model: Model

    @property
    def grad_function(self) -> str:
        """The function whose return values are the gradients (the backward of a pair)."""
        return self.functions[-1]

    @property
    def value_function(self) -> str:
        """The function whose return values are the forward's (the loss, h)."""
        return self.functions[0]

    def outs(self, sizes: Sizes) -> list[Out]:
        raise NotImplementedError

    def call(self, sizes: Sizes) -> dict:
        raise NotImplementedError

    def problem(self, sizes: Sizes, seed: int) -> Problem:
        raise NotImplementedError

    def prefix(self, p: Problem, T: int) -> Problem:
        raise NotImplementedError

    def to_student(self, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """gradlab's gradients (theta's names) in the student's names and layout."""
        raise NotImplementedError

    def where(self, out: Out, index, sizes: Sizes) -> str:
        """Words for an index of an output, e.g. 'gate o, unit 2' (empty when the index says it all)."""
        return ""


class Minchar(Adapter):
    style, unit, functions, label = "minchar", "loss", (MINCHAR_FUNCTION,), "lossFun"

    def __init__(self, H: int, V: int):
        self.model, self.H, self.V = get("rnn"), H, V
        self.size_labels = {"T": "T", "H": "H", "V": "V"}

    def sizes(self, T: int) -> Sizes:
        return Sizes(T, 1, self.V, self.H, self.V)

    def outs(self, sizes):
        H, V = sizes.H, sizes.V
        return [Out("loss", (), "loss", "loss"), Out("dWxh", (H, V), "grad", "W_xh", "Wxh"),
                Out("dWhh", (H, H), "grad", "W_hh", "Whh"), Out("dWhy", (V, H), "grad", "W_hy", "Why"),
                Out("dbh", (H, 1), "grad", "b_h", "bh"), Out("dby", (V, 1), "grad", "b_y", "by"),
                Out("h", (H, 1), "value", "h_T")]

    def call(self, sizes):
        return {"kind": "minchar", "module_arrays": list(MINCHAR_ARRAYS)}

    def problem(self, sizes, seed):
        rng = np.random.default_rng(seed)
        theta = draw_theta(self.model, sizes, rng, onehot_input=True)
        tokens, targets = rng.integers(0, sizes.V, sizes.T), rng.integers(0, sizes.V, sizes.T)
        return self._finish(sizes, seed, theta, tokens, targets)

    def _finish(self, sizes, seed, theta, tokens, targets) -> Problem:
        xs, tg = one_hot(tokens, sizes.V)[:, None, :], targets[:, None]
        args = {"Wxh": theta["W_xh"], "Whh": theta["W_hh"], "Why": theta["W_hy"], "bh": theta["b_h"][:, None],
                "by": theta["b_y"][:, None], "hprev": theta["h0"].T}
        loss, grads = self.model.grads(theta, xs, tg)
        _, cache = self.model.forward(self.model.params(theta), xs, theta["h0"])
        ref = {"loss": loss, **self.to_student(grads), "h": cache.hs[-1].T}
        return Problem(sizes, seed, theta, xs, tg, args, {"inputs": tokens, "targets": targets}, ref)

    def prefix(self, p, T):
        return self._finish(p.sizes._replace(T=T), p.seed, p.theta, p.iargs["inputs"][:T], p.iargs["targets"][:T])

    def to_student(self, grads):
        return {"dWxh": grads["W_xh"], "dWhh": grads["W_hh"], "dWhy": grads["W_hy"], "dbh": grads["b_h"][:, None],
                "dby": grads["b_y"][:, None]}


class Gradlab(Adapter):
    style, unit, functions, label = "gradlab", "loss", (GRADLAB_FUNCTION,), GRADLAB_FUNCTION
    shrink = ("T", "B", "D", "H", "V")

    def __init__(self, model: str):
        self.model, self._outs = get(model), {}

    def outs(self, sizes):
        if sizes not in self._outs:
            theta = self.model.random_problem(sizes, seed=0)[0]
            self._outs[sizes] = [Out("loss", (), "loss", "loss")] + [Out(k, v.shape, "grad", k, k)
                                                                     for k, v in theta.items()]
        return self._outs[sizes]

    def call(self, sizes):
        return {"kind": "gradlab", "fn": GRADLAB_FUNCTION, "params": list(self.model.param_shapes),
                "state": list(self.model.state_names)}

    def problem(self, sizes, seed):
        rng = np.random.default_rng(seed)
        theta = draw_theta(self.model, sizes, rng)
        xs = rng.standard_normal((sizes.T, sizes.B, sizes.D))
        targets = rng.integers(0, sizes.V, (sizes.T, sizes.B))
        return self._finish(sizes, seed, theta, xs, targets)

    def _finish(self, sizes, seed, theta, xs, targets):
        loss, grads = self.model.grads(theta, xs, targets)
        return Problem(sizes, seed, theta, xs, targets, {**theta, "xs": xs}, {"targets": targets},
                       {"loss": loss, **grads})

    def prefix(self, p, T):
        return self._finish(p.sizes._replace(T=T), p.seed, p.theta, p.xs[:T], p.targets[:T])

    def to_student(self, grads):
        return dict(grads)

    def where(self, out, index, sizes):
        return _gate_words(self.model.name, out.ours, index, sizes.H, "gradlab")


class Cs231n(Adapter):
    """cs231n's forward/backward pairs: ``unit`` "seq" (rnn_forward) or "step" (rnn_step_forward)."""

    style, loss_based = "cs231n", False

    def __init__(self, model: str, unit: str):
        self.model, self.unit = get(model), unit
        self.functions = CS231N[model][unit]
        self.label = "/".join(self.functions)
        self.lstm = model == "lstm"
        self.has_time = unit == "seq"
        self.shrink = ("T", "B", "D", "H") if unit == "seq" else ("B", "D", "H")
        self.size_labels = ({"T": "T", "B": "N", "D": "D", "H": "H"} if unit == "seq" else
                            {"B": "N", "D": "D", "H": "H"})
        names = ("W_x", "W_h", "b") if self.lstm else ("W_xh", "W_hh", "b_h")
        self.weights = dict(zip(("Wx", "Wh", "b"), names))

    # layouts: gradlab (G, D) rows i,f,g,o  <->  cs231n (D, G) columns i,f,o,g
    def _w(self, W: np.ndarray, H: int) -> np.ndarray:
        return (_blocks(W, H, LSTM_CS231N_BLOCKS) if self.lstm else W).T

    def _b(self, b: np.ndarray, H: int) -> np.ndarray:
        return _blocks(b, H, LSTM_CS231N_BLOCKS) if self.lstm else b

    def outs(self, sizes):
        T, N, D, H = sizes.T, sizes.B, sizes.D, sizes.H
        G = 4 * H if self.lstm else H
        weights = [Out("dWx", (D, G), "grad", self.weights["Wx"], "Wx"), Out("dWh", (H, G), "grad", self.weights["Wh"], "Wh"),
                   Out("db", (G,), "grad", self.weights["b"], "b")]
        if self.unit == "seq":
            return [Out("h", (N, T, H), "value", "h"), Out("dx", (N, T, D), "grad", "xs", "x"),
                    Out("dh0", (N, H), "grad", "h0", "h0"), *weights]
        values = [Out("next_h", (N, H), "value", "h")] + ([Out("next_c", (N, H), "value", "c")] if self.lstm else [])
        states = [Out("dprev_h", (N, H), "grad", "h_prev", "prev_h")]
        if self.lstm:
            states.append(Out("dprev_c", (N, H), "grad", "c_prev", "prev_c"))
        return values + [Out("dx", (N, D), "grad", "x", "x"), *states, *weights]

    def call(self, sizes):
        values = [o for o in self.outs(sizes) if o.role == "value"]
        if self.unit == "seq":
            fargs, upstream = ["x", "h0", "Wx", "Wh", "b"], ["dh"]
        else:
            fargs = ["x", "prev_h"] + (["prev_c"] if self.lstm else []) + ["Wx", "Wh", "b"]
            upstream = ["dnext_h"] + (["dnext_c"] if self.lstm else [])
        return {"kind": "fwdbwd", "forward": self.functions[0], "backward": self.functions[1], "fargs": fargs,
                "n_values": len(values), "value_names": [o.name for o in values],
                "value_shapes": [list(o.shape) for o in values], "upstream": upstream}

    def problem(self, sizes, seed):
        rng = np.random.default_rng(seed)
        if self.unit == "step":
            sizes = sizes._replace(T=1)
        theta = draw_theta(self.model, sizes, rng)
        xs = rng.standard_normal((sizes.T, sizes.B, sizes.D))
        targets = rng.integers(0, sizes.V, (sizes.T, sizes.B))
        if self.lstm and self.unit == "seq":
            theta["c0"] = np.zeros_like(theta["c0"])  # cs231n's lstm_forward starts from c0 = 0
        upstream = {"dnext_h": rng.standard_normal((sizes.B, sizes.H))}
        if self.lstm:
            upstream["dnext_c"] = rng.standard_normal((sizes.B, sizes.H))
        return self._finish(sizes, seed, theta, xs, targets, upstream)

    def _finish(self, sizes, seed, theta, xs, targets, upstream):
        H = sizes.H
        params = self.model.params(theta)
        W_x, W_h = params[self.weights["Wx"]], params[self.weights["Wh"]]
        args = {"x": xs.transpose(1, 0, 2) if self.unit == "seq" else xs[0], "Wx": self._w(W_x, H),
                "Wh": self._w(W_h, H), "b": self._b(params[self.weights["b"]], H)}
        state = self.model.state(theta)
        logits, cache = self.model.forward(params, xs, state)
        if self.unit == "seq":
            _, dlogits = softmax_cross_entropy(logits, targets)
            e = dlogits @ params["W_hy"]  # dL/dh_t through the fixed output layer: cs231n's upstream dh
            args.update(h0=theta["h0"], dh=e.transpose(1, 0, 2))
        else:
            e = upstream["dnext_h"][None]
            args.update(prev_h=theta["h0"], **upstream)
            if self.lstm:
                args["prev_c"] = theta["c0"]
        if self.lstm:
            if self.unit == "seq":
                da, dh0, dc0 = lstm.recurrence_backward(W_h, cache, e)
            else:
                da0, dc0 = lstm.cell_backward(e[0], upstream["dnext_c"], cache.gates[0], cache.cs[0],
                                              cache.tanh_cs[0])
                da, dh0 = da0[None], da0 @ W_h
            grads = lstm.hidden_grads(cache, da, dh0, dc0)
        else:
            dz, dh0 = rnn.recurrence_backward(W_h, cache.hs, e)
            da, grads = dz, rnn.hidden_grads(cache, dz, dh0)
        dx = da @ W_x  # (T, B, D)
        ref = {"dWx": self._w(grads[self.weights["Wx"]], H), "dWh": self._w(grads[self.weights["Wh"]], H),
               "db": self._b(grads[self.weights["b"]], H)}
        if self.unit == "seq":
            ref.update(h=cache.hs[1:].transpose(1, 0, 2), dx=dx.transpose(1, 0, 2), dh0=grads["h0"])
        else:
            ref.update(next_h=cache.hs[1], dx=dx[0], dprev_h=grads["h0"])
            if self.lstm:
                ref.update(next_c=cache.cs[1], dprev_c=grads["c0"])
        return Problem(sizes, seed, theta, xs, targets, args, {}, ref)

    def prefix(self, p, T):
        return self._finish(p.sizes._replace(T=T), p.seed, p.theta, p.xs[:T], p.targets[:T], {})

    def where(self, out, index, sizes):
        if self.lstm and out.name in ("dWx", "dWh", "db") and index:
            col = index[-1]
            return f"gate {CS231N_GATES[col // sizes.H]}, unit {col % sizes.H} (cs231n order i, f, o, g)"
        return ""


def _gate_words(model: str, name: str, index, H: int, layout: str) -> str:
    gates = {"lstm": "ifgo", "gru": "rzn", "gru-cho": "rzn"}.get(model)
    if gates is None or not index or name not in ("W_x", "W_h", "b", "b_x", "b_h"):
        return ""
    row = index[0]
    return f"gate {gates[row // H]}, unit {row % H}"
