"""Adam without bias correction (wrong: "Adam without bias correction").

    gradlab check examples/optim/adam_no_bias_correction.py --optimizer adam
"""

import numpy as np


def step(params, grads, state, lr, b1=0.9, b2=0.999, eps=1e-8):
    m, v = state if state is not None else ({k: 0.0 for k in params}, {k: 0.0 for k in params})
    m = {k: b1 * m[k] + (1 - b1) * grads[k] for k in params}
    v = {k: b2 * v[k] + (1 - b2) * grads[k] ** 2 for k in params}
    return {k: p - lr * m[k] / (np.sqrt(v[k]) + eps) for k, p in params.items()}, (m, v)  # BUG: no m_hat, v_hat
