"""The optimisers, each a chain of transforms.py blocks with optax's hyper-parameters and defaults.

Notation: p parameters, g gradient, lr learning rate, t = 1, 2, ... the step number (the state keeps
``count`` = steps taken, starting at 0; t = count + 1). Conventions of other tools are options, not
copies (registry.PRESETS sets them): eps inside or outside the square root (``eps_in_sqrt``), the
accumulator's start (``initial_accumulator_value``, ``initial_scale``), the decay, momentum's
``dampening`` and PyTorch's undamped first step, Adam's ``eps_hat`` form. Not implemented: schedules
(lr is a number), masks, mu_dtype, NAdam, AMSGrad.
"""

from __future__ import annotations

from gradlab.optim.base import Transform, chain, decay_rate, flag, positive
from gradlab.optim.transforms import (
    add_decayed_weights,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    scale_by_rss,
    scale_by_stddev,
    trace,
)


def sgd(learning_rate: float) -> Transform:
    """Plain gradient descent: p_t = p_{t-1} - lr g_t (optax.sgd(lr); torch SGD(lr), default lr 1e-3)."""
    return scale_by_learning_rate(positive("sgd", "learning_rate", learning_rate))


def momentum(learning_rate: float, momentum: float = 0.9, dampening: float = 0.0,
             undamped_first_step: bool = False) -> Transform:
    """Heavy-ball momentum (optax.sgd(lr, momentum); torch SGD(lr, momentum, dampening)).

        v_t = mu v_{t-1} + (1 - dampening) g_t,   v_0 = 0   (v_1 = g_1 if undamped_first_step)
        p_t = p_{t-1} - lr v_t

    optax: dampening 0. PyTorch: buf = g at step 1 (``undamped_first_step=True``), the same as
    optax unless dampening > 0. Keras: m = mu m - lr g, p += m, the same at a constant lr. The
    exponential moving average v = mu v + (1 - mu) g is dampening = mu (1/(1 - mu) times smaller).
    mu = 0.9 is our default (optax.sgd has none: momentum=None means off).
    """
    positive("momentum", "learning_rate", learning_rate)
    decay_rate("momentum", "momentum", momentum)
    return chain(trace(momentum, dampening=dampening, undamped_first_step=undamped_first_step),
                 scale_by_learning_rate(learning_rate))


def nesterov(learning_rate: float, momentum: float = 0.9, dampening: float = 0.0,
             undamped_first_step: bool = False) -> Transform:
    """Nesterov momentum in the form optax and PyTorch share (optax.sgd(nesterov=True); torch SGD(nesterov=True)).

        v_t = mu v_{t-1} + (1 - dampening) g_t,   v_0 = 0   (v_1 = g_1 if undamped_first_step)
        p_t = p_{t-1} - lr (g_t + mu v_t)
    """
    positive("nesterov", "learning_rate", learning_rate)
    decay_rate("nesterov", "momentum", momentum)
    return chain(trace(momentum, dampening=dampening, undamped_first_step=undamped_first_step, nesterov=True),
                 scale_by_learning_rate(learning_rate))


def adagrad(learning_rate: float, initial_accumulator_value: float = 0.1, eps: float = 1e-7,
            eps_in_sqrt: bool = True) -> Transform:
    """AdaGrad (Duchi et al. 2011; optax.adagrad).

        G_t = G_{t-1} + g_t^2,   G_0 = initial_accumulator_value
        p_t = p_{t-1} - lr g_t / sqrt(G_t + eps)      eps_in_sqrt
        p_t = p_{t-1} - lr g_t / (sqrt(G_t) + eps)    otherwise

    optax: G_0 0.1, eps 1e-7 inside. PyTorch: G_0 0, eps 1e-10 outside, lr 1e-2. min-char-rnn:
    G_0 0 (mem = zeros), eps 1e-8 inside, lr 0.1. Keras: optax's (0.1, 1e-7 inside), lr 1e-3.
    """
    positive("adagrad", "learning_rate", learning_rate)
    return chain(scale_by_rss(initial_accumulator_value, eps, eps_in_sqrt=eps_in_sqrt),
                 scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate: float, decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
            eps_in_sqrt: bool = True, centered: bool = False, momentum: float | None = None,
            nesterov: bool = False, bias_correction: bool = False) -> Transform:
    """RMSprop (Tieleman & Hinton 2012; optax.rmsprop), plain or centered.

        nu_t = rho nu_{t-1} + (1 - rho) g_t^2,   nu_0 = initial_scale,   rho = decay
        s_t  = nu_t                               (plain)
        s_t  = nu_t - mu_t^2, mu_t = rho mu_{t-1} + (1 - rho) g_t   (centered)
        u_t  = -lr g_t / sqrt(s_t + eps)          eps_in_sqrt
        u_t  = -lr g_t / (sqrt(s_t) + eps)        otherwise
        with momentum mu': b_t = mu' b_{t-1} + u_t and p_t = p_{t-1} + b_t (nesterov: + u_t + mu' b_t)

    optax: rho 0.9, eps 1e-8 inside, nu_0 0, no bias correction. PyTorch: alpha = rho 0.99, eps 1e-8
    outside, lr 1e-2 (its buf = mu' buf + g/denominator, p -= lr buf: the same at a constant lr).
    Keras: rho 0.9, eps 1e-7 inside, lr 1e-3. The first step from nu_0 = 0 is lr/sqrt(1 - rho): 10 lr
    at rho = 0.99.
    """
    positive("rmsprop", "learning_rate", learning_rate)
    scale = scale_by_stddev if flag("rmsprop", "centered", centered) else scale_by_rms
    blocks = [scale(decay, eps, initial_scale, eps_in_sqrt=eps_in_sqrt, bias_correction=bias_correction),
              scale_by_learning_rate(learning_rate)]
    if momentum is not None:
        blocks.append(trace(decay_rate("rmsprop", "momentum", momentum), nesterov=nesterov))
    elif flag("rmsprop", "nesterov", nesterov):
        raise ValueError("rmsprop: nesterov=True needs a momentum (got momentum=None)")
    return chain(*blocks)


def adam(learning_rate: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
         eps_hat: bool = False) -> Transform:
    """Adam (Kingma & Ba 2015; optax.adam; torch Adam, lr 1e-3).

        m_t = b1 m_{t-1} + (1 - b1) g_t,   v_t = b2 v_{t-1} + (1 - b2) g_t^2,   m_0 = v_0 = 0
        m_hat = m_t / (1 - b1^t),          v_hat = v_t / (1 - b2^t),            t = 1, 2, ...
        p_t = p_{t-1} - lr m_hat / (sqrt(v_hat + eps_root) + eps)
        p_t = p_{t-1} - lr sqrt(1 - b2^t)/(1 - b1^t) m_t / (sqrt(v_t) + eps)    eps_hat (Keras, eps 1e-7)

    torch Adam(weight_decay=wd) is coupled L2, g <- g + wd p first:
    chain(add_decayed_weights(wd), adam(lr)). Decoupled decay is adamw.
    """
    positive("adam", "learning_rate", learning_rate)
    return chain(scale_by_adam(b1, b2, eps, eps_root, eps_hat=eps_hat), scale_by_learning_rate(learning_rate))


def adamw(learning_rate: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
          weight_decay: float = 1e-4, eps_hat: bool = False) -> Transform:
    """AdamW, Adam with decoupled weight decay (Loshchilov & Hutter 2019; optax.adamw).

        p_t = p_{t-1} - lr (m_hat / (sqrt(v_hat + eps_root) + eps) + wd p_{t-1})    (m_hat, v_hat: adam)

    optax: wd 1e-4. PyTorch: wd 1e-2, lr 1e-3, written p <- p (1 - lr wd) and then the Adam step: the
    same formula. Keras: wd 4e-3, lr 1e-3, eps-hat form with eps 1e-7, decay applied first as PyTorch.
    """
    positive("adamw", "learning_rate", learning_rate)
    return chain(scale_by_adam(b1, b2, eps, eps_root, eps_hat=eps_hat), add_decayed_weights(weight_decay),
                 scale_by_learning_rate(learning_rate))
