"""Training: char data, the loop over any registered model and optimiser, sampling, checkpoints, experiments.

    from gradlab.train import TrainConfig, train, sample, save, load
    result = train("Amazon is river.", TrainConfig(model="rnn", optimizer="rmsprop", hidden=30, steps=500))
    print(sample(MODELS["rnn"], result.params, result.vocab, "A", 15, temperature=0))   # greedy

    from gradlab.train import experiments
    table = experiments.run("optimizers", experiments.Options(seeds=3))

Modules: data (Vocab, Batches, the shipped book), loop (TrainConfig, train, evaluate), sample,
checkpoint (.npz without pickle), recall (the copy/palindrome task), experiments, results, plots.
"""

from gradlab.train.checkpoint import Checkpoint, load, save
from gradlab.train.data import BOOKS, SENTENCES, Batches, Vocab, book, load_text
from gradlab.train.loop import TrainConfig, TrainResult, evaluate, train
from gradlab.train.sample import sample

__all__ = ["BOOKS", "SENTENCES", "Batches", "Checkpoint", "TrainConfig", "TrainResult", "Vocab", "book",
           "evaluate", "load", "load_text", "sample", "save", "train"]
