"""min-char-rnn's AdaGrad, as in Karpathy's min-char-rnn.py (mem starts at zero, eps 1e-8 inside the sqrt).

    gradlab check examples/optim/adagrad_minchar.py --optimizer adagrad
"""

import numpy as np


def update(params, grads, mems, learning_rate):
    for param, dparam, mem in zip(params, grads, mems):
        mem += dparam * dparam
        param += -learning_rate * dparam / np.sqrt(mem + 1e-8)  # adagrad update
