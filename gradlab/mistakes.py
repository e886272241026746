"""The catalogue of named mistakes: each a mutation of a reference backward.

Each entry is a wrong backward with the reference's signature, ``backward(params, cache, dlogits) ->
grads``, built from the reference's own pieces with exactly one step changed, so the mistake is the
only difference. Tests feed them to every oracle and assert that each is caught (the twin of every
oracle test); the student checker will match students' numbers against them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradlab.models import gru, lstm, rnn


@dataclass(frozen=True)
class Mistake:
    id: str
    model: str
    title: str
    explanation: str
    equation: str  # the equation it breaks, as the reference writes it
    backward: Callable
    hint: str = ""  # where to look first


def _rnn_with_recurrence(recurrence: Callable) -> Callable:
    """The RNN backward with its recurrence (dz_t from e_t) replaced by ``recurrence(params, cache, e)``."""

    def backward(params, cache, dlogits):
        grads, e = rnn.output_backward(params, cache, dlogits)
        dz, dh0 = recurrence(params, cache, e)
        grads.update(rnn.hidden_grads(cache, dz, dh0))
        return grads

    return backward


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


def _dW_hh_with_h_t(params, cache, dlogits):
    grads = rnn.backward(params, cache, dlogits)
    _, e = rnn.output_backward(params, cache, dlogits)
    dz, _ = rnn.recurrence_backward(params["W_hh"], cache.hs, e)
    grads["W_hh"] = rnn.outer_sum(dz, cache.hs[1:])  # h_t where h_{t-1} belongs
    return grads


def _tanh_prime_missing(params, cache, e):
    """dz_t = dh_t: the tanh's derivative left out of the chain."""
    dz, dh_next = np.empty_like(e), np.zeros_like(e[0])
    for t in reversed(range(e.shape[0])):
        dz[t] = e[t] + dh_next
        dh_next = dz[t] @ params["W_hh"]
    return dz, dh_next


def _bias_from_last_step(params, cache, dlogits):
    grads = rnn.backward(params, cache, dlogits)
    _, e = rnn.output_backward(params, cache, dlogits)
    dz, _ = rnn.recurrence_backward(params["W_hh"], cache.hs, e)
    grads["b_h"] = dz[-1].sum(axis=0)  # db_h = dz_T instead of sum_t dz_t
    return grads


def _softmax_p_not_p_minus_y(params, cache, dlogits):
    logits = rnn.linear(cache.hs[1:], params["W_hy"], params["b_y"])
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return rnn.backward(params, cache, p / p.sum(axis=-1, keepdims=True))  # dy = p, the -y forgotten


def _sign_flipped(params, cache, dlogits):
    return {k: -v for k, v in rnn.backward(params, cache, dlogits).items()}


def _lstm_dc_not_carried(dh, dc_next, gates, c_prev, tanh_c):
    return lstm.cell_backward(dh, np.zeros_like(dc_next), gates, c_prev, tanh_c)


def _lstm_forget_on_c_t(dh, dc_next, gates, c_prev, tanh_c):
    i, f, g, _ = lstm.split_gates(gates)
    return lstm.cell_backward(dh, dc_next, gates, f * c_prev + i * g, tanh_c)  # c_t where c_{t-1} belongs


def _lstm_output_path_missing(dh, dc_next, gates, c_prev, tanh_c):
    i, f, g, o = lstm.split_gates(gates)
    dc = dc_next  # the path h = o * tanh(c) -> c is never added
    da = np.concatenate([dc * g, dc * c_prev, dc * i, dh * tanh_c], axis=-1) * lstm.gate_slopes(gates)
    return da, dc * f


def _gru_with_cache(mutate: Callable) -> Callable:
    return lambda params, cache, dlogits: gru.backward(params, mutate(cache), dlogits)


def _gru_other_reset(cache):
    return cache._replace(reset={"after": "before", "before": "after"}[cache.reset])


def _gru_z_swapped(cache):
    r, z, n = gru.split_gates(cache.gates)
    return cache._replace(gates=np.concatenate([r, 1 - z, n], axis=-1))


def _lstm_step(step: Callable) -> Callable:
    return lambda params, cache, dlogits: lstm.backward(params, cache, dlogits, step=step)


MISTAKES: dict[str, Mistake] = {m.id: m for m in [
    Mistake("rnn-recurrent-term-dropped", "rnn", "recurrent gradient dropped",
            "dL/dh_t is taken as the output term alone; the gradient flowing back from h_{t+1} is never added, "
            "so dL/db_h misses its W_hh term.",
            "dh_t = W_hy^T (p_t - y_t) + W_hh^T dz_{t+1}", _rnn_with_recurrence(_recurrent_term_dropped)),
    Mistake("rnn-tanh-prime-of-preactivation", "rnn", "tanh' taken of the pre-activation",
            "The derivative of tanh is written 1 - z^2 with z the pre-activation; it is 1 - h^2 with h = tanh(z).",
            "dz_t = dh_t * (1 - h_t^2)", _rnn_with_recurrence(_tanh_prime_of_preactivation)),
    Mistake("rnn-W_hh-not-transposed", "rnn", "W_hh not transposed in the backward",
            "The gradient sent to h_{t-1} uses W_hh where the chain rule gives its transpose.",
            "dh_{t-1} = W_hh^T dz_t", _rnn_with_recurrence(_W_hh_not_transposed)),
    Mistake("rnn-dW_hh-with-h_t", "rnn", "dW_hh built with h_t instead of h_{t-1}",
            "W_hh multiplies the PREVIOUS state in z_t = W_xh x_t + W_hh h_{t-1} + b_h, so its gradient "
            "pairs dz_t with h_{t-1}.",
            "dW_hh = sum_t dz_t h_{t-1}^T", _dW_hh_with_h_t),
    Mistake("rnn-tanh-prime-missing", "rnn", "tanh' missing",
            "The gradient passes through h_t = tanh(z_t) as if it were the identity.",
            "dz_t = dh_t * (1 - h_t^2)", _rnn_with_recurrence(_tanh_prime_missing)),
    Mistake("rnn-bias-from-last-step", "rnn", "bias gradient from the last step only",
            "b_h is used at every step, so its gradient sums dz_t over all t, not only t = T.",
            "db_h = sum_t dz_t", _bias_from_last_step, "use += over the time loop"),
    Mistake("rnn-softmax-p-not-p-minus-y", "rnn", "softmax gradient p instead of p - y",
            "The gradient of cross-entropy with respect to the logits is p - onehot(y); the -y was forgotten.",
            "dL/do_t = p_t - y_t", _softmax_p_not_p_minus_y),
    Mistake("rnn-sign-flipped", "rnn", "sign flipped",
            "Every gradient has the opposite sign: the gradient of -log p was taken as that of log p.",
            "L = -sum_t log p_t[y_t]", _sign_flipped),
    Mistake("lstm-dc-not-carried", "lstm", "cell gradient not carried across time",
            "dL/dc_t keeps only the path through h_t; what flowed back from c_{t+1} through f is dropped.",
            "dc_t = dc_{t+1} * f_{t+1} + dh_t * o_t * (1 - tanh^2 c_t)", _lstm_step(_lstm_dc_not_carried)),
    Mistake("lstm-forget-on-c_t", "lstm", "forget gate applied to c_t",
            "The forget gate multiplies the PREVIOUS cell state, so df pairs dc with c_{t-1}.",
            "df_t = dc_t * c_{t-1}", _lstm_step(_lstm_forget_on_c_t)),
    Mistake("lstm-output-path-missing", "lstm", "output gate path through tanh(c_t) missing",
            "h_t = o_t * tanh(c_t) also depends on c_t, so dc_t must include dh_t * o_t * (1 - tanh^2 c_t).",
            "dc_t = dc_next + dh_t * o_t * (1 - tanh^2 c_t)", _lstm_step(_lstm_output_path_missing)),
    Mistake("gru-other-reset", "gru", "the other reset convention's backward",
            "The backward differentiates reset-before (Cho 2014) while the forward resets after the matmul "
            "(PyTorch): the two conventions are different models.",
            "n = tanh(W_in x + b_in + r * (W_hn h + b_hn))", _gru_with_cache(_gru_other_reset)),
    Mistake("gru-z-swapped", "gru", "z and 1 - z swapped",
            "The backward treats h_t = z * n + (1 - z) * h_{t-1}, the mirror of the forward's update.",
            "h_t = (1 - z) * n + z * h_{t-1}", _gru_with_cache(_gru_z_swapped)),
    Mistake("gru-cho-other-reset", "gru-cho", "the other reset convention's backward",
            "The backward differentiates reset-after (PyTorch) while the forward resets before the matmul "
            "(Cho 2014): the two conventions are different models.",
            "n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)", _gru_with_cache(_gru_other_reset)),
    Mistake("gru-cho-z-swapped", "gru-cho", "z and 1 - z swapped",
            "The backward treats h_t = z * n + (1 - z) * h_{t-1}, the mirror of the forward's update.",
            "h_t = (1 - z) * n + z * h_{t-1}", _gru_with_cache(_gru_z_swapped)),
]}


def for_model(model: str) -> list[Mistake]:
    """The catalogued mistakes that apply to ``model``."""
    return [m for m in MISTAKES.values() if m.model == model]
