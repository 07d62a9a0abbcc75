"""Mean (std) over seeds, claims and the Markdown/PNG report, on hand-made results."""

from __future__ import annotations

import math

import pytest

from lolameme.experiments.claims import check, target_scores
from lolameme.experiments.models import model_mapping
from lolameme.experiments.report import write_report
from lolameme.experiments.results import aggregate, build_table, mean_std
from lolameme.experiments.spec import load_spec
from lolameme.experiments.summary import write_summary


def result(spec: str, dataset: str, model: str, seed: int, scores: dict[str, float], x: float | None = None,
           loss: float = 1.0) -> dict:
    return {"spec": spec, "scale": "tiny", "cell": f"{dataset}--{model}--s{seed}", "dataset": dataset, "x": x,
            "model": model, "seed": seed, "package_version": "test",
            "splits": {split: {"n": 100, "exact_match": em, "majority_baseline": 0.0255, "majority_answer": "0",
                               "token_accuracy": em, "token_loss": loss,
                               "slices": {"hops": [{"value": "1", "n": 50, "exact_match": em + 0.1,
                                                    "majority_baseline": 0.02},
                                                   {"value": "2", "n": 50, "exact_match": em - 0.1,
                                                    "majority_baseline": 0.03}]}}
                       for split, em in scores.items()},
            "compute": {"train_seconds": 60.0, "eval_seconds": 5.0, "steps": 600, "tokens": 10**6,
                        "parameters": 800_000, "threads": 2, "device": "cpu"}, "finished": 0.0}


def test_mean_and_sample_std():
    assert mean_std([0.1, 0.2, 0.3]) == pytest.approx((0.2, 0.1))
    assert mean_std([0.5]) == (0.5, None)


def thex_lola_rows(drop: set[tuple[str, int]] = frozenset()) -> list[dict]:
    """hyena 0.1/0.2/0.3, gpt2 0.01/0.02/0.03, thex-tiny-4 0.4/0.5/0.6 with globals; others absent."""
    values = {"hyena-tiny": 0.1, "gpt2-tiny": 0.01, "thex-tiny-4": 0.4}
    out = []
    for model, base in values.items():
        for seed in range(3):
            if (model, seed) in drop:
                continue
            step = base if model != "gpt2-tiny" else 0.01
            em = base + step * seed if model != "thex-tiny-4" else base + 0.1 * seed
            out.append(result("thex-lola", "base", model, seed,
                              {"test_with_globals": em, "test_without_globals": em / 10}))
    return build_table(out).to_pylist()


def test_aggregate_on_hand_made_table():
    agg = aggregate(thex_lola_rows(drop={("gpt2-tiny", 2)}))
    hyena = agg[("base", "hyena-tiny", "test_with_globals")]
    assert hyena.mean == pytest.approx(0.2) and hyena.std == pytest.approx(0.1) and hyena.seeds == (0, 1, 2)
    gpt2 = agg[("base", "gpt2-tiny", "test_with_globals")]
    assert gpt2.mean == pytest.approx(0.015) and gpt2.std == pytest.approx(math.sqrt(0.00005)) and gpt2.n == 2
    assert ("base", "thex-tiny-3", "test_with_globals") not in agg  # missing stays missing


def test_claims_hold_fail_or_stay_undecided():
    spec = load_spec("thex-lola")
    mapping = model_mapping(spec.models, "tiny")
    rows = thex_lola_rows()
    claims = {c.text: c for c in spec.claims}
    verdict = check(claims["Hyena beats GPT-2 with globals"], target_scores(spec, mapping, rows, "With Global"), mapping)
    assert verdict.holds is True and verdict.paper_holds is True and not verdict.weak
    verdict = check(claims["THEX-13 beats Hyena with globals"], target_scores(spec, mapping, rows, "With Global"), mapping)
    assert verdict.holds is True  # thex-13 -> thex-tiny-4: 0.5 vs 0.2
    # GPT-2 worst needs every model; thex-tiny-3 and -5 have no cells: undecided, not invented
    verdict = check(claims["GPT-2 is worst on LoLa with globals"], target_scores(spec, mapping, rows, "With Global"), mapping)
    assert verdict.holds is None and verdict.word.startswith("undecided")
    # swap the numbers: the claim now fails
    swapped = [dict(r, exact_match=1 - r["exact_match"]) for r in rows]
    verdict = check(claims["Hyena beats GPT-2 with globals"], target_scores(spec, mapping, swapped, "With Global"), mapping)
    assert verdict.holds is False and verdict.word == "no"


def test_report_table_shows_mean_std_paper_baseline_and_missing(tmp_path):
    spec = load_spec("thex-lola")
    rows = thex_lola_rows(drop={("gpt2-tiny", 2)})
    path = write_report(spec, "tiny", rows, tmp_path, seeds=3, expected_cells=15)
    text = path.read_text()
    hyena_row = next(line for line in text.splitlines() if line.startswith("| Hyena |"))
    assert "0.2000 (0.1000)" in hyena_row and "0.1432 (0.0037)" in hyena_row
    gpt2_row = next(line for line in text.splitlines() if line.startswith("| GPT-2 |"))
    assert "[2/3 seeds]" in gpt2_row
    thex9_row = next(line for line in text.splitlines() if line.startswith("| THEX-9 |"))
    assert "missing" in thex9_row and "0.1663 (0.2247)" in thex9_row
    assert "| majority answer (+ sampling noise) | – | 0.0255 (+0.0" in text
    assert "Cells finished: **8 of 15**" in text
    assert "ours incomplete" in text  # the one-line reading does not guess
    assert "`base` / `test_with_globals` by `hops`" in text
    assert text.splitlines()[0].startswith("# thex-lola (Table 1) at scale `tiny`")


def test_shrunk_task_is_said_in_the_first_line(tmp_path):
    spec = load_spec("listops")
    rows = build_table([result("listops", "listops", "gpt2-tiny", 0, {"test": 0.3})]).to_pylist()
    text = write_report(spec, "tiny", rows, tmp_path, seeds=3, expected_cells=18).read_text()
    assert "task shrunk" in text.splitlines()[0]


def test_figure_report_writes_png_and_numbers(tmp_path):
    spec = load_spec("memorization")
    results = [result("memorization", d, m, s, {"test_with_globals": 0.1 * (i + 1), "test_without_globals": 0.01},
                      x=float(d[1:]))
               for i, m in enumerate(["hyena-tiny", "gpt2-tiny", "thex-tiny-4", "thex-tiny-5"])
               for d in ("g100", "g500", "g1000") for s in range(3)]
    rows = build_table(results).to_pylist()
    path = write_report(spec, "tiny", rows, tmp_path, seeds=3, expected_cells=36)
    text = path.read_text()
    for png in ("memorization-fig1.png", "memorization-fig2.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in text
    assert "no numbers in our text copy" in text
    assert "| THEX-13 beats Hyena on average over global counts (Figure 1) | fig1 | yes |" in text


def test_summary_lists_claims_with_verdicts(tmp_path):
    spec = load_spec("thex-lola")
    from lolameme.experiments.results import write_table

    (tmp_path / "tiny").mkdir()
    write_table(build_table([result("thex-lola", "base", "hyena-tiny", 0, {"test_with_globals": 0.2,
                                                                              "test_without_globals": 0.0}),
                             result("thex-lola", "base", "gpt2-tiny", 0, {"test_with_globals": 0.1,
                                                                             "test_without_globals": 0.0})]),
                tmp_path / "tiny" / "thex-lola.results.parquet")
    text = write_summary(tmp_path).read_text()
    assert "[thex-lola](tiny/thex-lola.md)" in text
    assert "| Hyena beats GPT-2 with globals | **yes** |" in text
    assert "| GPT-2 is worst on LoLa with globals | **undecided (missing cells)** |" in text
    assert len(spec.claims) == text.count("[thex-lola](tiny/thex-lola.md)")


def test_models_at_the_floor_give_no_signal_not_a_verdict():
    spec = load_spec("thex-lola")
    mapping = model_mapping(spec.models, "tiny")
    rows = [dict(r, exact_match=0.02 if r["model"] == "hyena-tiny" else 0.01) for r in thex_lola_rows()]
    claim = next(c for c in spec.claims if c.text == "Hyena beats GPT-2 with globals")
    verdict = check(claim, target_scores(spec, mapping, rows, "With Global"), mapping)  # both below 0.0255
    assert verdict.floor and verdict.holds is None and verdict.word.startswith("no signal")
    # 0.03 is above the majority answer (0.0255) but within sampling noise on 3 x 100 rows (+0.018)
    rows = [dict(r, exact_match=0.03) if r["model"] == "hyena-tiny" else r for r in rows]
    verdict = check(claim, target_scores(spec, mapping, rows, "With Global"), mapping)
    assert verdict.floor and verdict.holds is None
    rows = [dict(r, exact_match=0.06) if r["model"] == "hyena-tiny" else r for r in rows]
    verdict = check(claim, target_scores(spec, mapping, rows, "With Global"), mapping)
    assert not verdict.floor and verdict.holds is True


def test_floor_noise_is_two_binomial_standard_errors():
    from lolameme.experiments.claims import floor_noise

    assert floor_noise(0.044, 1500) == pytest.approx(2 * (0.044 * 0.956 / 1500) ** 0.5)
    assert floor_noise(0.0, 100) == pytest.approx(2 * (0.01 * 0.99 / 100) ** 0.5)  # never a zero-width band
    assert floor_noise(None, 100) == 0.0


def test_report_says_when_nothing_was_learned(tmp_path):
    spec = load_spec("thex-lola")
    rows = [dict(r, exact_match=0.02) for r in thex_lola_rows()]
    text = write_report(spec, "tiny", rows, tmp_path, seeds=3, expected_cells=15).read_text()
    assert "**No signal at this scale:**" in text
    text = write_report(spec, "tiny", thex_lola_rows(), tmp_path, seeds=3, expected_cells=15).read_text()
    assert "**Signal** (models above the majority answer by more than sampling noise): With Global: THEX-12" in text
