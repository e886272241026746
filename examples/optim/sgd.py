"""Plain gradient descent in gradlab's contract. Correct.

    gradlab check examples/optim/sgd.py --optimizer sgd
"""


def step(params, grads, state, lr):
    return {k: p - lr * grads[k] for k, p in params.items()}, state
