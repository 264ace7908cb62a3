"""PyTorch's OpInfo database as a source of checks: ``vjpcheck opinfo``.

* :mod:`.database`: the autograd OpInfos, and what each declares about itself (forward-mode
  AD, second order, tests PyTorch expects to fail);
* :mod:`.samples`: one OpInfo sample as a function of its differentiable tensors;
* :mod:`.sweep`: every sample of one OpInfo checked and each outcome classified.

Needs ``torch.testing._internal`` (PyTorch's test helpers, which import ``expecttest``:
``pip install 'vjpcheck[opinfo]'``).
"""

from __future__ import annotations

from .samples import OpSample, sample_function

__all__ = ["OpSample", "sample_function"]
