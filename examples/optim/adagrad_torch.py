"""AdaGrad with PyTorch's conventions: G from 0, eps = 1e-10 OUTSIDE the sqrt. A convention. Correct.

    gradlab check examples/optim/adagrad_torch.py --optimizer adagrad
"""

import numpy as np


def step(params, grads, state, lr, eps=1e-10):
    G = state if state is not None else {k: np.zeros_like(p) for k, p in params.items()}
    G = {k: G[k] + grads[k] ** 2 for k in params}
    return {k: p - lr * grads[k] / (np.sqrt(G[k]) + eps) for k, p in params.items()}, G
