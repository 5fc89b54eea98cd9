"""How many of 10 factual questions about a run the Inspector answers correctly.

    python bench/inspector_qa.py RUN_ID [--runs-dir runs] [--model inspector=PROVIDER:MODEL]

The expected answers are computed from the run's own files (result.json, events.jsonl), not
written by hand, so the bench works on any finished GENIUS run.  A verdict is "correct" when
the answer contains the expected value (a number as printed in the log, an architecture
string, a step) and, for the question whose answer is absent from the log, when the
Inspector says "not in the log".  Prints every question, expected value, answer, cited steps
and verdict, then the score.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def questions(run) -> list[tuple[str, list[str] | None]]:
    """(question, accepted answers; None = the log does not contain it)."""
    result = run.result()
    events = list(run.journal().events())
    evals = [e for e in events if e.kind == "evaluation" and e.data.get("val_acc") is not None]
    best, worst = result["best"], min(evals, key=lambda e: e.data["val_acc"])
    rejected = sum(e.kind == "critic" and not e.data.get("accept") for e in events)
    fallbacks = [e.step for e in events if e.kind == "fallback"]
    tokens = sum((e.tokens_in or 0) + (e.tokens_out or 0) for e in events if e.kind == "answer" and e.role == "designer")
    return [
        ("What was the best validation accuracy in this run?", [f"{best['val_acc']:.2f}"]),
        ("Which architecture was the best?", [best["arch"]]),
        ("At which step was the best architecture found?", [str(best["step"])]),
        ("How many architectures were evaluated?", [str(result["evaluations"])]),
        ("How many proposals did the critic reject?", [str(rejected)] + (["no", "none"] if rejected == 0 else [])),
        ("Was a fallback mutation used? At which step?",
         [str(s) for s in fallbacks] if fallbacks else ["no", "not used", "none"]),
        ("What was the lowest validation accuracy of an evaluated architecture?", [f"{worst.data['val_acc']:.2f}"]),
        ("How many tokens did the designer use in total?", [str(tokens), f"{tokens:,}"]),
        ("What was the test accuracy of the best architecture?", [f"{best['test_acc']:.2f}"]),
        ("What learning rate schedule did the run use?", None),
    ]


def correct(reply, expected: list[str] | None) -> bool:
    if expected is None:
        return not reply.found
    text = reply.answer.lower()
    # the value as a whole token: "21" in "step 21", not in "2023-01-21" or "9.21"
    return reply.found and any(re.search(rf"(?<![\w.:-]){re.escape(x.lower())}(?![\w:-]|\.\d)", text)
                               for x in expected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_id")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--model", action="append", default=[], help="inspector=PROVIDER:MODEL")
    args = parser.parse_args()

    from agents.inspector import Inspector
    from memory.runs import RunDir
    from settings import load_settings

    run = RunDir.open(args.runs_dir, args.run_id)
    settings = load_settings(None, args.model)
    inspector = Inspector.for_run(run, settings)
    score, started = 0, time.perf_counter()
    for i, (question, expected) in enumerate(questions(run), 1):
        reply = inspector.ask(question)
        ok = correct(reply, expected)
        score += ok
        print(f"{i:2}. Q: {question}\n    expected: {expected or 'not in the log'}\n    A: {reply.answer}"
              f"  (steps {reply.cited_steps}, found={reply.found})\n    verdict: {'correct' if ok else 'WRONG'}")
    print(f"score: {score}/10 with {settings.models.inspector.label()} "
          f"({time.perf_counter() - started:.1f} s for 10 questions)")


if __name__ == "__main__":
    main()
