"""BLAS on one thread for the training tests: their products are tiny, and on a busy machine more threads
are measured to be up to 10x slower (gradlab.train.experiments.blas_threads)."""

import pytest

from gradlab.train.experiments import blas_threads


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with blas_threads(1):
        yield
