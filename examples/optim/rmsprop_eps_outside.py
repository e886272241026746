"""RMSprop with eps OUTSIDE the sqrt (decay 0.9): g / (sqrt(nu) + eps). A convention, not a mistake. Correct.

    gradlab check examples/optim/rmsprop_eps_outside.py --optimizer rmsprop
"""

import numpy as np


def update(params, grads, mems, learning_rate, decay=0.9, eps=1e-8):
    for param, dparam, mem in zip(params, grads, mems):
        mem *= decay
        mem += (1 - decay) * dparam * dparam
        param -= learning_rate * dparam / (np.sqrt(mem) + eps)
