"""The student checker: verify a submission's gradient code safely, and say exactly where it is wrong.

    from gradlab.student import check
    result = check("examples/minchar_rnn.py")          # style and model detected from the file
    result.verdict, result.exit_code, result.to_dict()

Modules: ``styles`` (contracts, detection by ast), ``notebook`` (reading .py and .ipynb),
``adapters`` (problems and references in each style's layout), ``plan`` and ``frames`` (the request
and the framed-array answer), ``sandbox`` (the child process and its containment; ``shim`` runs in
the child; ``procs`` finds and kills every descendant), ``diagnose`` (the evidence), ``checker``
(``check``), ``result`` and ``report``.
"""

from gradlab.student.checker import check
from gradlab.student.result import CheckResult, ForwardCheck, ParamResult
from gradlab.student.sandbox import Limits
from gradlab.student.styles import STYLES

__all__ = ["STYLES", "CheckResult", "ForwardCheck", "Limits", "ParamResult", "check"]
