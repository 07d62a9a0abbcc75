"""The paper's own examples (appendix B and section 3.4) parse and evaluate.

The paper lists inputs and outputs as separate samples (they are not aligned),
so the expected values below are worked out by hand from the rules. Where an
example reads globals, the table is the paper's own list (appendix B.1)
completed with values chosen here.
"""

import pytest

from lolameme import LatentRules
from lolameme.lang import evaluate, parse, render, trace

PAPER_GLOBALS = {  # appendix B.1 "A sample of Global Variables"
    "tmrGk": 24, "znmani": 8, "glkpJ": 34, "pBW": 56, "yAW": 50, "yumY": 92, "qqbsV": 33,
    "mH": 26, "vDU": 98, "grKwxk": 94, "yqfG": 20, "xiQu": 4, "ybU": 36, "xvsnsOp": 81,
}
CHOSEN = {  # the other globals the examples read
    "yI": 17, "aL": 5, "dVfa": 40, "xvHMi": 9, "eTbZX": 7, "zjEy": 3, "zG": 50, "yCHe": 11,
    "dnmQTvq": 6, "wJyl": 4, "ztjz": 2, "zMig": 30, "mxMlpAi": 12, "pmxO": 8, "kgD": 9, "xqX": 1,
    "pltjL": 2, "dJVgt": 3, "kNd": 4, "mIW": 13, "yMWB": 10, "vKa": 5, "tBi": 18, "mZj": 1,
    "qhhFVb": 3, "kDN": 2, "xaQeVwz": 7, "qklUazeme": 4, "yNM": 2, "rqnDmId": 5, "wSTCa": 2,
    "ywP": 3, "pFzd": 2, "ehL": 9, "yNOkq": 33, "dCE": 7, "jvL": 3,
}
TABLE = {**PAPER_GLOBALS, **CHOSEN}

EXAMPLES = [
    # B.1 training inputs (globals)
    ("tmrGk = 24;xnbolt = 77;xnbolt = (yI % aL);oZ = (dVfa - tmrGk);xnbolt = (84 % xvHMi);print(xnbolt)", 84 % 9),
    ("fIgLd = eTbZX;xnbolt = (76 * zjEy);oZ = (zG - 45);znmani = 8;fIgLd = yCHe;print(fIgLd)", 11),
    ("lsok = (dnmQTvq + wJyl);glkpJ = 34;xnbolt = ztjz;lsok = (zMig - mxMlpAi);xYBr = (pmxO + kgD);print(lsok)", 18),
    ("lsok = xqX;fIgLd = (yAW + pltjL);xAkt = (dJVgt + kNd);pBW = 56;fIgLd = mIW;print(fIgLd)", 13),
    ("yAW = 50;pcbZAu = (eTbZX + yMWB);lsok = kNd;bHJFL = vKa;bHJFL = (ybU % mxMlpAi);print(bHJFL)", 0),
    # B.2 test inputs without globals
    ("bHJFL = (98 + 26);xYBr = bHJFL;oZ = (xYBr + bHJFL);bHJFL = (67 * 96);print(xYBr)", 124),
    ("oZ = (3 - 61);xnbolt = (75 * 62);oZ = 10;baKfrFf = (oZ * 14);print(oZ)", 10),
    ("xnbolt = 18;xYBr = (33 - xnbolt);lsok = xYBr;oZ = 41;print(lsok)", 15),
    ("xAkt = 18;xAkt = (60 + 36);baKfrFf = 83;oZ = 94;print(baKfrFf)", 83),
    ("baKfrFf = (60 - 18);lsok = baKfrFf;pcbZAu = (lsok % lsok);pcbZAu = 53;print(pcbZAu)", 53),
    # B.3 test inputs with globals
    ("pcbZAu = tBi;lsok = mZj;xYBr = (qhhFVb * vDU);baKfrFf = kDN;print(pcbZAu)", 18),
    ("fuB = (xaQeVwz % yMWB);pcbZAu = pmxO;fuB = (tBi % qklUazeme);xnbolt = znmani;print(fuB)", 2),
    ("xYBr = mxMlpAi;xYBr = mxMlpAi;oZ = (qhhFVb - yNM);bHJFL = tmrGk;print(xYBr)", 12),
    ("xYBr = (qqbsV + vDU);xAkt = (wSTCa * ywP);xAkt = 76;pcbZAu = (ybU + rqnDmId);print(pcbZAu)", 41),
    ("bHJFL = (pFzd * 91);fuB = (ehL - yNOkq);xAkt = (dCE % jvL);xnbolt = xaQeVwz;print(fuB)", -24),
]


@pytest.mark.parametrize("program, expected", EXAMPLES)
def test_paper_examples(program, expected):
    assert evaluate(program, TABLE) == expected
    tree = parse(program)
    assert render(tree, "lola") == program  # the paper's spacing is the canonical one
    assert evaluate(render(tree, "meme"), TABLE) == expected


def test_latent_rules_on_paper_examples():
    # (yI % aL) is B op A and (84 % xvHMi) has a literal: latent rules change nothing
    assert evaluate(EXAMPLES[0][0], TABLE, LatentRules()) == 84 % 9
    # (eTbZX + yMWB): e is type A, y is type B -> 7*2 + 10//2
    assert evaluate("r = (eTbZX + yMWB);print(r)", TABLE, LatentRules()) == 19
    # (ybU % mxMlpAi) is B op A: unchanged
    assert evaluate(EXAMPLES[4][0], TABLE, LatentRules()) == 0


def test_section_3_4_chain_in_mixed_form():
    # "a = 2; b = 1; c = (a/b) + X; e = c * Y; print(e);" in this project's grammar and
    # with the paper's lowercase-globals convention: x and y are globals here.
    program = "a = 2;b = 1;c = {(a % b) | xg};e = (c @ yg);print{e}"
    t = trace(program, {"xg": 3, "yg": 4})
    assert t.output == 12 and t.hops == 3 and t.n_global_reads == 2 and t.n_noise == 0
