"""End to end: an LLMatic search on torch-code with the CPU default recipe, once with the warm sandbox
and once with the cold one, the same seed and the same answers (a scripted designer that makes a
seeded shape-preserving edit of the first network in its prompt, so equal prompts get equal
answers; the trainings are deterministic, so both searches see the same prompts).

    python bench/warm_search.py [--budget 30] [--seed 0] [--dataset mnist] [--rounds 1] [--json]

Each search runs in a fresh process (its imports, and the warm one's zygote start, included);
rounds alternate the order (warm, cold; cold, warm; ...) so a drift in the machine's load hits
both.  Prints each search's seconds (execute() and the whole process), the ratio of the medians,
the sandboxed jobs (trainings and the tiny measuring jobs LLMatic's descriptors need), the
seconds spent training, and whether every search evaluated the same networks with the same
accuracies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
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
    settings = prepare(load_settings(runs_dir=root, graph="llmatic", space="torch-code", dataset=dataset,
                                     seed=seed, budget=budget, training={"sandbox": sandbox}))
    run = RunDir.create(settings)
    designer = Asker(role="designer", label="scripted", model=Scripted(answers=[edit]))
    started = time.perf_counter()
    result = execute(run, {"designer": designer})
    seconds = time.perf_counter() - started
    evaluated = [(e.data["canonical"], e.data["val_acc"]) for e in run.journal().events() if e.kind == "evaluation"]
    reports = [json.loads(p.read_text()) for p in (run.path / "sandbox").glob("*/report.json")]
    return {"sandbox": sandbox, "seconds": round(seconds, 1), "evaluations": result["evaluations"],
            "sandbox_jobs": len(reports), "sandbox_seconds": round(sum(r["sandbox_seconds"] or 0.0 for r in reports), 1),
            "train_seconds": round(sum(r["train_seconds"] or 0.0 for r in reports), 1),
            "evaluated": hashlib.sha256(json.dumps(evaluated).encode()).hexdigest()[:16],
            "load_avg": [round(x, 2) for x in os.getloadavg()]}


def one_process(sandbox: str, args) -> dict:
    """A search in a fresh process, as a user runs one: its imports and its zygote's start included."""
    command = [sys.executable, __file__, "--sandbox", sandbox, "--budget", str(args.budget), "--seed", str(args.seed),
               "--dataset", args.dataset]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "process_seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--rounds", type=int, default=1, help="warm, cold; then cold, warm; ... (drifts in load cancel)")
    parser.add_argument("--json", action="store_true", help="one line of JSON")
    parser.add_argument("--sandbox", choices=("warm", "cold"), help="one search in this process (what each round runs)")
    args = parser.parse_args()
    if args.sandbox:
        print(json.dumps(search(Path(tempfile.mkdtemp(prefix="archagents-warm-search-")), args.sandbox, args.budget,
                                args.seed, args.dataset)))
        return
    out: dict = {"cores": os.cpu_count(), "budget": args.budget, "seed": args.seed, "dataset": args.dataset,
                 "load_avg_start": [round(x, 2) for x in os.getloadavg()]}
    order = [s for r in range(args.rounds) for s in (("warm", "cold") if r % 2 == 0 else ("cold", "warm"))]
    runs = [one_process(sandbox, args) for sandbox in order]
    for sandbox in ("warm", "cold"):
        mine = [r for r in runs if r["sandbox"] == sandbox]
        out[f"{sandbox}_seconds"] = [r["seconds"] for r in mine]
        out[f"{sandbox}_process_seconds"] = [r["process_seconds"] for r in mine]
        out[f"{sandbox}_sandbox_jobs"] = mine[0]["sandbox_jobs"]
        out[f"{sandbox}_train_seconds"] = [r["train_seconds"] for r in mine]
        out[f"{sandbox}_load_avg_after"] = [r["load_avg"] for r in mine]
    out["ratio_cold_over_warm"] = round(statistics.median(out["cold_seconds"]) / statistics.median(out["warm_seconds"]), 2)
    out["same_networks_and_accuracies"] = len({r["evaluated"] for r in runs}) == 1
    out["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
