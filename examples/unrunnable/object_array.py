"""Returns an object array (each element a Python object, which could be anything)."""
import numpy as np

MODEL = "rnn"


def loss_and_grads(params, xs, targets, h0):
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grads["h0"] = np.zeros_like(h0)
    grads["b_h"] = np.array([object() for _ in params["b_h"]], dtype=object)
    return 1.0, grads
