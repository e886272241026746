"""Momentum written as Keras writes it, v = mu v - lr g; p += v. The same trajectory as v = mu v + g at a
constant learning rate: a convention, not a mistake. Correct.

    gradlab check examples/optim/momentum_keras.py --optimizer momentum
"""


def update(params, grads, mems, learning_rate, mu=0.9):
    for param, dparam, v in zip(params, grads, mems):
        v *= mu
        v -= learning_rate * dparam
        param += v
