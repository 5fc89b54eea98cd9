"""How many of LLMatic's answers become valid architectures, per space and answer form, with an
embedded model: one generation of N offspring after a few random networks.

    python bench/llmatic_parse_rate.py [--model qwen2.5-coder-0.5b] [--offspring 16] [--seeds 2] [--cases torch-code:code]

Prints, for NB201 with code answers, NB201 with structured edits and torch-code (code; each valid
answer is trained in the sandbox), the share of answers that parsed to a valid architecture, and
the reasons of the others, most frequent first.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("ARCHAGENTS_MEMORY_WRITE", "false")

from graphs.run import execute, prepare  # noqa: E402
from memory.runs import RunDir  # noqa: E402
from settings import load_settings  # noqa: E402

CASES = (("nb201", "code"), ("nb201", "edit"), ("torch-code", "code"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--offspring", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--cases", default=",".join(f"{s}:{a}" for s, a in CASES),
                        help="SPACE:ANSWER pairs, comma-separated (default: all three)")
    args = parser.parse_args()
    cases = [tuple(case.split(":")) for case in args.cases.split(",")]
    root = Path(tempfile.mkdtemp(prefix="archagents-parse-"))
    for space, answer in cases:
        parsed = total = 0
        reasons: collections.Counter = collections.Counter()
        for seed in range(args.seeds):
            settings = prepare(load_settings(
                model_flags=[f"all=embedded:{args.model}"], graph="llmatic", space=space, seed=seed, critic="rules",
                runs_dir=root / f"{space}-{answer}",
                llmatic={"generations": 1, "batch": args.offspring, "initial": 3, "answer": answer,
                         "max_concurrency": 1}))
            run = RunDir.create(settings)
            execute(run)
            llm = [e.data for e in run.journal().events() if e.kind == "offspring"
                   and e.data.get("operator") in ("mutation", "crossover", "random")]
            total += len(llm)
            parsed += sum(c.get("arch") is not None and not c["detail"].startswith(("syntax", "import_refused",
                                                                                     "refused", "build_error",
                                                                                     "shape_error"))
                          for c in llm)
            reasons.update(" ".join(c["detail"].split())[:70] for c in llm if c.get("arch") is None
                           or c["detail"].startswith(("syntax", "import_refused", "refused", "build_error", "shape")))
        print(f"{space} ({answer} answers, {args.model}): {parsed} of {total} parsed to a valid architecture "
              f"({100 * parsed / max(total, 1):.0f}%)")
        for reason, n in reasons.most_common(4):
            print(f"    {n} x {reason}")


if __name__ == "__main__":
    main()
