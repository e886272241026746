"""AdamW as torch.optim.AdamW: p <- p (1 - lr wd), then the Adam step, weight decay 1e-2. Correct.

    gradlab check examples/optim/adamw.py --optimizer adamw
"""

import numpy as np


def step(params, grads, state, lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2):
    t, m, v = state if state is not None else (0, {k: 0.0 for k in params}, {k: 0.0 for k in params})
    t += 1
    new, m2, v2 = {}, {}, {}
    for k, p in params.items():
        g = grads[k]
        m2[k] = b1 * m[k] + (1 - b1) * g
        v2[k] = b2 * v[k] + (1 - b2) * g * g
        p = p * (1 - lr * weight_decay)
        new[k] = p - lr * (m2[k] / (1 - b1 ** t)) / (np.sqrt(v2[k] / (1 - b2 ** t)) + eps)
    return new, (t, m2, v2)
