"""``reports/README.md``: every experiment's headline findings, held or not, with the numbers.

Built from the results tables copied beside each report
(``reports/<scale>/<spec>.results.parquet``), so it needs no run directories
and is rewritten whole each time any report is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lolameme.atomic import atomic_write_text
from lolameme.errors import LolamemeError
from lolameme.experiments.cells import enumerate_cells, seed_list
from lolameme.experiments.claims import check, target_scores
from lolameme.experiments.models import model_mapping
from lolameme.experiments.results import read_table
from lolameme.experiments.spec import SCALES, list_specs, load_spec, setting_label

RESULTS_SUFFIX = ".results.parquet"


def write_summary(reports_root: Path, spec_dirs: Sequence[str | Path] = ()) -> Path:
    """Rewrite ``reports_root/README.md`` from every ``<scale>/<spec>.results.parquet`` under it.

    ``spec_dirs``: the user's spec folders (``--specs``), searched before the package's.
    """
    reports_root = Path(reports_root)
    lines = ["# Experiment reports", "",
             "Each experiment of the paper at each scale we ran, with its headline findings: does the paper's "
             "finding hold at our scale? *undecided* means some compared cells have no result yet; *no signal* "
             "that no compared model beats always giving the majority answer by more than sampling noise (two "
             "binomial standard errors over all its test rows), so the comparison would be between noise; "
             "*(within noise)* that the margin is within one standard deviation over seeds. "
             "Numbers are mean exact match over the seeds finished (figures: averaged over the x values every "
             "model has).", ""]
    specs = {path.stem: path for path in list_specs(spec_dirs)}
    findings = 0
    for scale in SCALES:
        folder = reports_root / scale
        tables = sorted(folder.glob(f"*{RESULTS_SUFFIX}")) if folder.is_dir() else []
        if not tables:
            continue
        tally: dict[str, int] = {}
        rows = [line for table_path in tables for line in _experiment_rows(table_path, scale, specs, tally)]
        lines += [f"## Scale `{scale}`", ""]
        if tally:
            counts = ", ".join(f"{n} {word}" for word, n in sorted(tally.items(), key=lambda kv: -kv[1]))
            lines += [f"Findings checked at this scale: {sum(tally.values())} ({counts}).", ""]
        lines += ["| experiment | paper | cells | finding | holds here | our numbers |", "|---|---|---|---|---|---|",
                  *rows, ""]
        findings += sum(tally.values())
    if not findings:
        lines += ["No experiment has results yet.", ""]
    path = reports_root / "README.md"
    reports_root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(lines).rstrip() + "\n")
    return path


def _experiment_rows(table_path: Path, scale: str, specs: dict[str, Path], tally: dict[str, int]) -> list[str]:
    """The table rows of one experiment's findings at ``scale``; counts each verdict in ``tally``."""
    name = table_path.name.removesuffix(RESULTS_SUFFIX)
    link = f"[{name}]({scale}/{name}.md)"
    try:
        spec = load_spec(specs.get(name, name))
    except LolamemeError as exc:
        return [f"| {link} | – | – | spec not found: {exc} | – | – |"]
    rows = read_table(table_path).to_pylist()
    mapping = model_mapping(spec.models, spec.scale(scale).models)
    seeds = max([spec.scale(scale).seeds, *(r["seed"] + 1 for r in rows)])
    expected = len(enumerate_cells(spec, scale, seed_list(seeds)))
    head = f"| {link}{' (task shrunk)' if spec.scale(scale).shrunk else ''} | {spec.paper} | " \
           f"{len({r['cell'] for r in rows})}/{expected} |"
    if not spec.claims:
        return [f"{head} (no claim in spec) | – | – |"]
    lines = []
    for setting in spec.settings():  # a sweep's settings are checked one by one, never pooled
        label = setting_label(setting)
        own = [r for r in rows if (r.get("setting") or "") == label]
        for claim in spec.claims:
            verdict = check(claim, target_scores(spec, mapping, own, claim.target, claim.metric), mapping)
            text = f"{claim.text} (`{label}`)" if label else claim.text
            lines.append(f"{head} {text} | **{verdict.word}** | {verdict.detail} |")
            key = "no signal" if verdict.floor else "undecided" if verdict.holds is None else verdict.word
            tally[key] = tally.get(key, 0) + 1
    return lines
