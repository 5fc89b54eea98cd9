"""Attack: cheat the metric from the file system: job.json (readable, in the sandbox folder)
names the label-free copy of the data, and the full dataset with the held-out labels lies
beside it (`<name>.npz`).  Read y_val and y_test from it with zipfile (reached as
`torch._export.zipfile`) and answer them in order.
Expect: refused (Landlock: of the data folder only the label-free copy is readable).
Needs: landlock."""
import torch
import torch.nn as nn


def labels(archive, name):
    blob = archive.read(name)
    start = 10 + blob[8] + 256 * blob[9]  # .npy version 1: magic, version, header length, header
    return torch.frombuffer(bytearray(blob[start:]), dtype=torch.int64)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        with torch.serialization._open_file("job.json", "r") as f:
            job = f.read()
        inputs = job.split('"data": "')[1].split('"')[0]
        archive = torch._export.zipfile.ZipFile(inputs.replace(".inputs.npz", ".npz"))
        self.answers = [labels(archive, "y_val.npy"), labels(archive, "y_test.npy")]
        self.fc = nn.Linear(3 * 32 * 32, 10)
        self.trained = False

    def forward(self, x):
        if self.training:
            self.trained = True
        elif self.trained and self.answers:
            return 100.0 * nn.functional.one_hot(self.answers.pop(0)[:len(x)], 10).float()
        return self.fc(torch.flatten(x, 1))
