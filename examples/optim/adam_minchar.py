"""Adam in min-char-rnn's in-place style: two memory lists (ms, vs) and a module-level step counter. Correct.

    gradlab check examples/optim/adam_minchar.py --optimizer adam
"""

import numpy as np

t = 0


def update(params, grads, ms, vs, learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    global t
    t += 1
    for param, dparam, m, v in zip(params, grads, ms, vs):
        m *= b1
        m += (1 - b1) * dparam
        v *= b2
        v += (1 - b2) * dparam * dparam
        param -= learning_rate * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
