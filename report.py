"""`cli.py report RUN`: one self-contained HTML file about a run.

Inline CSS, inline SVG (the best-so-far curve, drawn by matplotlib) and inline
base64 PNGs (the LLMatic archive heatmaps that `finish` saved): the file opens
offline and fetches nothing.  Read from the run folder only, so it works on an
unfinished run too.
"""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

from memory.runs import RunDir
from tools.inspect_run import RunLog

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f4f4f4}code{font-size:.85em}.num{text-align:right}img,svg{max-width:100%;height:auto}
.muted{color:#777}
"""


def build(run: RunDir) -> str:
    log, info = RunLog(run), run.info()
    sections = [
        f"<h1>{escape(info.graph)} on {escape(info.space)}/{escape(info.dataset)} (seed {info.seed})</h1>",
        f"<p class=muted>{escape(run.id)} &middot; {info.status} &middot; started {escape(info.started)}"
        + (f" &middot; forked from {escape(info.parent)} at step {info.forked_at}" if info.parent else "") + "</p>",
        "<h2>Result</h2>" + _result_table(log),
        "<h2>Best validation accuracy so far</h2>" + _curve_svg(log),
        _heatmaps(run),
        _principles(log),
        "<h2>Token use per role</h2>" + _usage_table(log),
        "<h2>Evaluations</h2>" + _evaluations_table(log),
    ]
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(run.id)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(sections)}</body></html>")


def write(run: RunDir, out: Path | None = None) -> Path:
    out = out or run.path / "report.html"
    out.write_text(build(run), encoding="utf-8")
    return out


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = f"<tr>{''.join(f'<th>{escape(h)}</th>' for h in header)}</tr>" if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _result_table(log: RunLog) -> str:
    result = log.result
    if result is None:
        return "<p>Not finished: no result.json yet.</p>"
    best = result.get("best") or {}
    rows = [["evaluations", result.get("evaluations")], ["stop reason", result.get("stop_reason")]]
    if best:
        rows = [["best cell", best["arch"]], ["validation acc", f"{best['val_acc']:.2f}%"],
                ["test acc", f"{best['test_acc']:.2f}% (looked up once, at the end)"],
                ["rank", f"{best['rank']} of {best['of']}"],
                ["FLOPs / params", f"{best['flops_m']:.2f} M / {best['params_m']:.3f} M"],
                ["found at", f"step {best['step']} ({best['source']})"]] + rows
    proposals = result.get("proposals")
    if proposals:
        rows.append(["proposals", ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in proposals.items())])
    return _table(["", ""], rows)


def _curve_svg(log: RunLog) -> str:
    """Best validation accuracy after each evaluation, as inline SVG."""
    accs = [e.data["val_acc"] for e in log.events if e.kind == "evaluation" and e.data.get("val_acc") is not None]
    if not accs:
        return "<p>No evaluation yet.</p>"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best, curve = float("-inf"), []
    for acc in accs:
        best = max(best, acc)
        curve.append(best)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(range(1, len(curve) + 1), curve, marker="o", label="best so far")
    ax.scatter(range(1, len(accs) + 1), accs, s=10, color="#999", label="each evaluation")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("validation accuracy (%)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE: inline SVG needs neither


def _heatmaps(run: RunDir) -> str:
    """The archive heatmaps LLMatic's `finish` wrote beside result.json, if any."""
    figures = [p for p in (run.path / name for name in ("network_archive.png", "prompt_archive.png",
                                                        "best_per_generation.png")) if p.is_file()]
    if not figures:
        return ""
    images = "".join(f"<figure><img alt='{p.stem}' src='data:image/png;base64,"
                     f"{base64.b64encode(p.read_bytes()).decode()}'><figcaption>{p.stem.replace('_', ' ')}"
                     f"</figcaption></figure>" for p in figures)
    return "<h2>Archives</h2>" + images


def _principles(log: RunLog) -> str:
    facts = log.principles_at(max(log.steps(), default=0))
    if not facts:
        return ""
    return "<h2>Principles</h2><ul>" + "".join(f"<li>step {f.step}: {escape(f.text)}</li>" for f in facts) + "</ul>"


def _usage_table(log: RunLog) -> str:
    per_role: dict[tuple[str, str], list[float]] = {}
    for e in log.events:
        if e.kind == "answer":
            row = per_role.setdefault((e.role or "", e.model or ""), [0, 0, 0, 0.0])
            row[0] += 1
            row[1] += e.tokens_in or 0
            row[2] += e.tokens_out or 0
            row[3] += e.data.get("seconds") or 0.0
    rows = [[role, model, int(c), int(tin), int(tout), f"{s:.1f}"] for (role, model), (c, tin, tout, s) in per_role.items()]
    return _table(["role", "model", "calls", "tokens in", "tokens out", "seconds"], rows) if rows else "<p>No LLM call.</p>"


def _evaluations_table(log: RunLog) -> str:
    rows = [[e.step, e.data.get("arch"), "-" if e.data.get("val_acc") is None else f"{e.data['val_acc']:.2f}",
             "-" if e.data.get("flops_m") is None else f"{e.data['flops_m']:.2f}",
             "-" if e.data.get("params_m") is None else f"{e.data['params_m']:.3f}"]
            for e in log.events if e.kind == "evaluation"]
    return _table(["step", "architecture", "val acc %", "MFLOPs", "M params"], rows) if rows else "<p>None.</p>"
