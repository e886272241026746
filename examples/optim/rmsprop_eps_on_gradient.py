"""RMSprop whose eps lands outside the division (operator precedence): lr * g / sqrt(nu) + eps
(wrong: "eps added to the gradient instead of the denominator").

    gradlab check examples/optim/rmsprop_eps_on_gradient.py --optimizer rmsprop
"""

import numpy as np


def update(params, grads, mems, learning_rate):
    for param, dparam, mem in zip(params, grads, mems):
        mem *= 0.9
        mem += 0.1 * dparam * dparam
        param -= learning_rate * dparam / np.sqrt(mem) + 1e-8  # BUG: eps belongs inside the denominator
