"""A character-level vanilla RNN in min-char-rnn's style: correct, with min-char-rnn's clipping.

Column vectors throughout: x_t is a one-hot (V, 1) column, h_t an (H, 1) column. The weights live at
module level, and lossFun(inputs, targets, hprev) returns the summed cross-entropy, the five
gradients (clipped elementwise to [-5, 5]) and the last hidden state. Sizes as the classic run on
tiny-shakespeare: 65 characters, 100 hidden units, 25 steps.

    gradlab check examples/minchar_rnn.py
"""
import numpy as np

vocab_size = 65
hidden_size = 100
seq_length = 25
learning_rate = 0.1

rng = np.random.default_rng(1)
Wxh = 0.01 * rng.standard_normal((hidden_size, vocab_size))  # input to hidden
Whh = 0.01 * rng.standard_normal((hidden_size, hidden_size))  # hidden to hidden
Why = 0.01 * rng.standard_normal((vocab_size, hidden_size))  # hidden to output
bh = np.zeros((hidden_size, 1))
by = np.zeros((vocab_size, 1))


def lossFun(inputs, targets, hprev):
    """inputs, targets: lists of T character indices; hprev: (H, 1) state carried in from the last chunk."""
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
    dh_from_next = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dscores = np.copy(ps[t])
        dscores[targets[t]] -= 1.0  # p - onehot(target)
        dWhy += dscores @ hs[t].T
        dby += dscores
        dh = Why.T @ dscores + dh_from_next  # this step's output, plus what came back from t + 1
        dpre = (1.0 - hs[t] * hs[t]) * dh  # tanh' from the output h_t
        dbh += dpre
        dWxh += dpre @ xs[t].T
        dWhh += dpre @ hs[t - 1].T
        dh_from_next = Whh.T @ dpre
    for g in (dWxh, dWhh, dWhy, dbh, dby):
        np.clip(g, -5, 5, out=g)  # against exploding gradients, as min-char-rnn does
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


if __name__ == "__main__":  # a short training run with Adagrad; the checker never runs this block
    text = "".join(chr(32 + (i * 7) % 65) for i in range(5000))
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    memory = [np.zeros_like(p) for p in (Wxh, Whh, Why, bh, by)]
    h, pos = np.zeros((hidden_size, 1)), 0
    for step in range(200):
        if pos + seq_length + 1 >= len(text):
            h, pos = np.zeros((hidden_size, 1)), 0
        chunk = [index[c] for c in text[pos:pos + seq_length + 1]]
        loss, *grads, h = lossFun(chunk[:-1], chunk[1:], h)
        for p, g, m in zip((Wxh, Whh, Why, bh, by), grads, memory):
            m += g * g
            p -= learning_rate * g / np.sqrt(m + 1e-8)
        pos += seq_length
    print(f"loss after 200 steps: {loss:.3f}")
