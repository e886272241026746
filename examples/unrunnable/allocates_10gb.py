"""Allocates 10 GiB at import: MemoryError under the address-space limit; the grader is untouched."""
import numpy as np

MODEL = "rnn"


def loss_and_grads(params, xs, targets, h0):
    """Would be checked, if the module got that far."""
    grads = {k: 0.0 * v for k, v in params.items()}
    grads["h0"] = 0.0 * h0
    return 0.0, grads

big = np.ones(10 * 2**30 // 8)
