"""How many factual questions about recorded runs the Inspector answers correctly.

    python bench/inspector_qa.py [--model inspector=PROVIDER:MODEL]              # the frozen set
    python bench/inspector_qa.py --set paraphrases                              # its held-out wordings
    python bench/inspector_qa.py RUN_ID [--runs-dir runs] [--model ...]         # any finished run

The frozen set (tests/data/inspector/questions.json) has 35 questions over three recorded runs
(GENIUS, LLMatic, LAPT) with answers read from their files once and frozen; CI runs it with a
scripted model and with the embedded one (tests/agents/test_inspector_regression.py).  For any
other run, the expected answers are computed from its own files (result.json, events.jsonl).

A verdict is right when the reply is found and quotes every expected value as a whole token
(numbers as journaled, architecture strings, "step 7"), cites every expected step with the first
cited step among them, or, for a question the log cannot answer, says "not in the log".  Prints
every question, the query used and who chose it, the answer, the cited steps and the verdict, then
the score.  The Inspector's own calls go to a temporary journal: the runs are only read.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FROZEN = Path(__file__).resolve().parent.parent / "tests" / "data" / "inspector"


class Item(BaseModel):
    """One question and what a right answer holds."""

    id: str
    run: str
    question: str
    expect: list[str] = []
    cites: list[int] = []
    absent: bool = False
    query: str | None = None


class Verdict(BaseModel):
    item: Item
    reply: dict
    right: bool


def load_set(name: str = "questions", folder: Path = FROZEN) -> list[Item]:
    """The frozen `questions` (CI, both models) or `paraphrases` (held-out wordings of the router's keywords)."""
    return [Item.model_validate(q) for q in json.loads((folder / "questions.json").read_text())[name]]


def quotes(text: str, value: str) -> bool:
    """`value` in `text` as a whole token: "7" in "step 7", not in "17", "9.7" or "7.5"."""
    return re.search(rf"(?<![\w.]){re.escape(value)}(?![\w]|\.\d)", text, re.I) is not None


def right(item: Item, reply) -> bool:
    if item.absent:
        return not reply.found
    if not reply.found or not all(quotes(reply.answer, x) for x in item.expect):
        return False
    return not item.cites or (set(item.cites) <= set(reply.cited_steps) and reply.cited_steps[0] in item.cites)


def questions(run) -> list[Item]:
    """Questions over any finished run, their answers computed from its files."""
    result = run.result() or {}
    events = list(run.journal().events())
    evals = [e for e in events if e.kind == "evaluation" and e.data.get("val_acc") is not None]
    if not result.get("best") or not evals:
        raise SystemExit(f"{run.id} has no result.json with a best architecture: nothing to ask")
    best, worst = result["best"], min(evals, key=lambda e: e.data["val_acc"])
    step = next(e.step for e in evals if e.data["arch"] == best["arch"])
    rejected = sum(e.kind == "critic" and not e.data.get("accept") for e in events)
    fallbacks = [str(e.step) for e in events if e.kind == "fallback"]
    tokens = {}
    for e in events:
        if e.kind == "answer":
            tokens[e.role] = tokens.get(e.role, 0) + (e.tokens_in or 0) + (e.tokens_out or 0)
    role, used = max(tokens.items(), key=lambda kv: kv[1], default=("designer", 0))
    unit = "generation" if result.get("graph") == "llmatic" else "step"
    rows = [
        ("Which architecture was best and what was its validation accuracy?", [best["arch"], str(best["val_acc"])]),
        (f"At which {unit} was the best architecture found?", [f"{unit} {step}"]),
        ("How many architectures were evaluated?", [str(len([e for e in events if e.kind == "evaluation"]))]),
        ("How many proposals did the critic reject?", [str(rejected)]),
        ("How many fallback mutations were used, and at which steps?", [str(len(fallbacks))] + fallbacks),
        ("What was the lowest validation accuracy of an evaluated architecture?", [str(worst.data["val_acc"])]),
        (f"How many tokens did the {role} use in total?", [str(used)]),
        ("What was the test accuracy of the best architecture?", [str(best.get("test_acc"))]),
    ]
    items = [Item(id=f"q{i:02}", run=run.id, question=q, expect=x) for i, (q, x) in enumerate(rows, 1)]
    return items + [Item(id="q09", run=run.id, question="What learning rate schedule did the run use?", absent=True)]


def inspector_for(run, settings, journal_dir: Path):
    """The Inspector of `settings` over `run`, journaling its calls in `journal_dir`."""
    from agents.inspector import Inspector
    from agents.llm import asker_for
    from agents.providers import provider
    from memory.journal import Journal
    from tools.inspect_run import RunLog

    spec = settings.models.for_role("inspector")
    return Inspector(asker_for("inspector", settings), RunLog(run), Journal(journal_dir / f"{run.id}.inspector.jsonl"),
                     tool_calling=provider(spec.provider).tool_calling)


def run_set(items: list[Item], inspector: Callable[[str], object], out=None) -> list[Verdict]:
    """Ask every question of `items` (`inspector(run_name)` gives the Inspector of a run)."""
    verdicts = []
    for item in items:
        reply = inspector(item.run).ask(item.question)
        verdict = Verdict(item=item, reply=reply.model_dump(exclude={"evidence"}), right=right(item, reply))
        verdicts.append(verdict)
        if out is not None:
            expected = "not in the log" if item.absent else item.expect + [f"cites {item.cites}"] * bool(item.cites)
            print(f"{item.id} Q: {item.question}\n    expected: {expected}\n    query: {reply.query or '-'} "
                  f"(chosen by {reply.chosen_by}, phrased by {reply.phrased_by})\n    A: {reply.answer}"
                  f"  (steps {reply.cited_steps}, found={reply.found})\n    verdict: "
                  f"{'right' if verdict.right else 'WRONG'}", file=out, flush=True)
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_id", nargs="?", help="a finished run (default: the frozen set)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--model", action="append", default=[], help="inspector=PROVIDER:MODEL")
    parser.add_argument("--set", default="questions", choices=("questions", "paraphrases"), help="frozen list to ask")
    args = parser.parse_args()

    from memory.runs import RunDir
    from settings import load_settings

    settings = load_settings(None, args.model)
    if args.run_id:
        runs = {args.run_id: RunDir.open(args.runs_dir, args.run_id)}
        items = questions(runs[args.run_id])
    else:
        items = load_set(args.set)
        runs = {name: RunDir(FROZEN / name) for name in dict.fromkeys(i.run for i in items)}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as journals:
        inspectors = {name: inspector_for(run, settings, Path(journals)) for name, run in runs.items()}
        verdicts = run_set(items, inspectors.__getitem__, out=sys.stdout)
    score = sum(v.right for v in verdicts)
    print(f"score: {score}/{len(verdicts)} with {settings.models.inspector.label()} "
          f"({time.perf_counter() - started:.1f} s for {len(verdicts)} questions); wrong: "
          + (", ".join(v.item.id for v in verdicts if not v.right) or "none"))


if __name__ == "__main__":
    main()
