"""Attack: fork worker processes with a DataLoader (num_workers=2), which could outlive the child.
Expect: refused (Landlock refuses multiprocessing's semaphore in /dev/shm; without Landlock the
audit hook refuses the os.fork)."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        loader = torch.utils.data.DataLoader(list(range(8)), num_workers=2)
        self.total = sum(int(b.sum()) for b in loader)
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
