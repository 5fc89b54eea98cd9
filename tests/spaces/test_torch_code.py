import random
from pathlib import Path

import pytest

from errors import UserError
from settings import load_settings
from spaces import get
from spaces.torch_code import SEED_NETWORK, CodeError, TorchCodeSpace, check

SPACE = TorchCodeSpace()

HOSTILE = {
    "import os\nimport torch.nn as nn\nclass Net(nn.Module): pass": "import_refused",
    "import subprocess\nimport torch.nn as nn\nclass Net(nn.Module): pass": "import_refused",
    "import socket\nimport torch.nn as nn\nclass Net(nn.Module): pass": "import_refused",
    "from os import system\nimport torch.nn as nn\nclass Net(nn.Module): pass": "import_refused",
    "from torch import hub\nimport torch.nn as nn\nclass Net(nn.Module): pass": "import_refused",
    "import torch.nn as nn\nos = __import__('os')\nclass Net(nn.Module): pass": "refused",
    "import torch.nn as nn\nclass Net(nn.Module):\n    def forward(self, x):\n        return eval('x')": "refused",
    "import torch.nn as nn\nopen('/tmp/owned', 'w').write('x')\nclass Net(nn.Module): pass": "refused",
    "import torch.nn as nn\nf = getattr(__builtins__, 'ev' + 'al')\nclass Net(nn.Module): pass": "refused",
    "import torch.nn as nn\nx = ().__class__.__bases__[0].__subclasses__()\nclass Net(nn.Module): pass": "refused",
    "import torch\nimport torch.nn as nn\ntorch.os.system('id')\nclass Net(nn.Module): pass": "refused",
    "import torch\nimport torch.nn as nn\nw = torch.load('/etc/passwd')\nclass Net(nn.Module): pass": "refused",
    "import torch.nn as nn\nclass Net(nn.Module)\n    pass": "syntax",
    "import torch\nx = 1": "build_error",
}


@pytest.mark.parametrize("code,kind", HOSTILE.items())
def test_hostile_code_is_refused_before_it_runs(code, kind):
    with pytest.raises(CodeError) as refused:
        SPACE.validate(code)
    assert refused.value.kind == kind and str(refused.value)


def test_seed_network_is_the_papers():
    tree = check(SEED_NETWORK)
    assert "nn.Conv2d(3, 1, 1)" in SEED_NETWORK and "nn.Linear(1024, 10)" in SEED_NETWORK and tree.body


def test_canonical_merges_reformatted_duplicates():
    noisy = '"""A docstring."""\n' + SEED_NETWORK.replace("        x = torch.flatten(x, 1)\n",
                                                        "        # flatten\n\n        x = torch.flatten(x,1)\n")
    assert SPACE.canonical(noisy) == SPACE.canonical(SEED_NETWORK)
    assert SPACE.canonical(SEED_NETWORK.replace("nn.Linear(1024, 10)", "nn.Linear(1024, 10, bias=False)")) \
        != SPACE.canonical(SEED_NETWORK)


def test_from_code_reads_the_fenced_block():
    answer = f"Here is a better one:\n```python\n{SEED_NETWORK}```\nIt is better."
    assert SPACE.from_code(answer).strip() == SEED_NETWORK.strip()
    with pytest.raises(UserError):
        SPACE.from_code("I would add more layers.")


@pytest.mark.parametrize("seed", range(20))
def test_random_networks_and_their_mutations_are_valid(seed):
    rng = random.Random(seed)
    code = SPACE.sample_random(rng)
    SPACE.validate(code)
    child = SPACE.mutate(code, rng)
    SPACE.validate(child)
    assert SPACE.canonical(child) != SPACE.canonical(code)


def test_neighbours_are_single_shape_preserving_edits():
    neighbours = SPACE.neighbours(SEED_NETWORK)
    # the 1x1 conv has 'same' padding (0): kernels 3 and 5; two relus, three other activations each
    assert len(neighbours) == 2 + 2 * 3
    assert any("nn.Conv2d(3, 1, 3, padding=1)" in n for n in neighbours)
    assert any("F.gelu(self.fc1(x))" in n for n in neighbours)


def test_encode_counts_layers():
    vector = SPACE.encode(SEED_NETWORK)
    assert len(vector) == len(SPACE.encode(SPACE.sample_random(random.Random(1))))
    assert sum(vector) > 0


def test_descriptor_ranges_follow_the_settings_and_the_paper_at_paper_scale():
    assert SPACE.descriptor_ranges("mnist") == [(0.0, 8.0), (0.0, 64.0)]  # CPU-sized default
    paper = load_settings(paper_scale=True).training
    assert paper.flops_bounds_m == (200.0, 5000.0) and paper.epochs == 50  # seed 001, section 4
    assert load_settings(paper_scale=True, training={"epochs": 3}).training.epochs == 3  # a flag still wins
    space = TorchCodeSpace()
    settings = load_settings(space="torch-code", training={"flops_bounds_m": (0.001, 50)})
    space.configure(settings, Path("/tmp/unused-run"))
    assert space.descriptor_ranges("mnist")[0] == (0.001, 50.0)


def test_datasets_and_defaults(tmp_path):
    assert get("torch-code").resolve_dataset("CIFAR-10") == "cifar10"
    with pytest.raises(UserError, match="unknown dataset"):
        SPACE.resolve_dataset("imagenet16")
    assert SPACE.default_dataset(load_settings()) == "mnist"
    assert SPACE.default_dataset(load_settings(training={"cifar10": tmp_path})) == "cifar10"


def test_cifar10_without_the_archive_is_a_user_error(tmp_path):
    settings = load_settings(space="torch-code", dataset="cifar10", runs_dir=tmp_path)
    with pytest.raises(UserError, match="CIFAR-10 not found"):
        TorchCodeSpace().configure(settings, tmp_path / "run")
