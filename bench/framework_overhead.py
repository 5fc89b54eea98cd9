"""What the framework costs per evaluation, measured against a bare loop in the same run.

    python bench/framework_overhead.py [--json] [--sizes 100,1000] [--smoke]

For each size N (default 100 and 1,000 evaluations): the no-LLM random graph, GENIUS with a
zero-latency scripted designer (edits, one call per round) and LLMatic with a zero-latency
scripted designer (structured edits), each with checkpoints, the history file and the journal,
against a bare loop that samples and looks up N NB201 cells.  GENIUS's Critic ranks by FLOPs here
(a table lookup): the default synflow costs ~0.1 s of CPU a candidate, which is evidence, not
framework.  Prints milliseconds per evaluation, wall and the process's CPU time (and, with --json,
one JSON line), so a step cost that grows with the history shows as a rising figure from N = 100
to N = 1,000 (the goal: under 5 ms per evaluation for random and GENIUS at 1,000, within 20% of the
figure at 100).  On a machine other work shares, the CPU figures are the framework's own.
"""

from __future__ import annotations

import argparse
import json
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


GRAPHS = {"random": {"graph": "random"},
          "genius": {"graph": "genius", "designer_every": 1, "evidence": ["flops"]},
          "llmatic": {"graph": "llmatic", "llmatic": {"batch": 100, "answer": "edit"}, "evidence": ["flops"]}}


def timed_run(root: Path, budget: int, **settings) -> tuple[float, float]:
    """(wall, CPU) milliseconds per evaluation of one whole run.  The process's CPU time is what the
    framework costs on a machine shared with other work (wall time is also the other processes')."""
    run = RunDir.create(prepare(load_settings(runs_dir=root, budget=budget, **settings)))
    askers = {"designer": Asker(role="designer", label="scripted", model=Scripted(answers=[designer_answer]))}
    wall, cpu = time.perf_counter(), time.process_time()
    result = execute(run, askers if settings["graph"] != "random" else {})
    n = result["evaluations"]
    return 1000 * (time.perf_counter() - wall) / n, 1000 * (time.process_time() - cpu) / n


def bare_loop(n: int) -> tuple[float, float]:
    """Sample new cells and look them up, the work every search does without the framework: (wall, CPU) ms each."""
    import spaces

    space, rng, seen = spaces.get("nb201"), random.Random(0), set()
    wall, cpu = time.perf_counter(), time.process_time()
    while len(seen) < n:
        arch = space.sample_random(rng)
        if arch not in seen:
            seen.add(arch)
            space.evaluate(arch, "cifar10")
    return 1000 * (time.perf_counter() - wall) / n, 1000 * (time.process_time() - cpu) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000", help="evaluations per run, comma-separated")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (a test runs them)")
    args = parser.parse_args()
    sizes = [5, 10] if args.smoke else [int(s) for s in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="archagents-overhead-"))
    bare_loop(10)  # tables loaded, stack imported, before anything is timed
    timed_run(root, 3, **GRAPHS["genius"])
    out: dict = {"load": round(os.getloadavg()[0], 2), "sizes": sizes, "ms_per_evaluation": {},
                 "cpu_ms_per_evaluation": {}}
    for n in sizes:
        wall, cpu = {}, {}
        wall["bare"], cpu["bare"] = bare_loop(n)
        for name, settings in GRAPHS.items():
            wall[name], cpu[name] = timed_run(root, n, **settings)
        out["ms_per_evaluation"][n] = {k: round(v, 3) for k, v in wall.items()}
        out["cpu_ms_per_evaluation"][n] = {k: round(v, 3) for k, v in cpu.items()}
    big, small = sizes[-1], sizes[0]
    cpu_figures = out["cpu_ms_per_evaluation"]
    out["growth"] = {name: round(cpu_figures[big][name] / cpu_figures[small][name], 3)
                     for name in GRAPHS}  # CPU figure at the largest size over the smallest: 1.0 is flat
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if args.json:
        print(json.dumps(out))
        return
    for n, figures in out["ms_per_evaluation"].items():
        print(f"{n} evaluations, ms per evaluation (wall / CPU): " + ", ".join(
            f"{k} {v:.3f} / {cpu_figures[n][k]:.3f}" for k, v in figures.items()))
    print("CPU growth from {} to {}: ".format(small, big) + ", ".join(f"{k} {v:.2f}x" for k, v in out["growth"].items())
          + f"; load {out['load']}, peak RSS {out['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
