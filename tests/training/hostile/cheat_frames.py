"""Attack: cheat the metric by walking the interpreter's frames (generator `gi_frame`, `f_back`,
`f_locals`: not forbidden names) from forward to the trainer, looking for the labels of the
images being scored, and answering them.
Expect: refused (the audit hook refuses `gi_frame`; were it fooled, the child has no held-out
labels to find: it gets images only and the parent scores; this cheat scored 100% before)."""
import torch
import torch.nn as nn


def caller():
    yield probe[0].gi_frame.f_back


probe = []


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        if not self.training:
            probe.clear()
            probe.append(caller())
            frame = next(probe[0])
            while frame is not None:
                for value in frame.f_locals.values():
                    if isinstance(value, torch.Tensor) and value.dtype == torch.int64 and value.dim() == 1 \
                            and len(value) >= len(x):
                        return 100.0 * nn.functional.one_hot(value[:len(x)], 10).float()
                frame = frame.f_back
        return self.fc(torch.flatten(x, 1))
