"""``RUN/analysis/``: report.md, one PNG per measure and a Parquet table behind every number.

The directory is assembled under a temporary name and renamed into place (:func:`lolameme.atomic.atomic_dir`),
so readers see the previous analysis or the new one, never a mixture.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lolameme.analysis.attribution import GROUPS as ATTENTION_GROUPS
from lolameme.analysis.patching import GROUPS, KINDS, MIN_EFFECT
from lolameme.analysis.run import AnalysisResult
from lolameme.atomic import atomic_dir


def write_analysis(out: Path, result: AnalysisResult) -> None:
    """Write tables, figures, meta.json and report.md into ``out`` in one rename."""
    import matplotlib

    matplotlib.use("Agg")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out, replace=True) as tmp:
        for name, table in result.tables.items():
            pq.write_table(table, tmp / f"{name}.parquet", compression="zstd")
        figures = {name: draw(result.tables, tmp / f"{name}.png") for name, draw in FIGURES.items()
                   if all(need in result.tables and result.tables[need].num_rows for need in NEEDS[name])}
        (tmp / "meta.json").write_text(json.dumps({**result.meta, "skipped": result.skipped}, indent=2) + "\n")
        (tmp / "report.md").write_text(markdown(result, figures), encoding="utf-8")


def _frame(table: pa.Table):
    return table.to_pandas()


def _heat(ax, values: np.ndarray, title: str, xlabels, ylabels, vmin: float, vmax: float, cmap: str):
    image = ax.imshow(values, vmin=vmin, vmax=vmax, cmap=cmap, aspect="auto")
    ax.set_title(title, fontsize=9)
    ax.set_xticks(range(len(xlabels)), xlabels, fontsize=7, rotation=45 if len(xlabels) > 6 else 0)
    ax.set_yticks(range(len(ylabels)), ylabels, fontsize=7)
    for (y, x), v in np.ndenumerate(values):
        if not math.isnan(v):
            dark = (v - vmin) / max(vmax - vmin, 1e-12) < 0.5 if cmap == "viridis" else False
            ax.text(x, y, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if dark else "black")
    return image


def attention_figure(tables: dict[str, pa.Table], path: Path) -> Path:
    """Layer x head: attention to the defining statement (and its expression) beside print and noise."""
    import matplotlib.pyplot as plt

    df = _frame(tables["attention"])
    df = df[df.hops == "all"]
    shown = ("defining", "defining value", "print", "noise")
    fig, axes = plt.subplots(1, len(shown), figsize=(4.4 * len(shown), 3 + 0.3 * df.layer.nunique()))
    fig.subplots_adjust(wspace=0.3)
    for ax, role in zip(axes, shown):
        grid = df[df.role == role].pivot(index="layer", columns="head", values="attention")
        uniform = df[df.role == role].uniform.mean()
        image = _heat(ax, grid.to_numpy(), f"attention to {role}\n(uniform would give {uniform:.2f})",
                      list(grid.columns), [f"layer {i}" for i in grid.index], 0, 1, "viridis")
        ax.set_xlabel("head")
    fig.colorbar(image, ax=list(axes), shrink=0.8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def probes_figure(tables: dict[str, pa.Table], path: Path) -> Path:
    """Held-out probe accuracy per stream: printed value (trained, fresh, control, chance) and each statement."""
    import matplotlib.pyplot as plt

    df = _frame(tables["probes"])
    df = df[df.slice == "all"]
    digits = list(dict.fromkeys(df.digit))
    fig, axes = plt.subplots(len(digits), 2, figsize=(10, 3.2 * len(digits)), squeeze=False)
    for row, digit in zip(axes, digits):
        part = df[df.digit == digit]
        printed = part[part.target == "printed"]
        for (model, task), style in {("trained", "value"): "o-", ("fresh", "value"): "s--",
                                     ("trained", "control"): "^:"}.items():
            line = printed[(printed.model == model) & (printed.task == task)]
            name = "control task" if task == "control" else "value"
            row[0].plot(line.stream, line.accuracy, style, label=f"{model}, {name}")
        real = printed[(printed.model == "trained") & (printed.task == "value")]
        row[0].axhline(real.chance.iloc[0], color="grey", lw=0.8, label="chance (majority digit)")
        row[0].set_title(f"printed value, {digit} digit", fontsize=9)
        statements = part[(part.task == "value") & (part.target != "printed")]
        for index, (target, line) in enumerate(statements.groupby("target", sort=False)):
            color = f"C{index}"
            trained, fresh = line[line.model == "trained"], line[line.model == "fresh"]
            row[1].plot(trained.stream, trained.accuracy, "o-", color=color, label=target, ms=3)
            row[1].plot(fresh.stream, fresh.accuracy, "--", color=color, lw=0.8)
        row[1].set_title(f"statement values, {digit} digit (trained solid, fresh dashed)", fontsize=9)
        for ax in row:
            ax.set_xlabel("stream (0 = embeddings, l = after layer l-1)")
            ax.set_xticks(sorted(set(part.stream)))
            ax.set_ylabel("held-out accuracy")
            ax.set_ylim(0, 1.02)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def patching_figure(tables: dict[str, pa.Table], path: Path) -> Path:
    """Stream x position group: the share of the total effect each patch carries, per pair kind.

    A kind without a total effect to share (noise pairs of a model that ignores noise) is shown in
    units of the largest total effect among the kinds, so an empty panel reads as 'nothing here'.
    """
    import matplotlib.pyplot as plt

    df = _frame(tables["patching"])
    kinds = [k for k in KINDS if k in set(df.kind)]
    totals = {k: float(df[(df.kind == k) & (df.group == "changed")].total.iloc[0]) for k in kinds}
    reference = max(kinds, key=lambda k: abs(totals[k]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 3.5), squeeze=False)
    fig.subplots_adjust(wspace=0.35)
    for ax, kind in zip(axes[0], kinds):
        part = df[df.kind == kind].copy()
        if part.share.notna().any():
            what = "share of its total effect"
        else:
            part["share"] = part.carried / totals[reference] if totals[reference] else float("nan")
            what = f"in units of the {reference} pairs' total effect"
        grid = part.pivot(index="stream", columns="group", values="share").reindex(
            columns=[g for g in GROUPS if g in set(part.group)])
        image = _heat(ax, grid.to_numpy(), f"{kind} pairs (n={part.pairs.max()}), total effect {totals[kind]:+.3g}"
                      f"\n{what}", list(grid.columns), [f"stream {i}" for i in grid.index], -1, 1, "RdBu_r")
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="share of P(clean answer) restored")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def filters_figure(tables: dict[str, pa.Table], path: Path) -> Path:
    """Per Hyena layer: mean normalised |impulse response| by lag, trained beside fresh."""
    import matplotlib.pyplot as plt

    df = _frame(tables["filter_impulse"])
    layers = sorted(set(df.layer))
    columns = min(len(layers), 4)
    rows = math.ceil(len(layers) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.8 * rows), squeeze=False, sharey=True)
    for ax in axes.flat[len(layers):]:
        ax.set_visible(False)
    for ax, layer in zip(axes.flat, layers):
        for (model, f), line in df[df.layer == layer].groupby(["model", "filter"]):
            ax.semilogy(line.lag, line["mean"], "-" if model == "trained" else "--", label=f"{model}, filter {f}")
            ax.fill_between(line.lag, line.q10.clip(lower=1e-6), line.q90, alpha=0.15)
        ax.set_title(f"layer {layer}", fontsize=9)
        ax.set_xlabel("lag (tokens back)")
    for row in axes:
        row[0].set_ylabel("share of |h| (mean over channels)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


FIGURES = {"attention": attention_figure, "probes": probes_figure, "patching": patching_figure,
           "filters": filters_figure}
NEEDS = {"attention": ("attention",), "probes": ("probes",), "patching": ("patching",),
         "filters": ("filter_impulse",)}


def _pct(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def markdown(result: AnalysisResult, figures: dict[str, Path]) -> str:
    """The report: what was analysed, each measure's figure and key numbers, what was skipped."""
    meta, tables = result.meta, result.tables
    seconds = ", ".join(f"{k} {v:.1f} s ({meta['cpu_seconds'][k]:.1f} CPU-s)" for k, v in meta["seconds"].items())
    parts = [
        f"# Analysis of {meta['run']}",
        f"Checkpoint {meta['checkpoint']} (step {meta['step']}), model `{meta['layers']}`; "
        f"{meta['rows']} rows of split `{meta['split']}` of {meta['dataset']}. "
        f"Measured on {meta.get('machine', 'an unnamed machine')}; wall-clock (and CPU) time per measure: {seconds}. "
        "docs/analysis.md explains every measure and how to read the figures; every number below is in "
        "a Parquet table beside this file.",
        _accuracy_section(tables),
    ]
    sections = (("attention", _attention_section), ("probes", _probes_section),
                ("patching", _patching_section), ("filter_reach", _filters_section))
    for key, section in sections:
        if key in tables and tables[key].num_rows:
            parts.append(section(tables, figures))
    if result.skipped:
        parts.append("## Not measured\n\n" + "\n".join(f"- {k}: {why}." for k, why in result.skipped.items()))
    parts.append("## Files\n\n" + "\n".join(f"- `{name}.parquet`" for name in tables)
                 + "".join(f"\n- `{path.name}`" for path in figures.values()))
    return "\n\n".join(parts) + "\n"


def _accuracy_section(tables: dict[str, pa.Table]) -> str:
    df = _frame(tables["accuracy"])
    rows = [[r.slice, r.value, r.n, _pct(r.exact_match), f"{r.p_answer:.3g}"] for r in df.itertuples()]
    return ("## The model on these rows\n\nExact match (greedy, as the evaluator scores it) and the mean "
            "probability of the whole answer, by hops and by the number of the statement that defines the "
            "printed value (0: a global).\n\n"
            + _md_table(["slice", "value", "rows", "exact match", "P(answer)"], rows))


def _attention_section(tables: dict[str, pa.Table], figures: dict[str, Path]) -> str:
    everything = _frame(tables["attention"])
    df = everything[everything.hops == "all"]
    mean = df.groupby(["layer", "role"], sort=False).attention.mean().unstack()[list(ATTENTION_GROUPS)]
    uniform = df.groupby("role", sort=False).uniform.mean()[list(ATTENTION_GROUPS)]
    rows = [[f"layer {layer}"] + [f"{v:.2f}" for v in values] for layer, values in mean.iterrows()]
    rows.append(["uniform"] + [f"{v:.2f}" for v in uniform])
    best = df[df.role == "defining"].sort_values("attention", ascending=False).iloc[0]
    by_hops = everything[(everything.layer == best.layer) & (everything["head"] == best["head"])
                         & (everything.role == "defining") & (everything.hops != "all")]
    hops_text = "; ".join(f"{r.hops} hops: {r.attention:.2f} (uniform {r.uniform:.2f}, n={r.n})"
                          for r in by_hops.itertuples())
    return ("## Attention attribution\n\n![attention](attention.png)\n\nMean attention from the answer-writing "
            "positions to each token role, averaged over heads (`attention.parquet` has every head and the split "
            "by hops). `defining name` (the assigned name and `=`) and `defining value` (its expression and `;`) split "
            "`defining`. The `uniform` row is what attending evenly to all earlier tokens would give. Head with most "
            f"attention on the defining statement: layer {best.layer}, head {best['head']} ({best.attention:.2f}); "
            f"by hops: {hops_text}.\n\n"
            + _md_table(["", *ATTENTION_GROUPS], rows))


def _probes_section(tables: dict[str, pa.Table], figures: dict[str, Path]) -> str:
    df = _frame(tables["probes"])
    printed = df[(df.target == "printed") & (df.slice == "all")]
    rows = []
    for (digit, stream), part in printed.groupby(["digit", "stream"], sort=False):
        get = {(r.model, r.task): r for r in part.itertuples()}
        trained, control = get[("trained", "value")], get[("trained", "control")]
        rows.append([digit, stream, _pct(trained.accuracy), _pct(get[("fresh", "value")].accuracy),
                     _pct(control.accuracy), f"{100 * (trained.accuracy - control.accuracy):+.1f}",
                     _pct(trained.chance), _pct(control.chance)])
    return ("## Linear probes at `<sep>`\n\n![probes](probes.png)\n\nHeld-out accuracy of a linear probe reading "
            "a digit of the printed value from the residual stream at `<sep>` (stream 0: embeddings; stream l: "
            "after layer l-1), on the trained model, on a freshly initialised one, and on the control task "
            "(selectivity = trained minus control, in points). Chance is the most common digit's share, for the "
            "real digit and for the control task's random digits. Statement values, and every target split by hops and "
            "by its kind (a copied literal or name, or a computed value), are in `probes.parquet`.\n\n"
            + _md_table(["digit", "stream", "trained", "fresh", "control task", "selectivity", "chance",
                         "control chance"], rows))


def _patching_section(tables: dict[str, pa.Table], figures: dict[str, Path]) -> str:
    df = _frame(tables["patching"])
    summary = [[kind, part.pairs.max(), f"{part.p_clean.iloc[0]:.3g}", f"{part.p_corrupt.iloc[0]:.3g}",
                f"{part.total.iloc[0]:+.3g}"] for kind, part in df.groupby("kind", sort=False)]
    text = ("## Causal patching\n\n![patching](patching.png)\n\nP(clean answer) on the clean and the corrupt "
            "program, and the total effect between them, per pair kind. The figure shows how much of it each "
            "patch (stream x position group) restores.\n\n"
            + _md_table(["pairs", "n", "P clean", "P corrupt", "total effect"], summary))
    for kind, part in df.groupby("kind", sort=False):
        if part.share.notna().any():
            grid = part.pivot(index="stream", columns="group", values="share").reindex(
                columns=[g for g in GROUPS if g in set(part.group)])
            rows = [[f"stream {s}"] + [_pct(v) for v in values] for s, values in grid.iterrows()]
            text += (f"\n\nShare of the total effect carried, {kind} pairs (`-`: the pairs that have this group "
                     f"have a mean total effect below {MIN_EFFECT}, too small to share out):\n\n"
                     + _md_table(["", *grid.columns], rows))
    return text


def _filters_section(tables: dict[str, pa.Table], figures: dict[str, Path]) -> str:
    df = _frame(tables["filter_reach"])
    rows = [[r.model, r.layer, r.filter, r.k, f"{r.mean:.2f}", f"{r.q10:.2f}", f"{r.median:.2f}", f"{r.q90:.2f}"]
            for r in df[df.k.isin([1, 4, 16])].itertuples()]
    return ("## Hyena filters\n\n![filters](filters.png)\n\nShare of each long filter's mass within k tokens "
            "(lag 0 includes the skip term), over channels.\n\n"
            + _md_table(["model", "layer", "filter", "k", "mean", "q10", "median", "q90"], rows))
