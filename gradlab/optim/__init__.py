"""NumPy optimisers over a params dict, pure and checked against optax (and torch.optim for presets).

    opt = make("adam", learning_rate=1e-3)          # optax's defaults; preset="pytorch" for torch.optim's
    state = opt.init(params)
    params, state = opt.step(params, grads, state)  # new dict and new state; nothing is mutated

Every optimiser is a ``Transform`` (init, update) built with ``chain`` from the blocks in transforms.py,
so clipping composes: ``chain(clip(5.0), make("adagrad", preset="minchar"))`` is min-char-rnn's update.
"""

from gradlab.optim.base import Transform, apply_updates, chain
from gradlab.optim.mistakes import OPTIMIZER_MISTAKES, OptimizerMistake
from gradlab.optim.optimizers import adagrad, adam, adamw, momentum, nesterov, rmsprop, sgd
from gradlab.optim.registry import OPTIMIZERS, PRESETS, Variant, hyper_parameters, make, variants
from gradlab.optim.transforms import (
                                      AdamState,
                                      EmptyState,
                                      RmsState,
                                      RssState,
                                      StddevState,
                                      TraceState,
                                      add_decayed_weights,
                                      clip,
                                      clip_by_global_norm,
                                      scale_by_adam,
                                      scale_by_learning_rate,
                                      scale_by_rms,
                                      scale_by_rss,
                                      scale_by_stddev,
                                      trace,
)

__all__ = [
    "OPTIMIZERS", "OPTIMIZER_MISTAKES", "PRESETS", "AdamState", "EmptyState", "OptimizerMistake", "RmsState",
    "RssState", "StddevState", "TraceState", "Transform", "Variant", "adagrad", "adam", "adamw",
    "add_decayed_weights", "apply_updates", "chain", "clip", "clip_by_global_norm", "hyper_parameters", "make",
    "momentum", "nesterov", "rmsprop", "scale_by_adam", "scale_by_learning_rate", "scale_by_rms", "scale_by_rss",
    "scale_by_stddev", "sgd", "trace", "variants",
]
