"""RMSprop in min-char-rnn's in-place loop, with the classic bug: the cache is rebound, not updated.

`mem = 0.9*mem + 0.1*g*g` makes a NEW array and binds the loop's local name `mem` to it; the caller's
memory stays at zero, so every step starts afresh ("state not carried between steps" from step 2 on).
The fix: `mem *= 0.9; mem += 0.1 * dparam * dparam` (or `mem[...] = ...`).

    gradlab check examples/optim/rmsprop_rebinds_cache.py --optimizer rmsprop
"""

import numpy as np


def update(params, grads, mems, learning_rate):
    for param, dparam, mem in zip(params, grads, mems):
        mem = 0.9 * mem + 0.1 * dparam * dparam  # BUG: rebinds the local name
        param += -learning_rate * dparam / np.sqrt(mem + 1e-8)
