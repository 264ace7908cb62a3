"""A copy-paste script that re-runs one check on the exact same case."""

from __future__ import annotations

import base64
import importlib
import inspect
import sys
import textwrap
from typing import Any

import numpy as np

from .case import Case


def function_reference(fn: Any, alias: str | None = None) -> tuple[list[str], str]:
    """(lines that define or import the function, the expression that names it).

    With ``alias``, imports bind that name (``from m import f as alias``), so two
    functions of the same name (``torch.sin``, ``jnp.sin``) can share one script. A
    function that carries ``__vjpcheck_recipe__`` (generated programs) gives its own.
    """
    recipe = getattr(fn, "__vjpcheck_recipe__", None)  # (lines, expression) that rebuild fn
    if recipe is not None:
        return list(recipe[0]), recipe[1]
    owner = getattr(fn, "__self__", None)
    target, suffix = (owner, "." + getattr(fn, "__name__", "apply")) if isinstance(owner, type) else (fn, "")
    module = getattr(target, "__module__", None)
    qual = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if module and module != "__main__":  # a module-level name bound to this very object
        mod = sys.modules.get(module)
        for name, value in (vars(mod).items() if mod is not None else ()):
            if value is target and not name.startswith("__"):
                bound = alias or name
                return [f"from {module} import {name}" + (f" as {alias}" if alias else "")], bound + suffix
    if module and qual and module != "__main__" and "<locals>" not in qual and "<lambda>" not in qual:
        try:
            obj = importlib.import_module(module)
            for part in qual.split("."):
                obj = getattr(obj, part)
            top = qual.split(".")[0]
            bound = alias or top
            return [f"from {module} import {top}" + (f" as {alias}" if alias else "")], bound + qual[len(top) :] + suffix
        except Exception:
            pass
    try:
        source = textwrap.dedent(inspect.getsource(getattr(target, "__wrapped__", target)))
    except (OSError, TypeError):
        return [f"# could not recover the source of {qual or target!r}: define it here as `fn`", "fn = None"], "fn"
    name = getattr(target, "__name__", "fn")
    lines = ["# recovered source (closures and globals it uses must be defined too):"] + source.rstrip().splitlines()
    if name == "<lambda>":
        return lines + ["# assign the lambda above to `fn`", "fn = None"], "fn"
    if getattr(target, "__wrapped__", None) is not None and not isinstance(owner, type):
        lines.append(f"# {name} was wrapped (e.g. jax.custom_vjp): re-apply its decorators/defvjp above")
    return lines, name + suffix


#: arrays above this many entries are written as exact base64 bytes, not a list literal
LITERAL_MAX = 256


def values_literal(values: np.ndarray) -> str:
    """Exact values as a Python expression: a list for small arrays, base64 bytes for
    large ones (formatting 10⁴ floats as text costs more than the whole check)."""
    if values.size <= LITERAL_MAX:
        return repr(values.tolist())
    little = values.astype(values.dtype.newbyteorder("<"), copy=False)
    data = base64.b64encode(np.ascontiguousarray(little).tobytes()).decode("ascii")
    return f'np.frombuffer(base64.b64decode("{data}"), dtype="{little.dtype.str}").reshape({values.shape!r})'


def array_literal(case: Case, obj: Any, info) -> str:
    return case.backend.array_expression(values_literal(case.backend.to_numpy(obj)), info)


def build_reproducer(case: Case, options: dict, callables: dict | None = None) -> str:
    """Script text: imports, the function, the exact arguments and cotangent, the check.

    ``options`` are written as literals; ``callables`` (option name → function, e.g.
    ``twin``) are imported or recovered like the function itself, under an alias.
    """
    fn_lines, fn_expr = function_reference(case.fn)
    lines = [f"# vjpcheck reproducer for {case.name}", "import base64", "import numpy as np", "import vjpcheck"]
    lines += case.backend.reproducer_imports(case.arg_infos)
    lines += fn_lines
    arg_exprs = []
    for i, (a, info) in enumerate(zip(case.args, case.arg_infos)):
        lines.append(f"arg{i} = " + (array_literal(case, a, info) if info is not None else repr(a)))
        arg_exprs.append(f"arg{i}")
    cots = []
    for k, (c, info) in enumerate(zip(case.cotangents, case.cotangent_infos)):
        if c is None:
            cots.append("None")
            continue
        lines.append(f"v{k} = " + array_literal(case, c, info))
        cots.append(f"v{k}")
    v_expr = cots[0] if case.single_output else "(" + ", ".join(cots) + ("," if len(cots) == 1 else "") + ")"
    opts = "".join(f", {k}={v!r}" for k, v in options.items())
    for name, value in (callables or {}).items():
        extra_lines, expr = function_reference(value, alias=f"{name}_fn")
        lines += [line for line in extra_lines if line not in lines]  # e.g. one shared program
        opts += f", {name}={expr}"
    lines.append(
        f"verdict = vjpcheck.check_vjp({fn_expr}, {', '.join(arg_exprs)}, v={v_expr}, wrt={case.wrt!r}, seed={case.seed}{opts})"
    )
    lines.append("print(verdict)")
    return "\n".join(lines)
