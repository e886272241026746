"""Adam whose step counter is incremented after the bias correction, so t = 0 at the first step
(wrong: "bias correction with t starting at 0": 1 - b1**0 = 0, NaN from the first step).

    gradlab check examples/optim/adam_t_from_0.py --optimizer adam
"""

import numpy as np


def step(params, grads, state, lr, b1=0.9, b2=0.999, eps=1e-8):
    t, m, v = state if state is not None else (0, {k: 0.0 for k in params}, {k: 0.0 for k in params})
    m = {k: b1 * m[k] + (1 - b1) * grads[k] for k in params}
    v = {k: b2 * v[k] + (1 - b2) * grads[k] ** 2 for k in params}
    new = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, p in params.items():
            new[k] = p - lr * (m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + eps)
    return new, (t + 1, m, v)  # BUG: t += 1 belongs before the correction
