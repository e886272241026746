"""AdaGrad that sums g instead of g^2 (wrong: "AdaGrad accumulates g instead of g^2"; NaN once the sum
is negative).

    gradlab check examples/optim/adagrad_accumulates_g.py --optimizer adagrad
"""

import numpy as np


def update(params, grads, mems, learning_rate):
    for param, dparam, mem in zip(params, grads, mems):
        mem += dparam  # BUG: dparam * dparam
        with np.errstate(invalid="ignore"):
            param += -learning_rate * dparam / np.sqrt(mem + 1e-8)
