"""An infinite loop at import: the CPU limit stops it."""
MODEL = "rnn"


def loss_and_grads(params, xs, targets, h0):
    """Would be checked, if the module got that far."""
    grads = {k: 0.0 * v for k, v in params.items()}
    grads["h0"] = 0.0 * h0
    return 0.0, grads

while True:
    pass
