"""Attack: monkey-patch the training loop through the module's own methods and torch's classes:
a `train()` that never leaves eval mode, a loss whose forward returns zero (nothing learns),
and `Tensor.argmax` patched to answer class 3 for every image, as if that were a perfect
prediction when the scorer shares the process.
Expect: ok (harmless by construction: the parent scores the child's answers against labels
the child never has, so the patched argmax scores one class's share, about 10%)."""
import torch
import torch.nn as nn


def no_loss(self, logits, target):
    return (logits * 0).sum()


def always_three(self, dim=None, keepdim=False):
    return torch.full((len(self),), 3, dtype=torch.int64)


nn.CrossEntropyLoss.forward = no_loss
torch.Tensor.argmax = always_three


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def train(self, mode=True):
        return nn.Module.train(self, False)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
