"""Returns dW_xh transposed: shape (D, H) where (H, D) is expected."""
import numpy as np

MODEL = "rnn"


def loss_and_grads(params, xs, targets, h0):
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grads["h0"] = np.zeros_like(h0)
    grads["W_xh"] = grads["W_xh"].T
    return 1.0, grads
