"""gradlab's native contract for the GRU (reset after the matmul), WITH A MISTAKE: the backward is the one of the
reset BEFORE
the matmul (Cho et al. 2014), while the forward resets after it.

    gradlab check examples/gradlab_gru_other_reset.py
"""
import numpy as np

MODEL = "gru"


def sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def loss_and_grads(params, xs, targets, h0):
    W_x, W_h, b_x, b_h, W_hy, b_y = (params[k] for k in ("W_x", "W_h", "b_x", "b_h", "W_hy", "b_y"))
    T, B, _ = xs.shape
    H = h0.shape[1]
    rows = np.arange(B)
    hs, steps, ps, loss = [h0], [], [], 0.0
    for t in range(T):
        h = hs[-1]
        ax = xs[t] @ W_x.T + b_x
        rz = sigmoid(ax[:, :2 * H] + h @ W_h[:2 * H].T + b_h[:2 * H])
        r, z = rz[:, :H], rz[:, H:]
        q = h @ W_h[2 * H:].T + b_h[2 * H:]  # reset AFTER the matmul: r * (W_hn h + b_hn)
        n = np.tanh(ax[:, 2 * H:] + r * q)
        hs.append((1 - z) * n + z * h)
        steps.append((r, z, n, q))
        s = hs[-1] @ W_hy.T + b_y
        e = np.exp(s - s.max(axis=1, keepdims=True))
        ps.append(e / e.sum(axis=1, keepdims=True))
        loss -= np.log(ps[-1][rows, targets[t]]).sum()
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        r, z, n, q = steps[t]
        h = hs[t]
        dy = ps[t].copy()
        dy[rows, targets[t]] -= 1.0
        grads["W_hy"] += dy.T @ hs[t + 1]
        grads["b_y"] += dy.sum(axis=0)
        dh = dy @ W_hy + dh_next
        dz = dh * (h - n) * z * (1 - z)
        dan = dh * (1 - z) * (1 - n ** 2)
        q = r * h  # MISTAKE: the backward of the reset-before GRU
        dq = dan @ W_h[2 * H:]
        dar = dq * h * r * (1 - r)
        grads["W_h"][:2 * H] += np.hstack([dar, dz]).T @ h
        grads["W_h"][2 * H:] += dan.T @ q
        grads["b_h"] += np.hstack([dar, dz, dan]).sum(axis=0)
        dh_next = dh * z + np.hstack([dar, dz]) @ W_h[:2 * H] + dq * r
        grads["W_x"] += np.hstack([dar, dz, dan]).T @ xs[t]
        grads["b_x"] += np.hstack([dar, dz, dan]).sum(axis=0)
    grads["h0"] = dh_next
    return loss, grads
