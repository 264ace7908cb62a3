"""The op modules; importing this package registers every op in ``registry.OPS``."""

from . import complex_ops, elementwise, indexing, linalg, nn, reductions, shape  # noqa: F401
