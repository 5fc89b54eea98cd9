"""A small NAS-Bench-201 benchmark file in the official format, written with the package's own
classes (nas_201_api.ArchResults, ResultsCount) as the NB201 authors wrote theirs: the full list
of 15,625 arch strings in the API's index order, and results for a few cells.

Its numbers are the shipped table's where the two formats share a metric, spread over two seeds
(mean = the table's value), and different everywhere else: a reader that takes the wrong training
(cifar10 vs cifar10-valid), the wrong set, the 12-epoch schedule or one seed disagrees with the table."""

from __future__ import annotations

from pathlib import Path

from spaces.nb201 import _by_index, _table

SEEDS = (777, 888)
NAMES = {"cifar10": ("cifar10-valid", "cifar10"), "cifar100": ("cifar100",), "imagenet16": ("ImageNet16-120",)}
LATENCY_S = 0.0125


def write(path: Path, archs: list[str], numpy_numbers: bool = False) -> Path:
    import torch
    from nas_201_api import ArchResults, ResultsCount

    number = (lambda x: __import__("numpy").float64(x)) if numpy_numbers else float
    by_index = _by_index()
    infos = {}
    for arch in archs:
        row, index = _table()[arch], _table()[arch].index
        infos[index] = {"less": _results(ArchResults, ResultsCount, index, arch, row, 12, number).state_dict(),
                        "full": _results(ArchResults, ResultsCount, index, arch, row, 200, number).state_dict()}
    torch.save({"meta_archs": [by_index[i] for i in range(len(by_index))], "arch2infos": infos,
                "evaluated_indexes": sorted(infos), "total_archs": len(by_index)}, path)
    return path


def _results(ArchResults, ResultsCount, index, arch, row, epochs, number):
    results = ArchResults(index, arch)
    for dataset, names in NAMES.items():
        for name in names:
            for k, seed in enumerate(SEEDS):
                spread = 0.3 if k == 0 else -0.3  # two seeds around the table's value
                lower = 0.0 if epochs == 200 else 7.0  # 12 epochs: a worse network
                sets = {"cifar10-valid": {"x-valid": row.val[dataset], "ori-test": row.test[dataset] - 1.5},
                        "cifar10": {"ori-test": row.test[dataset]},
                        "cifar100": {"x-valid": row.val[dataset], "x-test": row.test[dataset],
                                     "ori-test": row.test[dataset] - 2.5},
                        "ImageNet16-120": {"x-valid": row.val[dataset], "x-test": row.test[dataset],
                                           "ori-test": row.test[dataset] - 2.5}}[name]
                finals = {s: v + spread - lower for s, v in sets.items()}
                result = ResultsCount(name, None, _curve(99.0 + spread - lower, epochs, number),
                                      _curve(0.05, epochs, number, falling=True), number(row.params_m[dataset]),
                                      number(row.flops_m[dataset]),
                                      {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": 10}, seed,
                                      epochs, [LATENCY_S])
                result.update_train_info(result.train_acc1es, None, result.train_losses,
                                         {e: number(1.5) for e in range(epochs)})
                result.update_eval({f"{s}@{e}": c for s, v in finals.items() for e, c in _curve(v, epochs, number).items()},
                                   {f"{s}@{e}": c for s, v in finals.items()
                                    for e, c in _curve(0.4, epochs, number, falling=True).items()},
                                   {f"{s}@{e}": number(0.2) for s in finals for e in range(epochs)})
                results.update(name, seed, result)
    return results


def _curve(final: float, epochs: int, number, falling: bool = False) -> dict:
    """Per epoch, ending at `final` (rising from a third of it, or falling to it from three times)."""
    start = 3 * final if falling else final / 3
    return {e: number(start + (final - start) * (e + 1) / epochs) for e in range(epochs)}
