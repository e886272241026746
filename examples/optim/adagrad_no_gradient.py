"""AdaGrad without the gradient in the numerator (wrong: "gradient factor missing from the update").

    gradlab check examples/optim/adagrad_no_gradient.py --optimizer adagrad
"""

import numpy as np


def update(params, grads, mems, learning_rate):
    for param, dparam, mem in zip(params, grads, mems):
        mem += dparam * dparam
        param += -learning_rate / np.sqrt(mem + 1e-8)  # BUG: dparam missing
