"""The options of one check: defaults written once, validated once, non-defaults listed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .tolerance import RTOL
from .validate import check_callable, check_choice, check_int, check_nonnegative_int, check_number, check_positive_int, check_positive_number

MODES = ("auto", "full", "probe")
#: the ``oracles=`` value that asks for every method that applies (the thorough set)
ALL_ORACLES = "all"
FRAMEWORKS = ("torch", "jax")
#: options that are functions: the reproducer imports or recovers them instead of writing a literal
CALLABLE_OPTIONS = ("twin", "primal", "reference", "output_map", "gradient_of", "compile_backend")


@dataclass(frozen=True)
class CheckOptions:
    """Everything that shapes a verdict besides the function, its arguments and ``v``.

    Building one validates every field (``TypeError``/``ValueError`` naming the option);
    :func:`vjpcheck.check_vjp` documents what each one means.
    """

    wrt: Sequence[int] | int | None = None
    oracles: tuple[str, ...] | str | None = None  # None: the default set; "all": every method
    order: int = 1
    twin: Callable | None = None
    primal: Callable | str | None = None
    reference: Callable | None = None
    framework: str | None = None
    seed: int = 0
    rtol: float | dict[str, float] | None = None  # one bound, or per dtype
    atol: float = 0.0
    fd_max_coords: int = 4096
    jacobian_max_rows: int = 1024
    mode: str = "auto"
    probes: int = 3
    fd_batch: bool = True
    timeout: float | None = None  # seconds per check (None: the session's, else none)
    output_map: Callable | None = None  # check g(fn(x)) for an invariant g of fn's symmetry
    gradient_of: Callable | None = None  # fn's backward is declared to be this function's VJP
    solver_tol: float | None = None  # relative accuracy of fn's values (an iterative solver's tolerance)
    static: Sequence[int | str] | int | str | None = None  # arguments passed through as they are
    transforms: Sequence[str] | str | None = ()  # compile, func-compile, vmap (jit): their oracles join
    compile_backend: Any = None  # the torch.compile backend of the compile transforms (None: Inductor)

    def __post_init__(self) -> None:
        # wrt, static: their positions and keywords are checked against the arguments (and
        # named as given) by build_case / structure.flatten_call
        if self.oracles is not None and self.oracles != ALL_ORACLES:  # names are checked against the framework by make_oracles
            if isinstance(self.oracles, str) or not isinstance(self.oracles, Sequence):
                raise TypeError(f"oracles must be \"all\" or a list of names from vjpcheck.ORACLE_NAMES, got {self.oracles!r}")
            object.__setattr__(self, "oracles", tuple(self.oracles))
        check_choice("order", check_int("order", self.order), (1, 2))
        check_callable("twin", self.twin, optional=True)
        check_callable("reference", self.reference, optional=True)
        if not (self.primal is None or self.primal == "auto" or callable(self.primal)):
            raise TypeError(f"primal must be None, 'auto' or a callable, got {type(self.primal).__name__}")
        if self.framework is not None:
            check_choice("framework", self.framework, FRAMEWORKS)
        check_int("seed", self.seed)
        if isinstance(self.rtol, dict):
            unknown = sorted(set(self.rtol) - set(RTOL))
            if unknown or not self.rtol:
                raise ValueError(f"rtol: a dict names dtypes among {sorted(RTOL)}, got {sorted(self.rtol)}")
            object.__setattr__(self, "rtol", {d: check_number(f"rtol[{d!r}]", r) for d, r in self.rtol.items()})
        elif self.rtol is not None:
            object.__setattr__(self, "rtol", check_number("rtol", self.rtol))
        check_number("atol", self.atol)
        check_nonnegative_int("fd_max_coords", self.fd_max_coords)
        check_nonnegative_int("jacobian_max_rows", self.jacobian_max_rows)
        check_choice("mode", self.mode, MODES)
        if self.timeout is not None:
            check_positive_number("timeout", self.timeout)
        check_positive_int("probes", self.probes)
        check_callable("output_map", self.output_map, optional=True)
        check_callable("gradient_of", self.gradient_of, optional=True)
        if self.solver_tol is not None:
            if not 0 < check_number("solver_tol", self.solver_tol) < 1:
                raise ValueError(f"solver_tol is a relative tolerance between 0 and 1 (exclusive), got {self.solver_tol!r}")
        if self.gradient_of is not None and self.reference is not None:
            raise ValueError("gradient_of and reference both say what finite differences evaluate: pass one of them")
        if self.output_map is not None and self.reference is not None:
            raise ValueError("output_map applies to the function's framework outputs, not to a NumPy reference: pass one of them")
        from ..oracles.transforms import check_compile_backend, normalize_transforms

        object.__setattr__(self, "transforms", normalize_transforms(self.transforms))
        check_compile_backend(self.compile_backend, self.transforms)
        if not isinstance(self.fd_batch, bool):
            raise TypeError(f"fd_batch must be True or False, got {self.fd_batch!r}")

    def non_defaults(self) -> dict[str, Any]:
        """The options that differ from their defaults, in field order (like Hypothesis'
        ``settings.show_changed``): what a reproducer must pass again."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not f.default and getattr(self, f.name) != f.default
        }

    def reproducer_options(self) -> tuple[dict[str, Any], dict[str, Callable]]:
        """(literal options, callable options) for the reproducer; ``wrt`` and ``seed`` are
        written from the case itself."""
        changed = {k: v for k, v in self.non_defaults().items() if k not in ("wrt", "seed")}
        callables = {k: changed.pop(k) for k in CALLABLE_OPTIONS if k in changed and callable(changed[k])}
        for key in ("oracles", "transforms"):
            if key in changed and not isinstance(changed[key], str):
                changed[key] = list(changed[key])
        return changed, callables


DEFAULTS = CheckOptions()
