"""What a split tells its user: ``report.json`` (the figures), ``report.html`` (with a histogram), a summary."""

from __future__ import annotations

import html
import json

import numpy as np

BINS = 20


def histogram(train_d: np.ndarray, test_d: np.ndarray) -> dict:
    """Shares of train and test records per bin of D from 0 to 1."""
    edges = np.linspace(0, 1, BINS + 1)
    share = [np.histogram(d, edges)[0] / max(len(d), 1) for d in (train_d, test_d)]
    return {"edges": edges.round(3).tolist(), "train": share[0].round(5).tolist(), "test": share[1].round(5).tolist()}


def summary(report: dict) -> str:
    """A few lines for stderr."""
    lines = [f"split: {report['method_used']} split of {report['train_records']:,} training records "
             + (f"against {report['test_records']:,} test records" if report.get("test_records") else "")]
    if report.get("auc_train_vs_test") is not None:
        lines.append(f"  AUC train vs test (out of fold): {report['auc_train_vs_test']:.3f} -> "
                     + ("train and test differ" if report["shifted"] else "no shift to speak of (near 0.5)"))
    if report.get("auc_valid_vs_test") is not None:
        lines.append(f"  AUC chosen validation set vs test: {report['auc_valid_vs_test']:.3f}; a random split of "
                     f"the same size: {report['auc_random_vs_test']:.3f} (0.5 = indistinguishable)")
    if report.get("mean_text_bytes"):
        sizes = report["mean_text_bytes"]
        lines.append(f"  mean text length: validation {sizes['valid']:,.0f} B, test {sizes['test']:,.0f} B, "
                     f"random split {sizes['random']:,.0f} B")
    if report.get("effective_sample_size") is not None:
        lines.append(f"  effective sample size of the weights: {report['effective_sample_size']:,.0f} "
                     f"of {report['train_records']:,}")
    if report.get("valid_draws") is not None:
        lines.append(f"  validation: {report['valid_draws']:,} draws, {report['valid_unique']:,} distinct records; "
                     f"training output: {report['train_kept']:,} records")
    if report.get("fallback"):
        lines.append(f"  {report['fallback']}")
    return "\n".join(lines)


def to_html(report: dict) -> str:
    """A self-contained page: the figures, the features that mark each side, the histogram of D."""
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_show(v))}</td></tr>"
                   for k, v in report.items() if k not in ("histogram", "top_features", "settings", "inputs"))
    features = ""
    for side in ("test", "train"):
        items = report.get("top_features", {}).get(side, [])
        if items:
            cells = "".join(f"<tr><td>{html.escape(f['ngram'])}</td><td>{f['weight']:+.3f}</td></tr>" for f in items)
            features += f"<h2>Features that most mark {side}</h2><table>{cells}</table>"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>corpuskit split report</title>"
            f"<style>body{{font-family:sans-serif;max-width:52em;margin:2em auto}}td,th{{padding:2px 8px;"
            f"text-align:left}}</style></head><body><h1>Validation split report</h1>"
            f"<pre>{html.escape(summary(report))}</pre><table>{rows}</table>"
            f"<h2>D(x) = P(test | x), out of fold</h2>{_svg(report['histogram']) if report.get('histogram') else ''}"
            f"{features}<h2>Settings</h2><pre>{html.escape(json.dumps(report.get('settings'), indent=2))}</pre>"
            f"</body></html>\n")


def _svg(hist: dict, width: int = 640, height: int = 240) -> str:
    top = max(max(hist["train"]), max(hist["test"]), 1e-9)
    bar = width / BINS / 2 - 1
    parts = []
    for i, (a, b) in enumerate(zip(hist["train"], hist["test"])):
        x = i * width / BINS
        for offset, share, color in ((0, a, "#4878cf"), (bar + 1, b, "#d65f5f")):
            h = share / top * (height - 20)
            parts.append(f"<rect x='{x + offset:.1f}' y='{height - 20 - h:.1f}' width='{bar:.1f}' height='{h:.1f}' "
                         f"fill='{color}'><title>{hist['edges'][i]:.2f}-{hist['edges'][i + 1]:.2f}: "
                         f"{share:.1%}</title></rect>")
    labels = "".join(f"<text x='{i * width / 4:.0f}' y='{height - 4}' font-size='11'>{i / 4:.2f}</text>"
                     for i in range(5))
    legend = ("<text x='8' y='14' fill='#4878cf' font-size='12'>train</text>"
              "<text x='60' y='14' fill='#d65f5f' font-size='12'>test</text>")
    return f"<svg width='{width + 20}' height='{height}' xmlns='http://www.w3.org/2000/svg'>{''.join(parts)}" \
           f"{labels}{legend}</svg>"


def _show(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
