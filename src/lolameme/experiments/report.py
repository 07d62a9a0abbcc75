"""The Markdown report of one experiment at one scale, with PNG figures in the paper's form.

Everything is read from the results table (one row per cell and split), so a
report can be rebuilt from a committed ``results.parquet`` alone. Cells that
have not finished are shown as missing, with how many seeds each number
averages; nothing is filled in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lolameme.atomic import atomic_path, atomic_write_text
from lolameme.errors import LolamemeError
from lolameme.experiments.backend import dataset_overrides
from lolameme.experiments.claims import Scores, check, majority_baseline, paper_mean, target_scores
from lolameme.experiments.models import describe_mapping, model_mapping
from lolameme.experiments.results import Aggregate, aggregate, slice_means
from lolameme.experiments.spec import Column, ExperimentSpec, Figure, setting_label

#: Annotation columns whose slices explain a result, in order of preference (design.md).
SLICE_COLUMNS = ("uses_globals", "hops", "n_global_reads", "n_latent", "language", "depth", "n_ops")
FIGURE_DPI = 110
#: How each measure is named in reports (token_loss is teacher-forced cross-entropy per answer token).
METRIC_LABELS = {"exact_match": "exact match", "token_loss": "answer NLL (nats/token)",
                 "token_accuracy": "token accuracy"}
CONTINUOUS = ("token_loss", "token_accuracy")


def display_name(model: str) -> str:
    """A mixer family by its label (``GPT-2``), THEX-N as the paper writes it; rows not in the paper say so."""
    from lolameme.experiments.spec import is_paper_model
    from lolameme.models.registry import MIXERS, get_mixer

    name = get_mixer(model).label if model in MIXERS else model.replace("thex-", "THEX-")
    return name if is_paper_model(model) else f"{name} (not in the paper)"


def fmt_agg(agg: Aggregate | None, expected_seeds: int) -> str:
    """``0.1234 (0.0056)``; std ``–`` for one seed; ``[k/n seeds]`` when seeds are missing."""
    if agg is None:
        return "missing"
    std = "–" if agg.std is None else f"{agg.std:.4f}"
    partial = f" [{agg.n}/{expected_seeds} seeds]" if agg.n < expected_seeds else ""
    return f"{agg.mean:.4f} ({std}){partial}"


def fmt_paper(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, (tuple, list)):
        return f"{value[0]:.4f} ({value[1]:.4f})"
    return f"{value:.4f}".rstrip("0").rstrip(".") if value else "0"


# ---------------------------------------------------------------- sections


def _heading(spec: ExperimentSpec, scale: str) -> str:
    shrunk = spec.scale(scale).shrunk
    title = f"# {spec.name} ({spec.paper}) at scale `{scale}`"
    return f"{title}: task shrunk ({shrunk})" if shrunk else title


def training_line(spec: ExperimentSpec, scale: str) -> str:
    """Budget, recipe and answer format of every cell: the first thing a reader needs to weigh the numbers."""
    s = spec.scale(scale)
    train = dict(s.train)
    if s.recipe:
        from lolameme.train.recipes import load_recipe

        try:
            train = {**load_recipe(s.recipe), **train}
        except LolamemeError:
            pass
    budget = ", ".join(f"{train[k]:g} {label}" for k, label in
                       (("steps", "steps"), ("epochs", "epochs"), ("tokens", "tokens"), ("time_budget", "minutes at most"))
                       if train.get(k) is not None) or "the scale's default"
    fmt = train.get("answer_format", "direct")
    fmt = fmt if isinstance(fmt, str) else json.dumps(fmt)
    return (f"**Budget per cell:** {budget}; **recipe:** `{s.recipe or 'none'}`; "
            f"**answer format:** `{fmt}`.")


def _setup(spec: ExperimentSpec, scale: str, mapping: dict[str, str], rows: list[dict],
           expected_cells: int, seeds: int) -> list[str]:
    s = spec.scale(scale)
    done = len({r["cell"] for r in rows})
    lines = [f"**{spec.title}.** {spec.description.strip()}", ""]
    if s.shrunk:
        unshrunk = [f"`{name}`" for name in ("tiny", "small", "paper") if not spec.scale(name).shrunk]
        where = f"runs unshrunk at {' and '.join(unshrunk)} scale" if unshrunk else "is shrunk at every scale here"
        lines += [f"**Shrunk at this scale:** {s.shrunk}. The paper's task {where}.", ""]
    if s.note:
        lines += [f"**Note:** {s.note}", ""]
    lines += [f"Cells finished: **{done} of {expected_cells}** ({seeds} seed{'s' if seeds != 1 else ''}). "
              "Numbers are exact match, mean (sample std) over seeds; `missing` marks cells without results.", ""]
    lines += ["Models (paper name -> preset at this scale):", "", "```", describe_mapping(mapping, s.models), "```", ""]
    lines.append("Datasets:")
    for d in spec.datasets_at(scale):
        lines.append(f"- `{d.id}`: preset `{d.preset}`, overrides {json.dumps(d.overrides) if d.overrides else 'none'}")
    tasks = _tasks(spec, scale)
    lines.append(f"- scale overrides: {json.dumps({t: v for t, v in s.data.items() if t in tasks})}")
    recipe = f"recipe `{s.recipe}`, " if s.recipe else ""
    tokenizers = ", ".join(f"`{s.tokenizer[t]}`" for t in sorted(tasks) if t in s.tokenizer)
    lines += [f"\nTraining: tokenizer {tokenizers}, {recipe}settings {json.dumps(s.train)}; "
              f"evaluation: {json.dumps(s.eval.model_dump())}.", ""]
    if spec.sweep:
        axes = "; ".join(f"`{k}` in {json.dumps(v)}" for k, v in spec.sweep.items())
        lines += [f"Sweep over training keys: {axes} ({len(spec.settings())} settings, each reported on its own "
                  "below; a setting's values override the recipe's and the scale's).", ""]
    return lines


def _signal(spec: ExperimentSpec, mapping: dict[str, str], rows: list[dict]) -> list[str]:
    """Did any model learn? Per table column and exact-match figure: who beats majority + sampling noise."""
    targets = [c.title for c in spec.table.columns] if spec.table else []
    targets += [f.id for f in spec.figures if f.metric == "exact_match"]
    names = _preset_names(spec.models, mapping)
    parts, any_signal = [], False
    for target in targets:
        scores = target_scores(spec, mapping, rows, target)
        if scores.floor is None or not any(a is not None for a in scores.ours.values()):
            continue
        above = {mapping[m]: a.mean for m, a in scores.ours.items() if a is not None and a.mean > scores.floor}
        any_signal |= bool(above)
        who = ", ".join(f"{names[p]} {v:.4f}" for p, v in sorted(above.items(), key=lambda kv: -kv[1])) or "none"
        parts.append(f"{target}: {who} (majority answer {scores.baseline:.4f} + noise {scores.noise:.4f})")
    if not parts:
        return []
    head = ("**Signal** (models above the majority answer by more than sampling noise): " if any_signal else
            "**No signal at this scale:** no model beats always giving the majority answer by more than sampling "
            "noise, so the comparisons below compare noise. Per target: ")
    return [head + "; ".join(parts) + ".", ""]


def _tasks(spec: ExperimentSpec, scale: str) -> set[str]:
    """Tasks of the spec's datasets; every task of the scale when the data presets cannot be read."""
    try:
        return {dataset_overrides(d, spec.scale(scale))[0] for d in spec.datasets_at(scale)}
    except LolamemeError:
        return set(spec.scale(scale).data) | set(spec.scale(scale).tokenizer)


def _table(spec: ExperimentSpec, mapping: dict[str, str], rows: list[dict], seeds: int) -> list[str]:
    table = spec.table
    agg = aggregate(rows, "exact_match")
    head = ["Model", "ours"] + [f"{c.title}: {part}" for c in table.columns for part in ("ours", "paper")]
    lines = [f"## {table.source}: {table.caption}", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for m in spec.models:
        cells = [display_name(m), f"`{mapping[m]}`"]
        for c in table.columns:
            cells += [fmt_agg(agg.get((c.dataset, mapping[m], c.split)), seeds), fmt_paper(c.paper.get(m))]
        lines.append("| " + " | ".join(cells) + " |")
    base = ["majority answer (+ sampling noise)", "–"]
    scores = {c.title: target_scores(spec, mapping, rows, c.title) for c in table.columns}
    for c in table.columns:
        value = scores[c.title].baseline
        base += ["missing" if value is None else f"{value:.4f} (+{scores[c.title].noise:.4f})", "–"]
    lines.append("| " + " | ".join(base) + " |")
    shared = _shared_note(spec.models, mapping)
    lines += ["", *( [shared, ""] if shared else [] )]
    lines += [f"- {_column_reading(spec, c, mapping, agg, scores[c.title])}" for c in table.columns]
    return lines + [""] + _continuous_table(spec, mapping, rows, seeds)


def _continuous_table(spec: ExperimentSpec, mapping: dict[str, str], rows: list[dict], seeds: int) -> list[str]:
    """Answer NLL and token accuracy per table column: they move before exact match does."""
    columns = spec.table.columns
    aggs = {metric: aggregate(rows, metric) for metric in CONTINUOUS}
    head = ["Model"] + [f"{c.title}: {METRIC_LABELS[m]}" for c in columns for m in CONTINUOUS]
    lines = ["Continuous measures (teacher-forced on the same rows; mean (std) over seeds; a verdict on them "
             "needs a margin above the seed std):", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in spec.models:
        cells = [f"{display_name(m)} (`{mapping[m]}`)"]
        cells += [fmt_agg(aggs[metric].get((c.dataset, mapping[m], c.split)), seeds) for c in columns for metric in CONTINUOUS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _shared_note(models: list[str], mapping: dict[str, str]) -> str:
    groups: dict[str, list[str]] = {}
    for m in models:
        groups.setdefault(mapping[m], []).append(display_name(m))
    shared = [f"{', '.join(g)} (`{p}`)" for p, g in groups.items() if len(g) > 1]
    return ("Rows that share a preset are one trained model at this scale: " + "; ".join(shared) + ".") if shared else ""


def _column_reading(spec: ExperimentSpec, column: Column, mapping: dict[str, str], agg: dict,
                    scores: Scores) -> str:
    """One line: our best and worst model on the column, beside the paper's."""
    names = _preset_names(spec.models, mapping)
    ours = {p: agg[(column.dataset, p, column.split)].mean for p in names if (column.dataset, p, column.split) in agg}
    text = f"**{column.title}**: "
    if len(ours) < len(names):
        text += f"ours incomplete ({len(ours)} of {len(names)} models)"
        if ours:
            best = max(ours, key=ours.get)
            text += f", best so far {names[best]} ({ours[best]:.4f})"
    else:
        best, worst = max(ours, key=ours.get), min(ours, key=ours.get)
        text += f"ours best {names[best]} ({ours[best]:.4f}), worst {names[worst]} ({ours[worst]:.4f})"
    if ours and scores.floor is not None and max(ours.values()) <= scores.floor:
        text += (f" (every model within sampling noise of the majority answer, {scores.baseline:.4f} "
                 f"+ {scores.noise:.4f}: no signal)")
    if column.paper:
        paper = {m: paper_mean(v) for m, v in column.paper.items()}
        pb, pw = max(paper, key=paper.get), min(paper, key=paper.get)
        text += f"; paper best {display_name(pb)} ({paper[pb]:.4f}), worst {display_name(pw)} ({paper[pw]:.4f})"
    return text + "."


def _preset_names(models: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """preset -> the paper models it plays, as one label (``THEX-12/THEX-13/THEX-14``)."""
    groups: dict[str, list[str]] = {}
    for m in models:
        groups.setdefault(mapping[m], []).append(display_name(m))
    return {p: "/".join(g) for p, g in groups.items()}


def _claims(spec: ExperimentSpec, mapping: dict[str, str], rows: list[dict]) -> list[str]:
    if not spec.claims:
        return []
    lines = ["## Does the paper's finding hold here?", "", "| paper's finding | target | here | our numbers | paper's numbers agree |",
             "|---|---|---|---|---|"]
    for claim in spec.claims:
        verdict = check(claim, target_scores(spec, mapping, rows, claim.target, claim.metric), mapping)
        paper = {True: "yes", False: "no", None: "stated in the text"}[verdict.paper_holds]
        target = claim.target if claim.metric == "exact_match" else f"{claim.target} ({METRIC_LABELS[claim.metric]})"
        lines.append(f"| {claim.text} | {target} | {verdict.word} | {verdict.detail} | {paper} |")
    return lines + [""]


def _figure_points(spec: ExperimentSpec, scale: str, figure: Figure, mapping: dict[str, str],
                   rows: list[dict], metric: str | None = None) -> dict[str, list[tuple[float, Aggregate]]]:
    agg = aggregate(rows, metric or figure.metric)
    points: dict[str, list[tuple[float, Aggregate]]] = {}
    for m in spec.models:
        series = [(d.x, agg[(d.id, mapping[m], figure.split)]) for d in spec.datasets_at(scale)
                  if (d.id, mapping[m], figure.split) in agg]
        points[m] = series
    return points


def plot_figure(spec: ExperimentSpec, scale: str, figure: Figure, mapping: dict[str, str], rows: list[dict],
                path: Path) -> None:
    """Metric against x, one line per model, a band of one std over seeds; written atomically.

    An exact-match figure gets a second panel with the answer NLL of the same cells: at small budgets
    the loss separates models while exact match still sits at the floor.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [figure.metric] + (["token_loss"] if figure.metric == "exact_match" else [])
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.4 * len(metrics), 4.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        _draw_panel(ax, spec, scale, figure, mapping, rows, metric)
    fig.suptitle(f"{figure.source} ({spec.name}, {scale}): {figure.split}", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=FIGURE_DPI, format="png")
    plt.close(fig)


def _draw_panel(ax, spec: ExperimentSpec, scale: str, figure: Figure, mapping: dict[str, str], rows: list[dict],
                metric: str) -> None:
    drawn: set[str] = set()
    for m, series in _figure_points(spec, scale, figure, mapping, rows, metric).items():
        if not series or mapping[m] in drawn:
            continue
        drawn.add(mapping[m])
        xs = [x for x, _ in series]
        means = [a.mean for _, a in series]
        stds = [a.std or 0.0 for _, a in series]
        (line,) = ax.plot(xs, means, marker="o", label=f"{display_name(m)} ({mapping[m]})")
        ax.fill_between(xs, [u - s for u, s in zip(means, stds)], [u + s for u, s in zip(means, stds)],
                        color=line.get_color(), alpha=0.2)
    if metric == "exact_match":
        base = [(d.x, majority_baseline(rows, d.id, figure.split)) for d in spec.datasets_at(scale)]
        base = [(x, b) for x, b in base if b is not None]
        if base:
            ax.plot([x for x, _ in base], [b for _, b in base], color="gray", linestyle="--", label="majority answer")
    labels = {d.x: d.label for d in spec.datasets_at(scale) if d.label}
    if labels:
        ax.set_xticks(list(labels), list(labels.values()))
    ax.set_xlabel(figure.x_label)
    ax.set_ylabel(METRIC_LABELS[metric])
    if drawn:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no finished cells yet", ha="center", va="center", transform=ax.transAxes)
    ax.grid(alpha=0.3)


def _figure_section(spec: ExperimentSpec, scale: str, figure: Figure, mapping: dict[str, str], rows: list[dict],
                    png_name: str, seeds: int) -> list[str]:
    datasets = spec.datasets_at(scale)
    agg = aggregate(rows, figure.metric)
    lines = [f"## {figure.source}: {figure.caption}", "",
             f"![{figure.source}]({png_name})", "",
             f"The paper's figure has no numbers in our text copy of the paper, so there is no paper column. "
             f"{figure.metric.replace('_', ' ')} on `{figure.split}`, mean (std) over seeds:", "",
             "| Model | " + " | ".join(d.label or f"{d.x:g}" for d in datasets) + " |",
             "|" + "---|" * (len(datasets) + 1)]
    for m in spec.models:
        cells = [fmt_agg(agg.get((d.id, mapping[m], figure.split)), seeds) for d in datasets]
        lines.append(f"| {display_name(m)} (`{mapping[m]}`) | " + " | ".join(cells) + " |")
    if figure.metric == "exact_match":
        base = [majority_baseline(rows, d.id, figure.split) for d in datasets]
        lines.append("| majority answer | " + " | ".join("missing" if b is None else f"{b:.4f}" for b in base) + " |")
        nll = aggregate(rows, "token_loss")
        lines += ["", f"{METRIC_LABELS['token_loss']} on `{figure.split}` (right panel), mean (std) over seeds:", "",
                  "| Model | " + " | ".join(d.label or f"{d.x:g}" for d in datasets) + " |",
                  "|" + "---|" * (len(datasets) + 1)]
        for m in spec.models:
            cells = [fmt_agg(nll.get((d.id, mapping[m], figure.split)), seeds) for d in datasets]
            lines.append(f"| {display_name(m)} (`{mapping[m]}`) | " + " | ".join(cells) + " |")
    return lines + [""]


def _slices(spec: ExperimentSpec, scale: str, mapping: dict[str, str], rows: list[dict]) -> list[str]:
    """Exact match by the annotation columns that explain results (hops, uses of globals, ...)."""
    targets = [(c.dataset, c.split) for c in spec.table.columns] if spec.table else []
    ends = spec.datasets_at(scale)[:: max(1, len(spec.datasets_at(scale)) - 1)]  # a figure's first and last x
    targets += [(d.id, f.split) for f in spec.figures if f.metric == "exact_match" for d in ends]
    lines = ["## Slices", "", "Exact match by annotation (mean over seeds); the majority baseline of each slice in the last row."]
    found = False
    presets = list(dict.fromkeys(mapping[m] for m in spec.models))
    by_column = {c: (slice_means(rows, c), slice_means(rows, c, "majority_baseline")) for c in SLICE_COLUMNS}
    for dataset, split in dict.fromkeys(targets):
        for column, (ours, base) in by_column.items():
            keys = [(dataset, p, split) for p in presets]
            values = list(dict.fromkeys(v for k in keys for v in ours.get(k, {})))
            if not values:
                continue
            found = True
            lines += ["", f"`{dataset}` / `{split}` by `{column}`:", "",
                      "| model | " + " | ".join(values) + " |", "|" + "---|" * (len(values) + 1)]
            for p, k in zip(presets, keys):
                lines.append(f"| `{p}` | " + " | ".join(_num(ours.get(k, {}).get(v)) for v in values) + " |")
            first = next((base[k] for k in keys if k in base), {})
            lines.append("| majority | " + " | ".join(_num(first.get(v)) for v in values) + " |")
    return lines + [""] if found else []


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _compute(spec: ExperimentSpec, mapping: dict[str, str], rows: list[dict]) -> list[str]:
    by_cell = {r["cell"]: r for r in rows}.values()
    if not by_cell:
        return []
    lines = ["## Compute", "", "| preset | cells | steps (mean) | tokens (mean) | train s (mean) | eval s (mean) | parameters |",
             "|---|---|---|---|---|---|---|"]
    for preset in dict.fromkeys(mapping[m] for m in spec.models):
        cells = [r for r in by_cell if r["model"] == preset]
        if not cells:
            continue

        def avg(key: str) -> str:
            values = [c[key] for c in cells if c.get(key) is not None]
            return f"{sum(values) / len(values):,.0f}" if values else "–"

        lines.append(f"| `{preset}` | {len(cells)} | {avg('steps')} | {avg('tokens')} | {avg('train_seconds')} | "
                     f"{avg('eval_seconds')} | {avg('parameters')} |")
    total = sum((c.get("train_seconds") or 0) + (c.get("eval_seconds") or 0) for c in by_cell)
    versions = sorted({str(c.get("package_version")) for c in by_cell})
    devices = sorted({str(c.get("device")) for c in by_cell})
    lines += ["", f"Total {total / 60:.1f} min of training and evaluation; package version {', '.join(versions)}; "
              f"device {', '.join(devices)}.", ""]
    return lines


# ---------------------------------------------------------------- entry point


def write_report(spec: ExperimentSpec, scale: str, rows: list[dict[str, Any]], out_dir: Path, *,
                 seeds: int, expected_cells: int) -> Path:
    """Write ``out_dir/<spec>.md`` and its PNG figures; return the Markdown path.

    A spec with a sweep gets the results sections once per setting (``lr=0.001``),
    each read from that setting's rows only, so seeds are never averaged across settings.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mapping = model_mapping(spec.models, spec.scale(scale).models)
    rows = [r for r in rows if r["dataset"] in {d.id for d in spec.datasets_at(scale)}]
    lines = [_heading(spec, scale), "", training_line(spec, scale), ""]
    lines += _setup(spec, scale, mapping, rows, expected_cells, seeds)
    for setting in spec.settings():
        label = setting_label(setting)
        if label:
            lines += [f"# Setting `{label}`", ""]
        own = [r for r in rows if (r.get("setting") or "") == label]
        lines += _results(spec, scale, mapping, own, out_dir, seeds, label)
    path = out_dir / f"{spec.name}.md"
    atomic_write_text(path, "\n".join(lines).rstrip() + "\n")
    return path


def _results(spec: ExperimentSpec, scale: str, mapping: dict[str, str], rows: list[dict], out_dir: Path,
             seeds: int, label: str) -> list[str]:
    """Signal, table, figures, claims, slices and compute of one setting's rows."""
    lines = _signal(spec, mapping, rows)
    if spec.table:
        lines += _table(spec, mapping, rows, seeds)
    for figure in spec.figures:
        png = f"{spec.name}-{figure.id}{'-' + label.replace(',', '-') if label else ''}.png"
        plot_figure(spec, scale, figure, mapping, rows, out_dir / png)
        lines += _figure_section(spec, scale, figure, mapping, rows, png, seeds)
    lines += _claims(spec, mapping, rows)
    lines += _slices(spec, scale, mapping, rows)
    lines += _compute(spec, mapping, rows)
    return lines
