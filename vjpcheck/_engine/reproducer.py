"""A copy-paste script that re-runs one check on the exact same case."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import importlib
import inspect
import io
import keyword
import math
import os
import re
import sys
import textwrap
from typing import Any

import numpy as np

from .case import Case
from .structure import Structured, unstructured


def function_reference(fn: Any, alias: str | None = None) -> tuple[list[str], str | None]:
    """(lines that import or define the function, the expression that names it; ``None``
    when it cannot be recovered: the lines then say what to supply).

    Names taken from the object (``__module__``, ``__qualname__``, module attributes) are
    written as code only when they are plain dotted identifiers; everything else goes
    into a comment, sanitised to one line. With ``alias``, imports bind that name, so two
    functions of the same name (``torch.sin``, ``jnp.sin``) can share one script. A
    function that carries ``__vjpcheck_recipe__`` (vjpcheck's own generated programs)
    gives its own lines.
    """
    recipe = getattr(fn, "__vjpcheck_recipe__", None)  # (lines, expression) that rebuild fn
    if recipe is not None:
        return list(recipe[0]), recipe[1]
    owner = getattr(fn, "__self__", None)
    method = getattr(fn, "__name__", "apply")
    if isinstance(owner, type):  # autograd.Function.apply and other class methods
        if not _is_identifier(method):
            return _unrecoverable(fn, "its method name is not an identifier")
        target, suffix = owner, "." + method
    else:
        target, suffix = fn, ""
    module = _attribute(target, "__module__")
    qual = _attribute(target, "__qualname__") or _attribute(target, "__name__")
    importable = _is_dotted(module) and module != "__main__"
    if importable:
        lines = _import_path_lines(module)
        mod = sys.modules.get(module)
        for name, value in list(vars(mod).items()) if mod is not None else ():
            if value is target and _is_identifier(name) and not name.startswith("__"):
                return lines + [f"from {module} import {name}" + (f" as {alias}" if alias else "")], (alias or name) + suffix
        if _is_dotted(qual):
            try:
                obj = importlib.import_module(module)
                for part in qual.split("."):
                    obj = getattr(obj, part)
            except Exception:
                obj = None
            if obj is target:
                top = qual.split(".")[0]
                return lines + [f"from {module} import {top}" + (f" as {alias}" if alias else "")], (alias or top) + qual[len(top) :] + suffix
    return _recovered_source(fn, target, suffix, alias)


def _recovered_source(fn: Any, target: Any, suffix: str, alias: str | None = None) -> tuple[list[str], str | None]:
    """A function defined in a test (``<locals>``): its source, which defines it; a lambda
    or anything without readable source: the source as a comment and a placeholder."""
    name = _attribute(target, "__name__")
    try:
        source = textwrap.dedent(inspect.getsource(getattr(target, "__wrapped__", target)))
    except (OSError, TypeError):
        return _unrecoverable(fn, "its source is not available (defined under python -c, in a notebook cell or generated)")
    defines = re.match(r"(@.*\n\s*)*(async\s+)?(def|class)\s+" + re.escape(name or "\0") + r"\b", source.lstrip())
    if name == "<lambda>" and not suffix:
        recovered = lambda_definition(target, alias or "fn")
        if recovered is not None:
            return recovered
    if name == "<lambda>" or not _is_identifier(name) or not defines:
        lines, expr = _unrecoverable(fn, "it is a lambda or its source does not define it by name")
        return ["# its source, for reference:"] + [comment(line) for line in source.rstrip().splitlines()[:20]] + lines, expr
    lines = ["# recovered source (closures and globals it uses must be defined too):"] + source.rstrip().splitlines()
    if getattr(target, "__wrapped__", None) is not None and not suffix:
        lines.append(f"# {name} was wrapped (e.g. jax.custom_vjp): re-apply its decorators/defvjp above")
    return lines, name + suffix


def lambda_definition(fn: Any, alias: str, depth: int = 0) -> tuple[list[str], str] | None:
    """``alias = lambda …: …`` from the lambda's own text in its source file (found by its
    line and column), preceded by what makes the names it uses defined: modules imported
    under the same names, functions imported or recovered the same way. ``None`` when the
    text cannot be found or a name it uses has no such definition (an array in a closure)."""
    code = getattr(fn, "__code__", None)
    node_text = _lambda_text(code) if code is not None else None
    if node_text is None or depth > 3:
        return None
    from ..frameworks import closure_values

    lines: list[str] = []
    free = closure_values(fn)
    if len(free) != len(code.co_freevars):
        return None
    names = {n: fn.__globals__[n] for n in _global_names(code) if n in fn.__globals__} | free
    for name, value in names.items():
        definition = _definition_of(name, value, depth)
        if definition is None:
            return None
        lines += [line for line in definition if line not in lines]
    return lines + [f"{alias} = {node_text}"], alias


def _global_names(code) -> list[str]:
    """The global names a code object (and the lambdas and comprehensions inside it) loads."""
    names = list(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names += [n for n in _global_names(const) if n not in names]
    return names


def _definition_of(name: str, value: Any, depth: int) -> list[str] | None:
    """Lines that bind ``name`` to ``value`` in a script: an import for modules and
    importable functions, a recovered lambda; ``None`` for anything else (data)."""
    import types

    if not _is_identifier(name):
        return None
    if isinstance(value, types.ModuleType):
        module = value.__name__
        if not _is_dotted(module):
            return None
        if "." in module:
            parent, leaf = module.rsplit(".", 1)
            return _import_path_lines(module) + [f"from {parent} import {leaf}" + (f" as {name}" if name != leaf else "")]
        return _import_path_lines(module) + [f"import {module}" + (f" as {name}" if name != module else "")]
    if getattr(value, "__name__", None) == "<lambda>":
        found = lambda_definition(value, name, depth + 1)
        return found[0] if found is not None else None
    if callable(value) or isinstance(value, type):
        lines, expr = function_reference(value, alias=name)
        if expr is None:
            return None
        return lines if expr == name else lines + [f"{name} = {expr}"]
    if safe_literal(value) is not None and type(value) in (bool, int, float, str, complex, type(None)):
        return [f"{name} = {safe_literal(value)}"]
    return None


def _lambda_text(code) -> str | None:
    """The source text of the lambda whose code is ``code``: the ``Lambda`` node on its
    first line whose body starts where the code's first instruction points."""
    import ast
    import linecache

    filename = code.co_filename
    source = "".join(linecache.getlines(filename))
    if not source:
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    candidates = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == code.co_firstlineno]
    if len(candidates) > 1:
        starts = {(line, col) for line, _, col, _ in code.co_positions() if line is not None and col is not None}
        candidates = [n for n in candidates if (n.body.lineno, n.body.col_offset) in starts] or candidates[:0]
    if len(candidates) != 1:
        return None
    text = ast.get_source_segment(source, candidates[0])
    if text is None:
        return None
    return f"({text})" if "\n" in text else text  # parentheses: a lambda split over lines


def _unrecoverable(fn: Any, why: str) -> tuple[list[str], None]:
    from .case import function_name

    return [comment(f"the function {function_name(fn)} cannot be imported: {why}."), "# Define it here as `fn` (the check below uses that name)."], None


def _attribute(obj: Any, name: str) -> str | None:
    value = getattr(obj, name, None)
    return value if isinstance(value, str) else None


def _is_identifier(text: str | None) -> bool:
    return isinstance(text, str) and text.isidentifier() and not keyword.iskeyword(text)


def _is_dotted(text: str | None) -> bool:
    return isinstance(text, str) and all(_is_identifier(part) for part in text.split("."))


def comment(text: str) -> str:
    """``text`` as one comment line: nothing in it can end the comment and become code."""
    return "# " + "".join(ch if ch.isprintable() else "?" for ch in str(text))[:400]


def _import_path_lines(module: str) -> list[str]:
    """A ``sys.path`` line for a module imported from the project (not from site-packages),
    so that the script also runs from the reproducer folder."""
    mod = sys.modules.get(module)
    path = getattr(mod, "__file__", None)
    if not isinstance(path, str) or "site-packages" in path or "dist-packages" in path:
        return []
    root = os.path.dirname(os.path.abspath(path))
    levels = module.count(".") + (1 if os.path.basename(path) == "__init__.py" else 0)
    for _ in range(levels):
        root = os.path.dirname(root)
    if root == os.path.dirname(os.__file__):  # the standard library
        return []
    return ["import sys", f"sys.path.insert(0, {root!r})  # where {module.split('.')[0]} was imported from"]


def safe_literal(value: Any, first: Any = None) -> str | None:
    """``value`` as a Python expression that rebuilds it without running anything of the
    value's own (its ``repr`` never reaches code position); ``None`` when it has none.
    ``first(value)``, when given, is asked first at every level (an expression, or None
    for the rules below)."""
    if first is not None:
        text = first(value)
        if text is not None:
            return text
    kind = type(value)
    if value is None or value is Ellipsis or kind in (bool, int, str, bytes):
        return repr(value)
    if kind is float:
        return repr(value) if math.isfinite(value) else f"float({repr(value)!r})"
    if kind is complex:
        return f"complex({safe_literal(value.real)}, {safe_literal(value.imag)})"
    if kind in (list, tuple):
        parts = [safe_literal(v, first) for v in value]
        if any(p is None for p in parts):
            return None
        inner = ", ".join(parts) + ("," if kind is tuple and len(parts) == 1 else "")
        return f"[{inner}]" if kind is list else f"({inner})"
    if kind is dict:
        items = [(safe_literal(k), safe_literal(v, first)) for k, v in value.items()]
        if any(k is None or v is None for k, v in items):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if kind is slice:
        parts = [safe_literal(p) for p in (value.start, value.stop, value.step)]
        return None if any(p is None for p in parts) else f"slice({', '.join(parts)})"
    if isinstance(value, np.generic) and _is_identifier(value.dtype.name):
        inner = safe_literal(value.item())
        return None if inner is None else f"np.{value.dtype.name}({inner})"
    if kind.__module__ == "torch" and kind.__name__ == "dtype" and _is_identifier(str(value).removeprefix("torch.")):
        return f"torch.{str(value).removeprefix('torch.')}"
    return None


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


def array_literal(case: Case, values: np.ndarray, info) -> str:
    return case.backend.array_expression(values_literal(values), info)


def build_reproducer(case: Case, options: dict, callables: dict | None = None) -> str:
    """Script text: imports, the function, the exact arguments and cotangent, the check.

    ``options`` are written as literals; ``callables`` (option name → function, e.g.
    ``twin``) are imported or recovered like the function itself, under an alias. What
    cannot be written safely (a function without importable name or source, an argument
    or option with no literal form) gets a placeholder and a comment, and the script stops
    with a message naming what to supply just before the check.
    """
    structured = case.fn if isinstance(case.fn, Structured) else None
    fn_lines, fn_expr = function_reference(unstructured(case.fn))
    lines = [comment(f"vjpcheck reproducer for {case.name}"), "import base64", "import numpy as np", "import vjpcheck"]
    lines += case.backend.reproducer_imports(case.arg_infos)
    lines += [line for line in fn_lines if not (line.startswith(("import ", "from ")) and line in lines)]
    missing = []
    if fn_expr is None:
        lines.append("fn = NotImplemented  # supply the function")
        fn_expr, missing = "fn", ["fn"]
    arg_exprs = []
    for i, (a, info) in enumerate(zip(case.args, case.arg_infos)):
        variable = f"leaf{i}" if structured is not None else f"arg{i}"  # a pytree's leaves are put back below
        text = array_literal(case, case.arg_values[i], info) if info is not None else safe_literal(a)
        if text is None:
            lines.append(comment(f"{case.arg_name(i)}: a {type(a).__module__}.{type(a).__qualname__} that has no literal form: supply it here"))
            text = "NotImplemented"
            missing.append(variable)
        lines.append(f"{variable} = {text}" + ("  " + comment(case.arg_name(i)) if structured is not None else ""))
        arg_exprs.append(variable)
    cots = []
    for k, (c, info) in enumerate(zip(case.cotangents, case.cotangent_infos)):
        if c is None:
            cots.append("None")
            continue
        lines.append(f"v{k} = " + array_literal(case, case.v[k], info))
        cots.append(f"v{k}")
    v_expr = cots[0] if case.single_output else "(" + ", ".join(cots) + ("," if len(cots) == 1 else "") + ")"
    opts, wrt = "", safe_literal(tuple(case.wrt))
    if structured is not None:  # the call as the user wrote it: pytrees, keywords, static arguments
        arg_exprs, keywords = _structured_call(structured, arg_exprs, lines, missing)
        if keywords:
            opts += ", kwargs={" + ", ".join(f"{k!r}: {e}" for k, e in keywords) + "}"
        wrt = safe_literal(structured.wrt)  # static= is among the options
    for k, value in options.items():
        text = safe_literal(value)
        if text is None or not _is_identifier(k):
            lines.append(comment(f"option {k} was set to a value with no literal form: add it to the call below"))
            continue
        opts += f", {k}={text}"
    for name, value in (callables or {}).items():
        extra_lines, expr = function_reference(value, alias=f"{name}_fn")
        lines += [line for line in extra_lines if line not in lines]  # e.g. one shared program
        if expr is None:
            lines.append(f"{name}_fn = NotImplemented  # supply the {name} function")
            expr = f"{name}_fn"
            missing.append(expr)
        opts += f", {name}={expr}"
    if missing:
        names = ", ".join(missing)
        lines.append(f"if any(x is NotImplemented for x in ({names},)):")
        lines.append(f'    raise SystemExit("vjpcheck reproducer: supply {names} above (see the comments), then run it again")')
    lines.append(
        f"verdict = vjpcheck.check_vjp({fn_expr}, {', '.join(arg_exprs)}, v={v_expr}, wrt={wrt}, seed={int(case.seed)}{opts})"
    )
    lines.append("print(verdict)")
    return "\n".join(lines)


class _Code(str):
    """An expression already written (a leaf's variable) inside a rebuilt structure."""


def _structured_call(structured: Structured, leaf_exprs: list[str], lines: list[str], missing: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """(positional expressions, (keyword, expression) pairs) of the user's call, each
    argument's structure written around its leaves' variables; a structure or static value
    with no literal form gets a placeholder variable, named in ``missing``."""
    positional: dict[int, str] = {}
    keywords: list[tuple[str, str]] = []
    at = 0
    entries = []
    for slot in structured.slots:
        template = slot.rebuild(structured.backend, [_Code(e) for e in leaf_exprs[at : at + slot.size]])
        at += slot.size
        entries.append((slot.key, _structure_literal(template, lines)))
    entries += [(key, safe_literal(value)) for key, value in structured.static.items()]
    for key, text in entries:
        name = f"arg{key}" if isinstance(key, int) else f"kw_{key}"
        if text is None:
            lines.append(comment(f"{name}: a structure or value with no literal form: supply it here"))
            lines.append(f"{name} = NotImplemented")
            missing.append(name)
            text = name
        if isinstance(key, int):
            positional[key] = text
        else:
            keywords.append((key, text))
    return [positional[i] for i in range(len(positional))], keywords


def _structure_literal(node: Any, lines: list[str]) -> str | None:
    """``node`` (a rebuilt structure whose leaves are :class:`_Code`) as an expression:
    what :func:`safe_literal` writes, plus the leaves' variables, and named tuples and
    dataclasses by their importable class; ``None`` when a part has no such form."""

    def leaf_or_class(value: Any) -> str | None:
        if isinstance(value, _Code):
            return str(value)
        if isinstance(value, tuple) and hasattr(type(value), "_fields"):  # a named tuple
            fields = [(f, getattr(value, f)) for f in type(value)._fields]
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value) if f.init]
        else:
            return None  # safe_literal's own rules
        class_lines, class_expr = function_reference(type(value))
        parts = [(f, safe_literal(v, leaf_or_class)) for f, v in fields]
        if class_expr is None or any(p is None or not _is_identifier(f) for f, p in parts):
            raise _NoLiteralForm  # the whole structure then has none
        lines.extend(line for line in class_lines if line not in lines)
        return f"{class_expr}(" + ", ".join(f"{f}={p}" for f, p in parts) + ")"

    try:
        return safe_literal(node, leaf_or_class)
    except _NoLiteralForm:
        return None


class _NoLiteralForm(Exception):
    """A named tuple or dataclass inside a structure cannot be written."""


#: where failing checks write their reproducers (environment variable to change it)
REPRODUCER_DIR_VARIABLE = "VJPCHECK_REPRODUCER_DIR"
DEFAULT_REPRODUCER_DIR = os.path.join("reports", "reproducers")


#: a written script keeps its arrays inline up to this size; bigger ones go to a side .npz
SIDE_FILE_MIN = 20_000
_BASE64_ARRAY = re.compile(r'np\.frombuffer\(base64\.b64decode\("([A-Za-z0-9+/=]*)"\), dtype="([<>|][a-zA-Z]\d+)"\)\.reshape\(([^)]*\)?)\)')


def write_reproducer(function: str, script: str) -> str | None:
    """Write ``script`` to ``reports/reproducers/<function>-<hash>.py`` (or the folder in
    ``$VJPCHECK_REPRODUCER_DIR``), atomically; the path, or ``None`` when it cannot be
    written (the caller then shows the script inline). A script over
    :data:`SIDE_FILE_MIN` characters keeps its large arrays in ``<same name>.npz`` beside
    it, which it loads: a short script to read, the exact values all the same."""
    folder = os.environ.get(REPRODUCER_DIR_VARIABLE) or DEFAULT_REPRODUCER_DIR
    digest = hashlib.sha256(script.encode()).hexdigest()[:10]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", function)[-80:].strip("._") or "function"
    path = os.path.join(folder, f"{stem}-{digest}.py")
    try:
        os.makedirs(folder, exist_ok=True)
        if not os.path.exists(path):
            from ..report.write import write_atomically

            arrays: dict[str, np.ndarray] = {}
            if len(script) > SIDE_FILE_MIN:
                script, arrays = _arrays_to_side_file(script, os.path.basename(path)[: -len(".py")] + ".npz")
            if arrays:
                buffer = io.BytesIO()
                np.savez(buffer, **arrays)
                write_atomically(path[: -len(".py")] + ".npz", buffer.getvalue())
            write_atomically(path, script + "\n")
    except OSError:
        return None
    return path


def _arrays_to_side_file(script: str, npz_name: str) -> tuple[str, dict[str, np.ndarray]]:
    """The script with each base64 array literal replaced by a lookup in ``npz_name``
    (loaded from the script's own folder), and those arrays by name."""
    arrays: dict[str, np.ndarray] = {}

    def externalize(match: re.Match) -> str:
        data, dtype, shape = match.groups()
        name = f"a{len(arrays)}"
        shape_value = tuple(int(n) for n in re.findall(r"\d+", shape))
        arrays[name] = np.frombuffer(base64.b64decode(data), dtype=dtype).reshape(shape_value)
        return f'_arrays["{name}"]'

    body = _BASE64_ARRAY.sub(externalize, script)
    if not arrays:
        return script, arrays
    loader = [
        "import os",
        comment(f"the exact values of the large arrays are in {npz_name}, beside this script"),
        f"_arrays = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), {npz_name!r}))",
    ]
    lines = body.splitlines()
    at = lines.index("import numpy as np") + 1 if "import numpy as np" in lines else 0
    return "\n".join(lines[:at] + loader + lines[at:]), arrays
