"""gradlab: hand-written BPTT, verified against JAX autodiff, finite differences and PyTorch.

The public API, re-exported::

    from gradlab import MODELS, get_model, Sizes, compare, tolerance
    from gradlab.verify import verify      # the main job as a function

JAX and PyTorch are imported only when an oracle runs, so importing gradlab stays fast.
"""

from gradlab.compare import GradReport, compare, compare_all
from gradlab.models.registry import MODELS, Model
from gradlab.models.registry import get as get_model
from gradlab.models.sizes import Sizes
from gradlab.tolerances import Tolerance, tolerance

__version__ = "0.1.0"
__all__ = ["MODELS", "GradReport", "Model", "Sizes", "Tolerance", "__version__", "compare", "compare_all",
           "get_model", "tolerance"]
