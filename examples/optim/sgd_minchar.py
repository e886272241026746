"""Plain gradient descent in min-char-rnn's in-place style, with no memory list. Correct.

    gradlab check examples/optim/sgd_minchar.py --optimizer sgd
"""


def update(params, grads, learning_rate):
    for param, dparam in zip(params, grads):
        param -= learning_rate * dparam
