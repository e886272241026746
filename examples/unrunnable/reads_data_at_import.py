"""Reads its training data at import, as min-char-rnn does: the checker runs it in an empty directory."""
MODEL = "rnn"


def loss_and_grads(params, xs, targets, h0):
    """Would be checked, if the module got that far."""
    grads = {k: 0.0 * v for k, v in params.items()}
    grads["h0"] = 0.0 * h0
    return 0.0, grads

with open("input.txt") as fh:
    data = fh.read()
