"""loss_and_grads raises: the report shows the traceback through this file."""
MODEL = "rnn"


def loss_and_grads(params, xs, targets, h0):
    T = xs.shape[0]
    scale = 1 / (T - T)  # ZeroDivisionError
    return scale, {}
