"""The Markdown plan of a real change (a pull request to the churn spec), pinned byte for byte.

Regenerate after an intended change, then review the diff:
    python tests/plan/test_plan_golden.py --regen
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from plan_fixtures import fixture_text

GOLDEN = {fmt: os.path.join(HERE, "golden", f"churn-pr.{ext}") for fmt, ext in
          (("markdown", "md"), ("text", "txt"), ("json", "json"))}

# A realistic pull request: tune training, tighten the gate, move faster in production,
# retune drift, raise the budget, and drop a slice.
EDITS = [
    ("lr: 0.001, epochs: 20", "lr: 0.0005, epochs: 30"),
    ("f1: {min: 0.70}", "f1: {min: 0.72}"),
    ("  slices: [plan]\n", ""),
    ("steps: [5, 25, 50, 100]", "steps: [10, 50, 100]"),
    ("threshold: 0.2", "threshold: 0.15"),
    ("budget_monthly_usd: 8000", "budget_monthly_usd: 9000"),
]


def make_plan():
    from mlopsc import targets
    from mlopsc.plan import build_plan

    only = {"fake": "fake_target:FakeTarget"}
    saved = targets.BUILTIN, targets.registered
    targets.BUILTIN, targets.registered = only, lambda: only
    try:
        base = fixture_text("churn.yaml")
        new = base
        for old, repl in EDITS:
            assert new.count(old) == 1
            new = new.replace(old, repl)
        return build_plan(new.encode(), "specs/churn.yaml", base.encode(), "specs/churn.yaml@1a2b3c4",
                          "main (merge base 1a2b3c4)", targets.names())
    finally:
        targets.BUILTIN, targets.registered = saved


def rendered() -> dict[str, str]:
    from mlopsc.plan.render import render

    plan = make_plan()
    return {fmt: render(plan, fmt) for fmt in GOLDEN}


def test_plan_matches_golden():
    for fmt, text in rendered().items():
        with open(GOLDEN[fmt], "rb") as fh:
            expected = fh.read()
        assert text.encode("utf-8") == expected, f"{GOLDEN[fmt]} differs; run python tests/plan/test_plan_golden.py --regen"


def test_markdown_is_a_pr_comment():
    text = rendered()["markdown"]
    assert text.startswith("<!-- mlopsc-plan -->\n")
    assert len(text) < 65536  # GitHub's comment limit
    assert text.count("<details>") == text.count("</details>")
    assert text.count("```") % 2 == 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--regen"]:
        sys.exit("usage: python tests/plan/test_plan_golden.py --regen")
    for fmt, text in rendered().items():
        with open(GOLDEN[fmt], "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        print(f"wrote {os.path.relpath(GOLDEN[fmt])}")
