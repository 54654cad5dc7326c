"""Whether the optional machine-learning stack (the ``ml`` extra) is installed.

NumPy, SciPy and scikit-learn are 200 MB on disk, and only two features use them: analytics'
anomaly detection and recommendations' "similar products". They are the ``ml`` extra
(``pip install 'agora[ml]'``; ``make install`` includes it), and the common container image leaves
them out while ``agora-ml``, used by those two services, has them. Without them the two features
degrade (docs/architecture.md): each asks :func:`missing` before it would import them and answers
without its model instead of failing on an ImportError.
"""

from __future__ import annotations

from importlib.util import find_spec

#: The modules the two features import (scikit-learn brings SciPy).
MODULES = ("numpy", "sklearn")

HINT = "install the machine-learning extra (pip install 'agora[ml]'), or run this service from the agora-ml image"


def missing() -> list[str]:
    """The ML modules this interpreter cannot import, without importing them (empty when installed)."""
    return [name for name in MODULES if find_spec(name) is None]


__all__ = ["HINT", "MODULES", "missing"]
