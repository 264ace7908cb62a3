"""Transform oracles: the gradient a transformed function gives, judged like any other.

Training code rarely runs the eager backward that ``gradcheck`` checks: its gradients come
from ``torch.compile`` (AOTAutograd's traced backward, lowered by Inductor), from vmap's
batching rules, from ``jax.jit``'s fused XLA program. Each transform here is one more
oracle computing vᵀJ for the case, compared with the eager methods and with finite
differences under the tolerance model, so a compiler that is wrong the same way as a
shared decomposition is still caught by the reference that shares nothing.

``transforms=`` names them (:data:`TRANSFORMS`); a ``torch.compile`` backend (a callable,
as ``torch.compile(backend=...)`` takes) checks that compiler instead of Inductor. A
transform that cannot apply (no compiler, an untraceable function, the compilation budget
spent) is ``unavailable`` with its reason, never a failure of the function.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

#: transform → the oracles it adds, per framework
TRANSFORMS: dict[str, dict[str, tuple[str, ...]]] = {
    # Inductor, and AOTAutograd alone (no Inductor) as the referee that tells a lowering
    # bug from a decomposition or tracing bug; JAX: jit against op-by-op execution
    "compile": {"torch": ("torch.compile", "torch.compile[aot_eager]"), "jax": ("jax.eager",)},
    # torch.func.vjp traced and compiled whole (functorch transforms under dynamo)
    "func-compile": {"torch": ("torch.compile[torch.func.vjp]",), "jax": ()},
    # batching rules: vmap of the VJP over a batch against each entry's VJP alone
    "vmap": {"torch": ("torch.vmap",), "jax": ("jax.vmap",)},
}
#: other spellings: JAX users say jit
ALIASES = {"jit": "compile"}
ALL_TRANSFORMS = "all"
#: the oracle names transforms add (the registry's modules are in this package)
TRANSFORM_ORACLES = tuple(dict.fromkeys(n for table in TRANSFORMS.values() for names in table.values() for n in names))


def normalize_transforms(transforms: Any) -> tuple[str, ...]:
    """Validate ``transforms=``: ``None``, ``"all"``, a name, or a sequence of names.
    Returns the canonical names, in order, each once (``("all",)`` for all)."""
    if transforms is None:
        return ()
    if isinstance(transforms, str):
        transforms = [transforms]
    if callable(transforms) or not isinstance(transforms, Sequence):
        hint = " (a torch.compile backend goes in compile_backend=)" if callable(transforms) else ""
        raise TypeError(f"transforms must be a name or a list of names from {known()}, got {type(transforms).__name__}{hint}")
    out: list[str] = []
    for entry in transforms:
        if not isinstance(entry, str):
            hint = " (a torch.compile backend goes in compile_backend=)" if callable(entry) else ""
            raise TypeError(f"transforms: each entry is a name from {known()}, got {entry!r}{hint}")
        name = ALIASES.get(entry, entry)
        if name == ALL_TRANSFORMS:
            return (ALL_TRANSFORMS,)  # every transform with a form in the function's framework
        if name in TRANSFORMS:
            out.append(name)
        else:
            raise ValueError(f"transforms: unknown transform {entry!r}; known: {known()}")
    return tuple(dict.fromkeys(out))


def known() -> list[str]:
    return sorted(TRANSFORMS) + sorted(ALIASES) + [ALL_TRANSFORMS]


def check_compile_backend(backend: Any, transforms: Sequence[str]) -> None:
    """``compile_backend=``: a ``torch.compile`` backend name or callable, for a compile transform."""
    if backend is None:
        return
    if not (isinstance(backend, str) or callable(backend)):
        raise TypeError(f"compile_backend must be a torch.compile backend: a name (\"inductor\", \"aot_eager\") or a callable, got {type(backend).__name__}")
    if not compiles(transforms) and not compiles(_session[-1]):  # the session's apply later
        raise ValueError(f"compile_backend={backend_name(backend)!r} is the compiler of transforms {list(COMPILE_TRANSFORMS)}: add one of them to transforms=")


def compiles(transforms: Sequence[str]) -> bool:
    """Whether ``transforms`` (normalised) run ``torch.compile``."""
    return bool(set(transforms) & {*COMPILE_TRANSFORMS, ALL_TRANSFORMS})


#: the transforms that run torch.compile (and so take compile_backend=)
COMPILE_TRANSFORMS = ("compile", "func-compile")
DEFAULT_COMPILE_BACKEND = "inductor"


def transform_oracle_names(transforms: Sequence[str], framework: str) -> list[str]:
    """The registered oracle names that ``transforms`` (normalised) add for ``framework``."""
    names = list(TRANSFORMS) if ALL_TRANSFORMS in transforms else transforms
    return [n for t in names for n in TRANSFORMS[t].get(framework, ())]


def check_frameworks(transforms: Sequence[str], frameworks: Sequence[str]) -> None:
    """Raise ``ValueError`` when a transform has no form in any of ``frameworks``."""
    for t in transforms:
        if t != ALL_TRANSFORMS and not any(TRANSFORMS[t].get(f) for f in frameworks):
            applies = [f for f, n in TRANSFORMS[t].items() if n]
            raise ValueError(f"transforms: {t!r} has no {' or '.join(frameworks)} form (it applies to {' and '.join(applies)} functions)")


def backend_name(backend: Any) -> str:
    """A compile backend's name as oracle names show it."""
    if isinstance(backend, str):
        return backend
    return getattr(backend, "__name__", None) or type(backend).__name__


_session: list[tuple[str, ...]] = [()]


@contextlib.contextmanager
def session_transforms(transforms: Any) -> Iterator[None]:
    """Inside the block, checks that name no transforms get ``transforms`` (the plugin's
    ``--vjpcheck-transforms``), each where it has a form in the function's framework."""
    _session.append(normalize_transforms(transforms))
    try:
        yield
    finally:
        _session.pop()


def session_transforms_active() -> bool:
    """Whether a session names transforms for checks that name none."""
    return bool(_session[-1])


def session_default(framework: str) -> tuple[str, ...]:
    """The session's transforms that apply to ``framework`` (``()`` outside a session)."""
    chosen = _session[-1]
    if ALL_TRANSFORMS in chosen:
        return chosen
    return tuple(t for t in chosen if TRANSFORMS[t].get(framework))


def transforms_involved(transforms: Sequence[str], oracle_names: set[str]) -> tuple[str, ...]:
    """The transforms among ``transforms`` whose oracles are among ``oracle_names`` (a
    custom compile backend's oracles are named ``torch.compile[...]``)."""
    chosen = list(TRANSFORMS) if ALL_TRANSFORMS in transforms else list(transforms)
    out = []
    for t in chosen:
        mine = {n for names in TRANSFORMS[t].values() for n in names}
        if oracle_names & mine or (t in COMPILE_TRANSFORMS and any(_compile_oracle_of(n) == t for n in oracle_names)):
            out.append(t)
    return tuple(out)


def _compile_oracle_of(name: str) -> str | None:
    """The compile transform a ``torch.compile[...]`` oracle name belongs to."""
    if not name.startswith("torch.compile"):
        return None
    return "func-compile" if "torch.func.vjp" in name else "compile"


def is_transform(name: str) -> bool:
    """Whether oracle ``name`` checks a transform."""
    return name in TRANSFORM_ORACLES or name.startswith("torch.compile[")


#: the eager method each transform oracle transforms
TRANSFORMED = {"torch.vmap": "torch.backward", "jax.eager": "jax.vjp", "jax.vmap": "jax.vjp"}


def transformed_method(name: str) -> str | None:
    """The eager oracle whose computation transform oracle ``name`` transforms (``None``
    for other oracles)."""
    if name.startswith("torch.compile"):
        return "torch.backward"
    return TRANSFORMED.get(name)


REFEREE = "torch.compile[aot_eager]"


def compile_referee_notes(names_ok: set[str], comparisons: list) -> list[str]:
    """Where a compiled backward disagrees with finite differences while the eager one
    agrees: whether AOTAutograd's graphs alone (``aot_eager``) agree too, which places the
    fault in the backend's lowering, or not, which places it before any backend."""
    verdicts = {}
    for c in comparisons:
        if "finite_differences" in (c.expected, c.got) and c.kind == "vector":
            verdicts[c.got if c.expected == "finite_differences" else c.expected] = c.passed
    if verdicts.get("torch.backward") is not True:
        return []
    notes = []
    for name in sorted(n for n in names_ok if n.startswith("torch.compile") and n != REFEREE):
        if verdicts.get(name) is not False or REFEREE not in verdicts:
            continue
        if verdicts[REFEREE]:
            notes.append(f"{name} disagrees with finite differences where eager and AOTAutograd's graphs run alone ({REFEREE}) agree: the fault is in the backend's lowering of those graphs")
        else:
            notes.append(f"{name} and {REFEREE} both disagree with finite differences where eager agrees: the fault is in tracing or AOTAutograd's decompositions, before any backend (reproduce with compile_backend='aot_eager')")
    return notes


def compile_statistics(seconds: list[float]) -> dict:
    """Count, median, max and total of compile times (``{}`` when none compiled)."""
    if not seconds:
        return {}
    ordered = sorted(seconds)
    return {"cases": len(ordered), "median": round(ordered[len(ordered) // 2], 3), "max": round(ordered[-1], 3), "total": round(sum(ordered), 1)}
