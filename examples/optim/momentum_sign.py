"""Momentum that mixes Keras's velocity (v = mu v - lr g) with a subtraction (wrong: "update sign flipped
(momentum sign)": the parameters climb the gradient).

    gradlab check examples/optim/momentum_sign.py --optimizer momentum
"""


def update(params, grads, mems, learning_rate, mu=0.9):
    for param, dparam, v in zip(params, grads, mems):
        v *= mu
        v -= learning_rate * dparam
        param -= v  # BUG: v already carries the minus sign: param += v
