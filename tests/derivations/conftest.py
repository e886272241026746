"""Make the checkout's top-level ``derivations`` package importable without reinstalling.

An editable install made before derivations/ existed maps only ``gradlab``; ``pip install -e .``
(pyproject already lists ``derivations*``) makes this unnecessary but harmless.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
