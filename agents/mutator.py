"""The Designer's code operators (LLMatic, seed 001, section 3 and appendix A):
mutate one network's code with an edit instruction, or combine several
networks' code into a new one.

The edit instructions belong to each space (`space.edits`: thirteen generic edits for
PyTorch code, nine NB201 edits restricted to its five operations); the instruction's
index is the prompt id the prompt archive uses as its first descriptor.
"""

from __future__ import annotations

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

# The answer's form, for models that take a grammar: one fenced python block.  Small models
# otherwise answer with prose about the code (measured: 48 of 50 SmolLM2-135M answers did
# not parse).  It constrains the form only; what the code says is the model's.
CODE_BLOCK_GBNF = r"""root ::= "```python
" line+ "```"
line ::= [^`
]* "
"
"""

SYSTEM = """\
You are the Designer in a neural architecture search. You edit PyTorch code that defines a network \
or a cell. Reply with the complete new code in one ```python block and nothing else."""

MUTATE = """\
```python
{code}
```
{rules}
{instruction}"""

CROSSOVER = """\
{codes}
{rules}
Combine the networks above into one new network that performs better than each of them."""

RANDOM = """\
```python
{code}
```
{rules}
Create a network that inherits from nn.Module and performs better than the network above."""


def mutation_messages(code: str, instruction: str, rules: str) -> list[BaseMessage]:
    return [SystemMessage(SYSTEM), HumanMessage(MUTATE.format(code=code, rules=rules, instruction=instruction))]


def crossover_messages(codes: list[str], rules: str) -> list[BaseMessage]:
    blocks = "\n".join(f"Network {i}:\n```python\n{code}\n```" for i, code in enumerate(codes, 1))
    return [SystemMessage(SYSTEM), HumanMessage(CROSSOVER.format(codes=blocks, rules=rules))]


def random_messages(code: str, rules: str) -> list[BaseMessage]:
    """The Random-NN-Generation ablation's single prompt (section 4.2)."""
    return [SystemMessage(SYSTEM), HumanMessage(RANDOM.format(code=code, rules=rules))]


# --- the same operators as structured edits (settings.llmatic.answer = "edit") -------------------
# For small models on spaces with positions: the parent is shown as its positions and operations,
# the instruction is the prompt archive's, and the answer is constrained to the space's names, so
# every answer is a valid architecture and costs ~30 tokens instead of a whole module.

EDIT_SYSTEM = """\
You are the Designer in a neural architecture search. You change architectures written as one \
operation per position. Answer with a JSON object."""

EDIT_MUTATE = """\
{problem}

The architecture:
{layers}
{instruction}
Answer with one or two changes: for each, the position and its new operation."""

EDIT_COMBINE = """\
{problem}

{parents}
{instruction}
Answer with the new architecture: one operation per position, in the order {order}."""


def layers(space, arch: str) -> str:
    return "\n".join(f"{position}: {op}" for position, op in zip(space.positions(), space.ops(arch)))


def edit_mutation_messages(space, dataset: str, arch: str, instruction: str) -> list[BaseMessage]:
    prompt = EDIT_MUTATE.format(problem=space.describe(dataset), layers=layers(space, arch), instruction=instruction)
    return [SystemMessage(EDIT_SYSTEM), HumanMessage(prompt)]


def edit_combine_messages(space, dataset: str, archs: list[str], instruction: str) -> list[BaseMessage]:
    parents = "\n\n".join(f"Architecture {i}:\n{layers(space, arch)}" for i, arch in enumerate(archs, 1))
    prompt = EDIT_COMBINE.format(problem=space.describe(dataset), parents=parents, instruction=instruction,
                                 order=", ".join(space.positions()))
    return [SystemMessage(EDIT_SYSTEM), HumanMessage(prompt)]


COMBINE = "Combine the architectures above into one new architecture that performs better than each of them."
CREATE = "Create a new architecture that performs better than the one above."
