"""End to end: an LLMatic search on torch-code with the CPU default recipe, once with the warm sandbox
and once with the cold one, the same seed and the same answers (a scripted designer that makes a
seeded shape-preserving edit of the first network in its prompt, so equal prompts get equal
answers; the trainings are deterministic, so both searches see the same prompts).

    python bench/warm_search.py [--budget 30] [--seed 0] [--dataset mnist] [--json]

Prints the wall seconds of each search (the warm one includes starting its zygote), the ratio,
the sandboxed jobs each ran (trainings and the tiny measuring jobs LLMatic's descriptors need)
and their seconds, and whether both evaluated the same networks with the same accuracies.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("ARCHAGENTS_MEMORY_WRITE", "false")

from agents.structured import Asker  # noqa: E402
from graphs.run import execute, prepare  # noqa: E402
from memory.runs import RunDir  # noqa: E402
from settings import load_settings  # noqa: E402
from spaces.torch_code import TorchCodeSpace  # noqa: E402
from tests.fakes import Scripted  # noqa: E402

CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
SPACE = TorchCodeSpace()


def edit(messages) -> str:
    """The designer's answer: a seeded edit of the first network the prompt shows."""
    prompt = str(messages[-1].content)
    return "```python\n" + SPACE.mutate(CODE_BLOCK.search(prompt).group(1), random.Random(prompt)) + "```"


def search(root: Path, sandbox: str, budget: int, seed: int, dataset: str) -> dict:
    settings = prepare(load_settings(runs_dir=root / sandbox, graph="llmatic", space="torch-code", dataset=dataset,
                                     seed=seed, budget=budget, training={"sandbox": sandbox}))
    run = RunDir.create(settings)
    designer = Asker(role="designer", label="scripted", model=Scripted(answers=[edit]))
    started = time.perf_counter()
    result = execute(run, {"designer": designer})
    seconds = time.perf_counter() - started
    evaluated = [(e.data["canonical"], e.data["val_acc"]) for e in run.journal().events() if e.kind == "evaluation"]
    reports = [json.loads(p.read_text()) for p in (run.path / "sandbox").glob("*/report.json")]
    return {"seconds": round(seconds, 1), "evaluations": result["evaluations"], "evaluated": evaluated,
            "sandbox_jobs": len(reports), "sandbox_seconds": round(sum(r["sandbox_seconds"] or 0.0 for r in reports), 1),
            "best_val_acc": result["best"]["val_acc"] if result.get("best") else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--json", action="store_true", help="one line of JSON")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="archagents-warm-search-"))
    out: dict = {"cores": os.cpu_count(), "budget": args.budget, "seed": args.seed, "dataset": args.dataset,
                 "load_avg_start": [round(x, 2) for x in os.getloadavg()]}
    runs = {}
    for sandbox in ("warm", "cold"):  # warm first: its time includes starting the executor's zygote
        runs[sandbox] = search(root, sandbox, args.budget, args.seed, args.dataset)
        out[f"load_avg_after_{sandbox}"] = [round(x, 2) for x in os.getloadavg()]
    for sandbox, found in runs.items():
        out.update({f"{sandbox}_{k}": v for k, v in found.items() if k != "evaluated"})
    out["ratio_cold_over_warm"] = round(runs["cold"]["seconds"] / runs["warm"]["seconds"], 2)
    out["same_networks_and_accuracies"] = runs["warm"]["evaluated"] == runs["cold"]["evaluated"]
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
