"""os._exit(0) at import: the process ends without a word. Never a pass."""
import os

MODEL = "rnn"


def loss_and_grads(params, xs, targets, h0):
    """Would be checked, if the module got that far."""
    grads = {k: 0.0 * v for k, v in params.items()}
    grads["h0"] = 0.0 * h0
    return 0.0, grads

os._exit(0)
