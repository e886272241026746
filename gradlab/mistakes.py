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

from gradlab.models import rnn


@dataclass(frozen=True)
class Mistake:
    id: str
    model: str
    title: str
    explanation: str
    equation: str  # the equation it breaks, as the reference writes it
    backward: Callable


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
]}


def for_model(model: str) -> list[Mistake]:
    """The catalogued mistakes that apply to ``model``."""
    return [m for m in MISTAKES.values() if m.model == model]
