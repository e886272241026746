"""gradlab: hand-written BPTT, verified against JAX autodiff, finite differences and PyTorch."""

from gradlab.models.sizes import Sizes

__version__ = "0.1.0"
__all__ = ["Sizes", "__version__"]
