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


MISFIT = '''import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.fc1 = nn.Linear(16 * 8 * 8, 32)  # one pooling, not two: 16x16x16 features arrive
        self.fc2 = nn.Linear(in_features=64, out_features=10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))
'''


def _forward_error(code: str) -> str | None:
    """Run the (trusted, test-written) network here, as the sandbox would: its error, or None."""
    import torch

    scope: dict = {}
    exec(compile(code, "<net>", "exec"), scope)
    try:
        out = scope["Net"]()(torch.zeros(2, 3, 32, 32))
    except RuntimeError as err:
        return str(err)
    assert tuple(out.shape) == (2, 10)
    return None


def test_fit_width_writes_in_the_features_the_forward_pass_received():
    from spaces.torch_code import fit_width

    code, fits = MISFIT, 0
    while (error := _forward_error(code)) is not None:
        code = fit_width(code, error)
        assert code is not None, error
        fits += 1
    assert fits == 2  # fc1 then fc2, each from torch's own message
    assert "nn.Linear(4096, 32)  # one pooling" in code and "  # in_features fitted to 4096 by" in code
    assert "nn.Linear(in_features=32, out_features=10)  # in_features fitted to 32" in code
    assert "self.conv1 = nn.Conv2d(3, 16, 3, padding=1)\n" in code  # the rest as the model wrote it
    assert fit_width(MISFIT, "expected 4D input (got 2D input)") is None
    assert fit_width(MISFIT, "mat1 and mat2 shapes cannot be multiplied (2x4096 and 999x32)") is None
    twins = MISFIT.replace("nn.Linear(in_features=64, out_features=10)", "nn.Linear(1024, 32)")
    assert fit_width(twins, _forward_error(twins)) is None  # two Linear(1024, 32): which one failed?


WIDTHS = '''import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(in_channels=64, out_channels=8, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 32 * 32, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))
'''


def test_fit_width_fits_batchnorm_and_conv_inputs_to_the_width_before_them():
    """The model widened conv1 to 32 and left the layers after it written for 64: torch's
    messages for the BatchNorm and then the Conv2d give the width each received."""
    from spaces.torch_code import fit_width

    code, fits = WIDTHS, 0
    while (error := _forward_error(code)) is not None:
        code = fit_width(code, error)
        assert code is not None, error
        fits += 1
    assert fits == 2
    assert "nn.BatchNorm2d(32)  # num_features fitted to 32 by the sandbox's forward pass (written: 64)" in code
    assert "nn.Conv2d(in_channels=32, out_channels=8, kernel_size=3, padding=1)  # in_channels fitted" in code
    assert "self.conv1 = nn.Conv2d(3, 32, 3, padding=1)\n" in code and "self.bn2 = nn.BatchNorm2d(8)\n" in code
    two_norms = WIDTHS.replace("nn.BatchNorm2d(8)", "nn.BatchNorm2d(64)")
    assert fit_width(two_norms, _forward_error(two_norms)) is None  # two BatchNorm2d(64): which one?
    twice = MISFIT.replace("return self.fc2(F.relu(self.fc1(x)))", "return self.fc2(self.fc2(self.fc1(x)))")
    twice = fit_width(twice, _forward_error(twice))  # fc1 fitted; fc2 applied twice fits no width
    fitted = fit_width(twice, _forward_error(twice))
    assert fitted is not None and fit_width(fitted, _forward_error(fitted)) is None  # once per layer


def test_a_bound_space_fits_the_head_of_an_answer_in_the_sandbox(tmp_path):
    settings = load_settings(space="torch-code", dataset="digits", runs_dir=tmp_path,
                             training={"train_subset": 8, "eval_subset": 8})
    space = TorchCodeSpace()
    space.configure(settings, tmp_path / "run")
    fitted = space.from_code(f"```python\n{MISFIT}```")
    assert "nn.Linear(4096, 32)" in fitted and "out_features=10)  # in_features fitted to 32" in fitted
    assert space.measure(fitted, "digits")["failure"] is None
    assert SPACE.from_code(MISFIT) == MISFIT  # a space bound to no run reads the code only


@pytest.mark.slow
def test_the_default_model_answers_in_the_form_of_the_network_grammar():
    """The real default embedded model under NET_GBNF (what LLMatic asks with on this space): the
    answer is a class Net(nn.Module) with the allowed imports, whatever the model chose inside."""
    from agents import embedded, mutator
    from agents.llm import ChatEmbedded
    from spaces.torch_code import CODE_RULES, EDITS, NET_GBNF, extract

    model = ChatEmbedded(model=embedded.DEFAULT, max_tokens=300, grammar=NET_GBNF, seed=0)
    text = str(model.invoke(mutator.mutation_messages(SEED_NETWORK, EDITS[6], CODE_RULES)).content)
    assert text.startswith("```python\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n")
    assert "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self." in text
    check(extract(text))  # raises CodeError if the form let anything refused through
