"""The papers' own figures, to print beside ours, and the presets that reproduce each protocol.

Figures are the papers' numbers as printed (seed files in ../shared/seeds/), with where they
come from.  They are not all measured the same way as ours; `note` says how they differ.
"""

from __future__ import annotations

from pydantic import BaseModel


class Figure(BaseModel):
    mean: float
    std: float | None = None
    evaluations: str = ""  # the paper's budget, as it states it
    source: str
    note: str = ""
    knowledge: str = "none"  # what the paper's search knew besides its own evaluations: none, or transfer


# (space, dataset, graph) -> the paper's figure for that graph on that task.
FIGURES: dict[tuple[str, str, str], Figure] = {
    # GENIUS, seed 002 Table 1 (GPT-4, temperature 0, 5 trials, 10 iterations): test accuracy.
    ("nb201", "cifar10", "genius"): Figure(mean=93.79, std=0.09, evaluations="10", source="GENIUS Table 1"),
    ("nb201", "cifar100", "genius"): Figure(mean=70.91, std=0.72, evaluations="10", source="GENIUS Table 1"),
    ("nb201", "imagenet16", "genius"): Figure(mean=44.96, std=1.02, evaluations="10", source="GENIUS Table 1"),
    # GENIUS appendix Tables 8-10 (temperature 0, 10 iterations): best of each trial, averaged by us.
    ("nas-bench-macro", "cifar10", "genius"): Figure(mean=92.93, std=0.09, evaluations="10",
                                                     source="GENIUS Table 8 (3 trials: 93.05, 92.92, 92.83)"),
    ("channel-resnet", "cifar10", "genius"): Figure(mean=93.78, std=0.03, evaluations="10",
                                                    source="GENIUS Table 9 (3 trials: 93.76, 93.82, 93.75)"),
    ("channel-mobilenet", "cifar10", "genius"): Figure(mean=91.76, std=0.0, evaluations="10",
                                                       source="GENIUS Table 10 (3 trials: 91.76 each)"),
    # LLMatic, seed 001 Table 1 (2,000 networks: 20 generations of 100); its random search row is NB201's.
    ("nb201", "cifar10", "llmatic"): Figure(mean=94.26, std=0.13, evaluations="2,000", source="LLMatic Table 1"),
    ("nb201", "cifar100", "llmatic"): Figure(mean=71.62, std=1.73, evaluations="2,000", source="LLMatic Table 1"),
    ("nb201", "imagenet16", "llmatic"): Figure(mean=45.87, std=0.96, evaluations="2,000", source="LLMatic Table 1"),
    ("nb201", "cifar10", "random"): Figure(mean=93.70, std=0.36, evaluations="NB201 protocol", source="LLMatic Table 1",
                                          note="NB201's random search, a time budget, not 10 evaluations"),
    ("nb201", "cifar100", "random"): Figure(mean=71.04, std=1.07, evaluations="NB201 protocol", source="LLMatic Table 1",
                                           note="NB201's random search, a time budget"),
    ("nb201", "imagenet16", "random"): Figure(mean=44.57, std=1.25, evaluations="NB201 protocol",
                                             source="LLMatic Table 1", note="NB201's random search, a time budget"),
    # LAPT, seed 003 Table 2 (GPT-4, 20 runs; "Archs." = architectures trained until the top 0.1%).
    ("nb201", "cifar10", "lapt"): Figure(mean=94.36, evaluations="4.9 to the top 0.1%", source="LAPT Table 2",
                                         knowledge="transfer"),
    ("nb201", "cifar100", "lapt"): Figure(mean=73.45, evaluations="8.6 to the top 0.1%", source="LAPT Table 2",
                                          knowledge="transfer"),
    ("nb201", "cifar10", "rea"): Figure(mean=93.92, evaluations=">500", source="LAPT Table 2"),
    ("nb201", "cifar100", "rea"): Figure(mean=71.84, evaluations=">500", source="LAPT Table 2"),
    # LAPT Table 3 (50 architectures, 25 runs).  Our table's metrics are NASLib's (negative loss, SSIM in
    # 0-1, pixel accuracy for segmentation): only the classification tasks compare directly.
    ("transnas101", "class_object", "lapt"): Figure(mean=45.96, evaluations="50", source="LAPT Table 3",
                                                    knowledge="transfer"),
    ("transnas101", "class_scene", "lapt"): Figure(mean=54.89, evaluations="50", source="LAPT Table 3",
                                                   knowledge="transfer"),
    ("transnas101", "class_object", "rea"): Figure(mean=45.39, evaluations="50", source="LAPT Table 3"),
    ("transnas101", "class_scene", "rea"): Figure(mean=54.62, evaluations="50", source="LAPT Table 3"),
}

# The optimum each paper quotes where it differs from our table's (LLMatic's "Optimal" row).
QUOTED_OPTIMUM = {("nb201", "cifar10"): 94.47, ("nb201", "cifar100"): 74.17, ("nb201", "imagenet16"): 47.33}

BASELINE_GRAPHS = ["random", "rea", "local", "random+flops"]

# Each paper's protocol: graphs, space, tasks, budget and seeds as the paper ran them (plus the
# baselines at the same budget).
PRESETS: dict[str, dict] = {
    "genius-nb201": {"graphs": ["genius", *BASELINE_GRAPHS], "space": "nb201",
                     "datasets": ["cifar10", "cifar100", "imagenet16"], "budgets": [10], "seeds": 10, "llm_seeds": 5},
    "genius-macro": {"graphs": ["genius", *BASELINE_GRAPHS], "space": "nas-bench-macro", "datasets": ["cifar10"],
                     "budgets": [10], "seeds": 10, "llm_seeds": 3},
    "genius-channel-resnet": {"graphs": ["genius", *BASELINE_GRAPHS], "space": "channel-resnet",
                              "datasets": ["cifar10"], "budgets": [10], "seeds": 10, "llm_seeds": 3},
    "genius-channel-mobilenet": {"graphs": ["genius", *BASELINE_GRAPHS], "space": "channel-mobilenet",
                                 "datasets": ["cifar10"], "budgets": [10], "seeds": 10, "llm_seeds": 3},
    "llmatic-nb201": {"graphs": ["llmatic", *BASELINE_GRAPHS], "space": "nb201",
                      "datasets": ["cifar10", "cifar100", "imagenet16"], "budgets": [2010], "seeds": 10,
                      "llm_seeds": 10, "settings": {"llmatic": {"generations": 20, "batch": 100, "initial": 10}}},
    # GENIUS's ImageNet protocol at CPU scale (seed 002, section 5): the bound [270, 330] MFLOPs, every
    # evaluation a real training (the space's CPU recipe) on the offline digits; 3 seeds each; GENIUS's
    # no-model twin (the knowledge-free evidence Critic and its contained search alone) beside it.
    "genius-mobilenetv2-digits": {"graphs": ["genius", "random", "rea", "random+flops"], "space": "mobilenetv2",
                                  "datasets": ["digits"], "budgets": [10], "seeds": 3, "llm_seeds": 3,
                                  "ablate_model": True, "settings": {"min_flops_m": 270, "max_flops_m": 330}},
    "lapt-nb201": {"graphs": ["lapt", "prior", *BASELINE_GRAPHS], "space": "nb201", "datasets": ["cifar10", "cifar100"],
                   "budgets": [20], "seeds": 20, "llm_seeds": 20},
    # LAPT's DARTS protocol (Table 1) at the CPU default: LAPT's 420 evaluations through the supernet
    # (20 + 2 rounds x 10 generations x 20), REA and random search at the same number.
    "lapt-darts-digits": {"graphs": ["lapt", "rea", "random"], "space": "darts", "datasets": ["digits"],
                          "budgets": [420], "seeds": 3, "llm_seeds": 3},
    "lapt-transnas101": {"graphs": ["lapt", "prior", *BASELINE_GRAPHS], "space": "transnas101",
                         "datasets": ["class_object", "class_scene", "room_layout", "autoencoder", "normal",
                                      "segmentsemantic"], "budgets": [50], "seeds": 25, "llm_seeds": 25},
}
