"""min-char-rnn style, WITH A MISTAKE: dh_from_next lives at module level and is never set back to zero, so
each call's backward starts from the previous call's gradient at h_0. The first call is right; every
later one is wrong. gradlab names it rnn-dh-next-not-reset.

    gradlab check examples/minchar_dhnext_not_reset.py
"""
import numpy as np

data = "the quick brown fox jumps over"
chars = sorted(set(data))
vocab_size = len(chars)
hidden_size = 8
seq_length = 12

rng = np.random.default_rng(2)
Wxh = 0.01 * rng.standard_normal((hidden_size, vocab_size))
Whh = 0.01 * rng.standard_normal((hidden_size, hidden_size))
Why = 0.01 * rng.standard_normal((vocab_size, hidden_size))
bh = np.zeros((hidden_size, 1))
by = np.zeros((vocab_size, 1))
dh_from_next = np.zeros((hidden_size, 1))  # MISTAKE: shared by every call


def lossFun(inputs, targets, hprev):
    """inputs, targets: lists of T character indices; hprev: (H, 1) state carried in from the last chunk."""
    global dh_from_next
    xs, hs, ps = {}, {-1: np.copy(hprev)}, {}
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1.0
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)  # h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)
        scores = Why @ hs[t] + by
        e = np.exp(scores - scores.max())
        ps[t] = e / e.sum()  # softmax
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    for t in reversed(range(len(inputs))):
        dscores = np.copy(ps[t])
        dscores[targets[t]] -= 1.0  # p - onehot(target)
        dWhy += dscores @ hs[t].T
        dby += dscores
        dh = Why.T @ dscores + dh_from_next
        dpre = (1.0 - hs[t] * hs[t]) * dh  # tanh' from the output h_t
        dbh += dpre
        dWxh += dpre @ xs[t].T
        dWhh += dpre @ hs[t - 1].T
        dh_from_next = Whh.T @ dpre
    for g in (dWxh, dWhh, dWhy, dbh, dby):
        np.clip(g, -5, 5, out=g)  # against exploding gradients, as min-char-rnn does
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]

