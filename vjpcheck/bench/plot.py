"""The bench as one self-contained HTML page: an inline SVG chart (no network, no
plotting library) of each method's time as a ratio to its floor, and the tables."""

from __future__ import annotations

import html
import math

from .sizes import METHODS

COLOURS = dict(zip(METHODS, ("#1f6feb", "#8ab4f8", "#0b8043", "#81c995", "#d93025", "#f6aea9", "#f9ab00")))
BAR, GAP, LEFT, WIDTH = 14, 10, 150, 560


def ratio_chart(rows: list[dict]) -> str:
    """Horizontal bars, one group per size, on a log scale of (time / floor of the mode)."""
    bars = [(row["n"], key, row["ratios"][key]) for row in rows for key in COLOURS if key in row["ratios"]]
    if not bars:
        return "<p>no ratios measured</p>"
    hi = max(10.0, max(r for _, _, r in bars))
    scale = WIDTH / math.log10(hi * 1.5 / 0.5)

    def x(r: float) -> float:
        return LEFT + scale * math.log10(max(r, 0.5) / 0.5)

    parts, y, last_n = [], 20, None
    for n, key, r in bars:
        if n != last_n:
            y += GAP
            parts.append(f'<text x="4" y="{y + BAR - 3}" font-weight="bold">n = {n:,}</text>')
            y += BAR + 2
            last_n = n
        parts.append(f'<text x="12" y="{y + BAR - 3}">{html.escape(key)}</text>')
        parts.append(f'<rect x="{LEFT}" y="{y}" width="{x(r) - LEFT:.1f}" height="{BAR}" fill="{COLOURS[key]}"><title>{key}: {r:.3g}× floor</title></rect>')
        parts.append(f'<text x="{x(r) + 4:.1f}" y="{y + BAR - 3}">{r:.3g}×</text>')
        y += BAR + 2
    for tick in (1, 1.5, 10, 100, 1000, 10000):
        if tick <= hi * 1.5:
            parts.append(f'<line x1="{x(tick):.1f}" y1="14" x2="{x(tick):.1f}" y2="{y}" stroke="#999" stroke-dasharray="{"none" if tick == 1 else "3,3"}"/>')
            parts.append(f'<text x="{x(tick) - 6:.1f}" y="10">{tick:g}×</text>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 80}" height="{y + 10}" font-family="sans-serif" font-size="11">{"".join(parts)}</svg>'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def bench_page(result: dict) -> str:
    """The whole page for one ``vjpcheck bench`` result."""
    rows = result.get("sizes", [])
    size_rows = [
        [f"{r['n']:,}", key, f"{t * 1e3:.2f}", f"{r['ratios'][key]:.2f}" if key in r["ratios"] else "", r["verdicts"].get(key, "")]
        for r in rows for key, t in r["seconds"].items()
    ]
    floor_rows = [[f"{r['n']:,}", mode, f"{t * 1e3:.2f}"] for r in rows for mode, t in r["floors"].items()]
    verify = result.get("verify", {})
    verify_rows = [
        [name, f"{o.get('verify_seconds', float('nan')):.2f}", f"{o.get('goal_seconds', float('nan')):g}", o.get("status", ""), str(o.get("examples", "")), f"{o.get('import_seconds', float('nan')):.2f}", f"{o['warm_seconds']:.2f}" if "warm_seconds" in o else ""]
        for group in ("functions", "shrink") for name, o in verify.get(group, {}).items()
    ]
    style = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
    machine = f"{result.get('device')} · {result.get('machine')} · {result.get('cpu_count')} CPUs · torch {result.get('torch')}" + (f" · {result['gpu']}" if result.get("gpu") else "")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>vjpcheck bench</title><style>{style}</style></head><body>"
        f"<h1>vjpcheck bench</h1><p>{html.escape(machine)}</p>"
        "<h2>Time as a multiple of the floor of its mode</h2>"
        "<p>full mode: 4n float64 evaluations of f (batched); probe mode: (4·probes + 1) evaluations and one forward+backward</p>"
        + ratio_chart(rows)
        + "<h2>Seconds (median)</h2>" + _table(["n", "method", "ms", "× floor", "verdict"], size_rows)
        + "<h2>Floors</h2>" + _table(["n", "mode", "ms"], floor_rows)
        + ("<h2>verify with defaults, fresh processes</h2>" + _table(["function", "seconds", "goal", "status", "examples", "imports (s)", "again, warm (s)"], verify_rows) if verify_rows else "")
        + "</body></html>"
    )
