"""gradlab's native contract for the vanilla RNN: correct.

loss_and_grads(params, xs, targets, h0) -> (loss, grads), with time-major xs (T, B, D), integer
targets (T, B), h0 (B, H); params W_xh (H, D), W_hh (H, H), W_hy (V, H), b_h (H,), b_y (V,); grads has
the same keys plus h0. The loss is summed over time and batch.

    gradlab check examples/gradlab_rnn.py
"""
import numpy as np

MODEL = "rnn"


def softmax_rows(o):
    e = np.exp(o - o.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def loss_and_grads(params, xs, targets, h0):
    W_xh, W_hh, W_hy, b_h, b_y = (params[k] for k in ("W_xh", "W_hh", "W_hy", "b_h", "b_y"))
    T, B, _ = xs.shape
    rows = np.arange(B)
    hs, ps, loss = [h0], [], 0.0
    for t in range(T):
        hs.append(np.tanh(xs[t] @ W_xh.T + hs[-1] @ W_hh.T + b_h))
        ps.append(softmax_rows(hs[-1] @ W_hy.T + b_y))
        loss -= np.log(ps[-1][rows, targets[t]]).sum()
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        dy = ps[t].copy()
        dy[rows, targets[t]] -= 1.0
        grads["W_hy"] += dy.T @ hs[t + 1]
        grads["b_y"] += dy.sum(axis=0)
        dz = (dy @ W_hy + dh_next) * (1 - hs[t + 1] ** 2)
        grads["W_xh"] += dz.T @ xs[t]
        grads["W_hh"] += dz.T @ hs[t]
        grads["b_h"] += dz.sum(axis=0)
        dh_next = dz @ W_hh
    grads["h0"] = dh_next
    return loss, grads
