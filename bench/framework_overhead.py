"""What the framework costs per evaluation, measured against a bare loop in the same run.

    python bench/framework_overhead.py [--evaluations 200] [--llmatic 2000]

(1) GENIUS with a zero-latency scripted designer, the evidence Critic, checkpoints and the journal,
    against a bare loop that samples and looks up the same number of NB201 cells: milliseconds per
    evaluation of each and the difference (the goal: under 5 ms of framework per evaluation).
(2) The no-LLM random graph the same way (the step graph without a designer).
(3) A 2,000-evaluation LLMatic run with a zero-latency scripted designer (structured edits):
    wall time and peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
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
from tests.fakes import Scripted  # noqa: E402


def designer_answer(messages) -> dict:
    """Instant answers of the right shape: layer lists first, then edits of the best parent."""
    prompt = messages[-1].content
    cell = ["nor_conv_3x3", "nor_conv_1x1", "skip_connect", "nor_conv_3x3", "avg_pool_3x3", "nor_conv_1x1"]
    if "one or two changes" in prompt:  # LLMatic's structured mutation
        return {"changes": [{"position": "node1_from_0", "op": random.choice(["nor_conv_3x3", "skip_connect"])}]}
    if "in the order" in prompt:  # LLMatic's structured combination
        return {"architecture": cell}
    if "Evaluated so far" not in prompt:
        return {"architectures": [cell] * 4, "rationale": "a start"}
    parent = int(prompt.split("Evaluated so far")[1].split("\n")[1].split(":")[0])
    edits = [{"parent": parent, "position": p, "op": "nor_conv_3x3"} for p in
             ("node1_from_0", "node2_from_0", "node3_from_1", "node3_from_2")]
    return {"edits": edits, "architecture": cell, "rationale": "more convolutions"}


def timed_run(root: Path, **settings) -> tuple[float, int]:
    run = RunDir.create(prepare(load_settings(runs_dir=root, **settings)))
    askers = {"designer": Asker(role="designer", label="scripted", model=Scripted(answers=[designer_answer]))}
    started = time.perf_counter()
    result = execute(run, askers if settings.get("graph", "genius") != "random" else {})
    return time.perf_counter() - started, result["evaluations"]


def bare_loop(n: int) -> float:
    """Sample new cells and look them up: the work every search does, without the framework."""
    import spaces

    space, rng, seen = spaces.get("nb201"), random.Random(0), set()
    started = time.perf_counter()
    while len(seen) < n:
        arch = space.sample_random(rng)
        if arch not in seen:
            seen.add(arch)
            space.evaluate(arch, "cifar10")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--llmatic", type=int, default=2000)
    args = parser.parse_args()
    n = args.evaluations
    root = Path(tempfile.mkdtemp(prefix="archagents-overhead-"))
    bare_loop(10)  # tables loaded once, before anything is timed
    bare = bare_loop(n) / n
    genius, done = timed_run(root, graph="genius", budget=n, designer_every=1)
    randomised, done_random = timed_run(root, graph="random", budget=n)
    print(f"bare loop (sample + table lookup): {1000 * bare:.3f} ms per evaluation")
    print(f"genius, scripted designer, evidence Critic: {1000 * genius / done:.2f} ms per evaluation "
          f"({done} evaluations); framework {1000 * (genius / done - bare):.2f} ms per evaluation, "
          f"ratio {genius / done / bare:.0f}x the bare loop")
    print(f"random graph: {1000 * randomised / done_random:.2f} ms per evaluation; framework "
          f"{1000 * (randomised / done_random - bare):.2f} ms per evaluation")
    started = time.perf_counter()
    wall, done = timed_run(root, graph="llmatic", budget=args.llmatic, llmatic={"batch": 100, "answer": "edit"})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"llmatic, {done} evaluations, scripted designer: {wall:.1f} s wall ({1000 * wall / done:.1f} ms per "
          f"evaluation), peak resident memory of the process {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
