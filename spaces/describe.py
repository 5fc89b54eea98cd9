"""One architecture of any space described without training it (`cli.py arch`): its canonical
form, whether it is valid (and why not), its FLOPs and parameters at the space's reference
input (`cost`, `cost_reference`), and on benchmark tables the table's metrics.

Built only on the verbs every space has (spaces/base.py: `validate`, `canonical`, `trivial`,
`cost`; `evaluate` and `final_report` on tables), so a new space is described with no change
here.
"""

from __future__ import annotations

from pydantic import BaseModel

from errors import UserError
from spaces.base import Space, Tabular, has


class ArchReport(BaseModel):
    space: str
    dataset: str
    arch: str                     # as given
    canonical: str | None = None  # the one form of every equal network
    valid: bool
    error: str | None = None
    flops_m: float | None = None
    params_m: float | None = None
    reference: str = ""          # what the FLOPs and parameters are measured at
    note: str | None = None      # e.g. a network certain to score at chance
    metrics: dict[str, float | int | None] = {}  # a table's: val_acc, test_acc, rank, of

    def flat(self) -> dict:
        """The JSON of `cli.py arch --json`: the metrics beside the other keys."""
        return {**self.model_dump(exclude={"metrics"}), **self.metrics}


def describe(space: Space, arch: str, dataset: str) -> ArchReport:
    """Never raises for a bad architecture: that is `valid=False` with the one-line reason."""
    report = ArchReport(space=space.name, dataset=dataset, arch=arch, valid=False, reference=space.cost_reference)
    try:
        normalised = space.validate(arch)
        report.canonical = space.canonical(normalised)
        if has(space, Tabular) and not space.contains(normalised):
            raise UserError(f"the {space.name} table does not have {normalised}")
        report.flops_m, report.params_m = space.cost(normalised, dataset)
    except UserError as err:
        report.error = " ".join(str(err).split())
        return report
    report.valid, report.note = True, space.trivial(normalised)
    if has(space, Tabular):
        evaluation, final = space.evaluate(normalised, dataset), space.final_report(normalised, dataset)
        report.metrics = {"val_acc": evaluation.val_acc, "test_acc": final.test_acc, "rank": final.rank,
                          "of": final.of}
    return report
