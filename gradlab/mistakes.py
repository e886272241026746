"""The catalogue of named mistakes: each a mutation of one stage of a reference backward.

Each entry changes exactly one stage of the reference's backward, built from the reference's own
pieces, so the mistake is the only difference. The stages, in the order the backward runs them:

    "dlogits"     (params, cache, dlogits) -> dlogits            what reaches the logits (softmax p - y)
    "recurrence"  (params, cache, e) -> (dz (T, B, H), dh0)      RNN: BPTT through h_t = tanh(z_t)
    "hidden"      (params, cache, dz, grads) -> grads            RNN: the weight gradients built from dz
    "step"        lstm.cell_backward's signature                 LSTM: one step of BPTT
    "cache"       cache -> cache                                 GRU: what the backward believes the forward did
    "grads"       grads -> grads                                 the returned gradients (a sign)

Mistakes in different stages compose (``compose``): the matcher tries pairs. Two mistakes live
across calls (``across_calls``): gradients accumulated into arrays that are never reset, and
dh_next kept from the previous call. A single call from a fresh state is right; ``backward`` is the
SECOND call on the same inputs, and ``run_calls`` plays any sequence of calls.

``backward(params, cache, dlogits) -> grads`` keeps the reference's signature: tests feed every
entry to every oracle (the twin of each oracle test) and the student checker (student/matcher.py)
names the entries whose numbers a submission reproduces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gradlab.models import gru, lstm, rnn
from gradlab.models.losses import softmax_cross_entropy
from gradlab.models.registry import Model

STAGES = ("dlogits", "recurrence", "hidden", "step", "cache", "grads")
ACROSS_CALLS = ("accumulate", "carry_dh")
README_ANCHORS = {"rnn": "rnn-equations", "lstm": "lstm-equations", "gru": "gru-equations",
                  "gru-cho": "gru-equations", "optimisers": "optimisers-gradlaboptim"}
OPTIMISERS = "optimisers"  # the heading under which `gradlab mistakes` lists gradlab/optim/mistakes.py


@dataclass(frozen=True)
class Mistake:
    id: str
    model: str
    title: str
    explanation: str  # one sentence
    equation: str  # the equation it breaks, as the reference writes it
    parts: Mapping[str, Callable] = field(default_factory=dict)  # stage -> its mutated version
    hint: str = ""  # where to look first
    across_calls: str | None = None  # "accumulate" or "carry_dh": seen from the second call on

    @property
    def backward(self) -> Callable:
        """The wrong backward, ``(params, cache, dlogits) -> grads``; a mistake that lives across calls
        gives what the SECOND call on the same inputs returns."""
        if self.across_calls is None:
            return compose(self.model, self.parts)
        return lambda params, cache, dlogits: _second_call(self, params, cache, dlogits)

    @property
    def link(self) -> str:
        """Where README states the equation this mistake breaks."""
        return f"README.md#{README_ANCHORS[self.model]}"


def compose(model: str, parts: Mapping[str, Callable]) -> Callable:
    """The reference backward of ``model`` with the stages in ``parts`` replaced.

    Returns ``backward(params, cache, dlogits, carry=None) -> grads``; ``carry`` (B, H), when given, is a
    dh_next left over from an earlier call, added to the gradient reaching h_T (RNN only).
    """
    unknown = set(parts) - set(STAGES)
    if unknown:
        raise ValueError(f"parts: expected stages among {', '.join(STAGES)}, got {', '.join(sorted(unknown))}")

    def backward(params, cache, dlogits, carry=None):
        if "dlogits" in parts:
            dlogits = parts["dlogits"](params, cache, dlogits)
        if model == "rnn":
            grads = _rnn_backward(parts, params, cache, dlogits, carry)
        elif carry is not None:
            raise ValueError(f"carry: only the rnn carries dh_next across calls here, got model {model!r}")
        elif model == "lstm":
            grads = lstm.backward(params, cache, dlogits, step=parts.get("step", lstm.cell_backward))
        else:
            grads = gru.backward(params, parts.get("cache", lambda c: c)(cache), dlogits)
        return parts["grads"](grads) if "grads" in parts else grads

    return backward


def _rnn_backward(parts, params, cache, dlogits, carry):
    grads, e = rnn.output_backward(params, cache, dlogits)
    if carry is not None:  # dh_next from the last call: it joins the gradient reaching h_T
        e = e.copy()
        e[-1] += carry
    recurrence = parts.get("recurrence", lambda p, c, e_: rnn.recurrence_backward(p["W_hh"], c.hs, e_))
    dz, dh0 = recurrence(params, cache, e)
    grads.update(rnn.hidden_grads(cache, dz, dh0))
    if "hidden" in parts:
        grads = parts["hidden"](params, cache, dz, grads)
    return {k: grads[k] for k in (*rnn.PARAM_SHAPES, "h0")}


def run_calls(mistakes: Sequence[Mistake], model: Model, problems: Sequence[tuple]) -> list[dict[str, np.ndarray]]:
    """The gradients a submission with ``mistakes`` (none: the reference) returns on each of
    ``problems`` = [(theta, xs, targets), ...], called in that order in one process from a fresh state."""
    parts, across = merged(mistakes)
    backward = compose(model.name, parts)
    out, carry, total = [], None, None
    for theta, xs, targets in problems:
        params = model.params(theta)
        logits, cache = model.forward(params, xs, model.state(theta))
        _, dlogits = softmax_cross_entropy(logits, targets)
        g = backward(params, cache, dlogits, carry=carry if across == "carry_dh" else None)
        if across == "carry_dh":
            carry = g["h0"]
        if across == "accumulate":  # the weights' gradients pile up; the states' are assigned
            total = g if total is None else {k: (total[k] + v if k in model.param_shapes else v) for k, v in g.items()}
            g = total
        out.append(g)
    return out


def merged(mistakes: Sequence[Mistake]) -> tuple[dict[str, Callable], str | None]:
    """The parts and the across-calls kind of several mistakes together; ValueError if they collide."""
    parts, across = {}, [m.across_calls for m in mistakes if m.across_calls]
    for m in mistakes:
        clash = set(parts) & set(m.parts)
        if clash:
            raise ValueError(f"mistakes: {m.id} changes the stage {', '.join(sorted(clash))} that another one changes")
        parts.update(m.parts)
    if len(across) > 1:
        raise ValueError(f"mistakes: at most one lives across calls, got {', '.join(across)}")
    return parts, (across[0] if across else None)


def composable(a: Mistake, b: Mistake) -> bool:
    """Whether the two mistakes can happen together (one model, different stages)."""
    return (a.model == b.model and a.id != b.id and not set(a.parts) & set(b.parts)
            and not (a.across_calls and b.across_calls))


def _second_call(mistake: Mistake, params, cache, dlogits):
    backward = compose(mistake.model, mistake.parts)
    first = backward(params, cache, dlogits)
    if mistake.across_calls == "carry_dh":
        return backward(params, cache, dlogits, carry=first["h0"])
    return {k: (2 * v if k in rnn.PARAM_SHAPES else v) for k, v in first.items()}  # accumulate: twice the first


# --- RNN stages -------------------------------------------------------------------------------------------

def _recurrent_term_dropped(params, cache, e):
    """dz_t = e_t * (1 - h_t^2): dh_next is computed but never added."""
    dz = e * (1 - cache.hs[1:] ** 2)
    return dz, dz[0] @ params["W_hh"]


def _tanh_prime_of_preactivation(params, cache, e):
    """dz_t = dh_t * (1 - z_t^2), with z_t the pre-activation instead of h_t = tanh(z_t)."""
    z = rnn.linear(cache.xs, params["W_xh"], params["b_h"]) + rnn.linear(cache.hs[:-1], params["W_hh"])
    dz, dh_next = np.empty_like(e), np.zeros_like(e[0])
    for t in reversed(range(e.shape[0])):
        dz[t] = (e[t] + dh_next) * (1 - z[t] ** 2)
        dh_next = dz[t] @ params["W_hh"]
    return dz, dh_next


def _W_hh_not_transposed(params, cache, e):
    """dh_next = W_hh dz_t instead of W_hh^T dz_t."""
    dz, dh_next = np.empty_like(e), np.zeros_like(e[0])
    for t in reversed(range(e.shape[0])):
        dz[t] = (e[t] + dh_next) * (1 - cache.hs[t + 1] ** 2)
        dh_next = dz[t] @ params["W_hh"].T
    return dz, dh_next


def _tanh_prime_missing(params, cache, e):
    """dz_t = dh_t: the tanh's derivative left out of the chain."""
    dz, dh_next = np.empty_like(e), np.zeros_like(e[0])
    for t in reversed(range(e.shape[0])):
        dz[t] = e[t] + dh_next
        dh_next = dz[t] @ params["W_hh"]
    return dz, dh_next


def _dW_hh_with_h_t(params, cache, dz, grads):
    return {**grads, "W_hh": rnn.outer_sum(dz, cache.hs[1:])}  # h_t where h_{t-1} belongs


def _bias_from_last_step(params, cache, dz, grads):
    return {**grads, "b_h": dz[-1].sum(axis=0)}  # db_h = dz_T instead of sum_t dz_t


def _softmax_p(params, cache, dlogits):
    logits = rnn.linear(cache.hs[1:], params["W_hy"], params["b_y"])
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)  # dy = p, the -y forgotten


def _sign_flipped(grads):
    return {k: -v for k, v in grads.items()}


# --- LSTM and GRU stages ----------------------------------------------------------------------------------

def _lstm_dc_not_carried(dh, dc_next, gates, c_prev, tanh_c):
    return lstm.cell_backward(dh, np.zeros_like(dc_next), gates, c_prev, tanh_c)


def _lstm_forget_on_c_t(dh, dc_next, gates, c_prev, tanh_c):
    i, f, g, _ = lstm.split_gates(gates)
    return lstm.cell_backward(dh, dc_next, gates, f * c_prev + i * g, tanh_c)  # c_t where c_{t-1} belongs


def _lstm_output_path_missing(dh, dc_next, gates, c_prev, tanh_c):
    i, f, g, _ = lstm.split_gates(gates)
    dc = dc_next  # the path h = o * tanh(c) -> c is never added
    da = np.concatenate([dc * g, dc * c_prev, dc * i, dh * tanh_c], axis=-1) * lstm.gate_slopes(gates)
    return da, dc * f


def _swap_g_o(a):
    i, f, g, o = lstm.split_gates(a)
    return np.concatenate([i, f, o, g], axis=-1)


def _lstm_gate_order(dh, dc_next, gates, c_prev, tanh_c):
    """The backward reads the forward's [i|f|g|o] as [i|f|o|g] and writes da in its own order."""
    da, dc_prev = lstm.cell_backward(dh, dc_next, _swap_g_o(gates), c_prev, tanh_c)
    return _swap_g_o(da), dc_prev


def _gru_other_reset(cache):
    return cache._replace(reset={"after": "before", "before": "after"}[cache.reset])


def _gru_z_swapped(cache):
    r, z, n = gru.split_gates(cache.gates)
    return cache._replace(gates=np.concatenate([r, 1 - z, n], axis=-1))


def _entry(id_, model, title, explanation, equation, hint, across_calls=None, **parts) -> Mistake:
    return Mistake(id_, model, title, explanation, equation, parts, hint, across_calls)


_GRU_OTHER_RESET = ("the other reset convention's backward",
                    "look at where r multiplies in the backward's dn: the same placement as in the forward")
_GRU_Z_SWAPPED = ("z and 1 - z swapped",
                  ("The backward swaps z and 1 - z, sending dh * z to n and dh * (1 - z) straight to h_{t-1}, "
                   "the mirror of the forward's h_t = (1 - z) * n + z * h_{t-1}."),
                  "dn = dh_t * (1 - z),  dh_{t-1} = dh_t * z + ...", "dn = dh * (1 - z) and dh_prev gets dh * z")

MISTAKES: dict[str, Mistake] = {m.id: m for m in [
    _entry("rnn-recurrent-term-dropped", "rnn", "recurrent gradient dropped",
           "dL/dh_t is taken as the output term alone; the gradient flowing back from h_{t+1} is never added, "
           "so dL/db_h misses its W_hh term.",
           "dh_t = W_hy^T (p_t - y_t) + W_hh^T dz_{t+1}", "add dh_next to dh before the tanh'",
           recurrence=_recurrent_term_dropped),
    _entry("rnn-tanh-prime-of-preactivation", "rnn", "tanh' taken of the pre-activation",
           "The derivative of tanh is written 1 - z^2 with z the pre-activation; it is 1 - h^2 with h = tanh(z).",
           "dz_t = dh_t * (1 - h_t^2)", "use the hidden state h_t (the tanh's output), not z_t, in 1 - h^2",
           recurrence=_tanh_prime_of_preactivation),
    _entry("rnn-W_hh-not-transposed", "rnn", "W_hh not transposed in the backward",
           "The gradient sent to h_{t-1} uses W_hh where the chain rule gives its transpose.",
           "dh_{t-1} = W_hh^T dz_t", "with column vectors dh_next = Whh.T @ dz (rows: dz @ W_hh)",
           recurrence=_W_hh_not_transposed),
    _entry("rnn-dW_hh-with-h_t", "rnn", "dW_hh built with h_t instead of h_{t-1}",
           "W_hh multiplies the PREVIOUS state in z_t = W_xh x_t + W_hh h_{t-1} + b_h, so its gradient "
           "pairs dz_t with h_{t-1}.",
           "dW_hh = sum_t dz_t h_{t-1}^T", "dWhh += dz @ hs[t-1].T: the state before the step",
           hidden=_dW_hh_with_h_t),
    _entry("rnn-tanh-prime-missing", "rnn", "tanh' missing",
           "The gradient passes through h_t = tanh(z_t) as if it were the identity.",
           "dz_t = dh_t * (1 - h_t^2)", "multiply dh by (1 - h_t^2) before using it as dz",
           recurrence=_tanh_prime_missing),
    _entry("rnn-bias-from-last-step", "rnn", "bias gradient from the last step only",
           "b_h is used at every step, so its gradient sums dz_t over all t, not only t = T.",
           "db_h = sum_t dz_t", "use += over the time loop", hidden=_bias_from_last_step),
    _entry("rnn-softmax-p-not-p-minus-y", "rnn", "softmax gradient p instead of p - y",
           "The gradient of cross-entropy with respect to the logits is p - onehot(y); the -y was forgotten.",
           "dL/do_t = p_t - y_t", "subtract 1 at the target class: dy[target] -= 1", dlogits=_softmax_p),
    _entry("rnn-sign-flipped", "rnn", "sign flipped",
           "Every gradient has the opposite sign: the gradient of -log p was taken as that of log p.",
           "L = -sum_t log p_t[y_t]", "the loss is -log p: dy = p - y, not y - p", grads=_sign_flipped),
    _entry("rnn-grads-accumulated", "rnn", "gradients accumulated across calls (never reset)",
           "The gradient arrays live outside the function and are never set back to zero, so each call "
           "returns the sum of the gradients of every call so far.",
           "dW = sum_t (...) over THIS sequence only, starting from dW = 0",
           "create the zero gradient arrays inside the function, at every call", across_calls="accumulate"),
    _entry("rnn-dh-next-not-reset", "rnn", "dh_next not reset between sequences",
           "dh_next outlives the call, so the backward of a new sequence starts from the previous "
           "sequence's dL/dh_0 instead of 0.",
           "dh_next = 0 after the last step T, for every sequence",
           "set dh_next = zeros at the start of every backward", across_calls="carry_dh"),
    _entry("lstm-dc-not-carried", "lstm", "cell gradient not carried across time",
           "dL/dc_t keeps only the path through h_t; what flowed back from c_{t+1} through f is dropped.",
           "dc_t = dc_{t+1} * f_{t+1} + dh_t * o_t * (1 - tanh^2 c_t)", "add dc_next (= dc * f from step t+1) to dc",
           step=_lstm_dc_not_carried),
    _entry("lstm-forget-on-c_t", "lstm", "forget gate applied to c_t",
           "The forget gate multiplies the PREVIOUS cell state, so df pairs dc with c_{t-1}.",
           "df_t = dc_t * c_{t-1}", "df = dc * c_prev", step=_lstm_forget_on_c_t),
    _entry("lstm-output-path-missing", "lstm", "output gate path through tanh(c_t) missing",
           "h_t = o_t * tanh(c_t) also depends on c_t, so dc_t must include dh_t * o_t * (1 - tanh^2 c_t).",
           "dc_t = dc_next + dh_t * o_t * (1 - tanh^2 c_t)", "dc = dc_next + dh * o * (1 - tanh(c)**2)",
           step=_lstm_output_path_missing),
    _entry("lstm-gate-order", "lstm", "gate order mismatch (i, f, o, g vs i, f, g, o)",
           "The backward splits the stacked gates in another order than the forward stacked them (cs231n's "
           "i, f, o, g against PyTorch's i, f, g, o), so g and o trade places and slopes.",
           "[i | f | g | o] = activate(a_t), the same blocks in forward and backward",
           "use one list of gate slices in both the forward and the backward", step=_lstm_gate_order),
    _entry("gru-other-reset", "gru", _GRU_OTHER_RESET[0],
           "The backward differentiates reset-before (Cho 2014) while the forward resets after the matmul "
           "(PyTorch): the two conventions are different models.",
           "n = tanh(W_in x + b_in + r * (W_hn h + b_hn))", _GRU_OTHER_RESET[1], cache=_gru_other_reset),
    _entry("gru-z-swapped", "gru", *_GRU_Z_SWAPPED, cache=_gru_z_swapped),
    _entry("gru-cho-other-reset", "gru-cho", _GRU_OTHER_RESET[0],
           "The backward differentiates reset-after (PyTorch) while the forward resets before the matmul "
           "(Cho 2014): the two conventions are different models.",
           "n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)", _GRU_OTHER_RESET[1], cache=_gru_other_reset),
    _entry("gru-cho-z-swapped", "gru-cho", *_GRU_Z_SWAPPED, cache=_gru_z_swapped),
]}


def for_model(model: str) -> list[Mistake]:
    """The catalogued mistakes that apply to ``model``."""
    return [m for m in MISTAKES.values() if m.model == model]


def listing(model: str | None = None) -> list[dict]:
    """The catalogue as rows {"id", "model", "title", "explanation", "equation", "hint", "link"}: every model's
    mistakes, then the optimisers' (gradlab/optim/mistakes.py) under the model "optimisers".

    ``model``: one model name, "optimisers", or None for everything; ValueError otherwise.
    """
    from gradlab.models.registry import MODELS
    from gradlab.optim.mistakes import OPTIMIZER_MISTAKES

    if model is not None and model not in (*MODELS, OPTIMISERS):
        raise ValueError(f"model: expected one of {', '.join((*MODELS, OPTIMISERS))}, got {model!r}")
    rows = [{"id": m.id, "model": m.model, "title": m.title, "explanation": m.explanation, "equation": m.equation,
             "hint": m.hint, "link": m.link} for m in MISTAKES.values()]
    rows += [{"id": m.id, "model": OPTIMISERS, "optimizer": m.optimizer, "title": m.title, "explanation": m.explanation,
              "equation": m.equation, "hint": "", "link": f"README.md#{README_ANCHORS[OPTIMISERS]}"}
             for m in OPTIMIZER_MISTAKES.values()]
    return [r for r in rows if model is None or r["model"] == model]
