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

NB201_RULES = """\
Rules for this cell: self.e<i>_<j> is the edge from node j to node i; each edge holds exactly one of \
these modules, or is left out of the sum:
{snippets}
(conv3x3 and conv1x1 are ReLU, convolution and batch norm; avgpool3x3 is 3x3 average pooling.) \
Keep the class name, the four nodes x0 to x3 and `return x3`. Answer with the whole class, short."""

# Free-form networks (torch-code): the constraints the sandbox and the trainer enforce, stated
# up front so that an offspring is not wasted on a refused import or a wrong output shape.
CODE_RULES = """\
Rules: one class `Net(nn.Module)` whose constructor takes no arguments; input a batch of 3x32x32 \
tensors, output 10 class scores; import only torch, torch.nn, torch.nn.functional and math; no files."""

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


def rules_for(snippets: dict[str, str] | None) -> str:
    """The space's allowed edge modules, quoted in every prompt (the general rules for free-form code)."""
    if not snippets:
        return CODE_RULES
    return NB201_RULES.format(snippets="\n".join(f"- {op}: {code}" for op, code in snippets.items()))


def mutation_messages(code: str, instruction: str, rules: str) -> list[BaseMessage]:
    return [SystemMessage(SYSTEM), HumanMessage(MUTATE.format(code=code, rules=rules, instruction=instruction))]


def crossover_messages(codes: list[str], rules: str) -> list[BaseMessage]:
    blocks = "\n".join(f"Network {i}:\n```python\n{code}\n```" for i, code in enumerate(codes, 1))
    return [SystemMessage(SYSTEM), HumanMessage(CROSSOVER.format(codes=blocks, rules=rules))]


def random_messages(code: str, rules: str) -> list[BaseMessage]:
    """The Random-NN-Generation ablation's single prompt (section 4.2)."""
    return [SystemMessage(SYSTEM), HumanMessage(RANDOM.format(code=code, rules=rules))]
