"""gradlab's native contract for the LSTM, WITH A MISTAKE: df pairs dc with c_t instead of c_{t-1}.

    gradlab check examples/gradlab_lstm_forget_on_c_t.py
"""
import numpy as np

MODEL = "lstm"


def sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def loss_and_grads(params, xs, targets, state):
    h0, c0 = state
    W_x, W_h, b, W_hy, b_y = (params[k] for k in ("W_x", "W_h", "b", "W_hy", "b_y"))
    T, B, _ = xs.shape
    H = h0.shape[1]
    rows = np.arange(B)
    hs, cs, steps, ps, loss = [h0], [c0], [], [], 0.0
    for t in range(T):
        a = xs[t] @ W_x.T + hs[-1] @ W_h.T + b
        i, f, g, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        cs.append(f * cs[-1] + i * g)
        tc = np.tanh(cs[-1])
        hs.append(o * tc)
        steps.append((i, f, g, o, tc))
        s = hs[-1] @ W_hy.T + b_y
        e = np.exp(s - s.max(axis=1, keepdims=True))
        ps.append(e / e.sum(axis=1, keepdims=True))
        loss -= np.log(ps[-1][rows, targets[t]]).sum()
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(T)):
        i, f, g, o, tc = steps[t]
        dy = ps[t].copy()
        dy[rows, targets[t]] -= 1.0
        grads["W_hy"] += dy.T @ hs[t + 1]
        grads["b_y"] += dy.sum(axis=0)
        dh = dy @ W_hy + dh_next
        dc = dc_next + dh * o * (1 - tc ** 2)
        da = np.hstack([dc * g * i * (1 - i), dc * cs[t + 1] * f * (1 - f), dc * i * (1 - g ** 2), dh * tc * o * (1 - o)])
        grads["W_x"] += da.T @ xs[t]
        grads["W_h"] += da.T @ hs[t]
        grads["b"] += da.sum(axis=0)
        dh_next, dc_next = da @ W_h, dc * f
    grads["h0"], grads["c0"] = dh_next, dc_next
    return loss, grads
