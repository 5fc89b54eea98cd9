"""All run-time configuration in one typed model.

Sources, lowest to highest priority: defaults, a TOML file (`archagents.toml`
in the working directory or `--config FILE`), environment variables
(`ARCHAGENTS_BUDGET=20`, `ARCHAGENTS_MODELS__DESIGNER__MODEL=...`), CLI flags.

Each agent role has its own model (the open_deep_research pattern: one field
per role, one factory builds them all, see agents/llm.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from errors import UserError

Role = Literal["designer", "critic", "learner", "inspector"]
ROLES: tuple[Role, ...] = ("designer", "critic", "learner", "inspector")
# What the evidence Critic can rank by (tools/evidence.py; the proxies of tools/proxies.PROXIES).
EvidenceKind = Literal["auto", "flops", "params", "prior", "synflow", "naswot", "jacob_cov", "grad_norm", "snip"]
Provider = Literal["embedded", "openai", "openai-compatible", "hf"]  # what each supports: agents/providers.py
PROVIDERS: tuple[str, ...] = ("embedded", "openai", "openai-compatible", "hf")
EMBEDDED_MODEL = "smollm2-135m"


class ModelSpec(BaseModel):
    """Which chat model serves one role."""

    provider: Provider = "embedded"
    model: str = EMBEDDED_MODEL
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the key")
    max_tokens: int = Field(384, gt=0)
    timeout: float = Field(120.0, gt=0, description="seconds a call may take before it is retried")
    max_attempts: int = Field(5, ge=1, description="calls per answer when the provider fails transiently")
    backoff: float = Field(1.0, ge=0, description="seconds before the first retry; doubles each time")
    price_per_1k: tuple[float, float] | None = Field(
        None, description="USD per 1,000 tokens (in, out) when the provider table does not know the model")

    @classmethod
    def parse(cls, text: str) -> "ModelSpec":
        """`embedded`, `openai:gpt-4o-mini`, `openai-compatible:qwen2.5@http://host:8000/v1`, `hf:ID_OR_PATH`."""
        provider, _, rest = text.strip().partition(":")
        if provider not in PROVIDERS:
            raise UserError(f"unknown provider {provider!r} in {text!r}; choose one of {', '.join(PROVIDERS)}")
        if provider == "embedded":
            return cls(provider="embedded", model=rest or EMBEDDED_MODEL)
        model, _, base_url = rest.partition("@")
        if not model:
            raise UserError(f"missing model name in {text!r}; write PROVIDER:MODEL, e.g. openai:gpt-4o-mini")
        if provider == "openai-compatible" and not base_url:
            raise UserError(f"openai-compatible needs an endpoint: {provider}:{model}@http://HOST:PORT/v1")
        return cls(provider=provider, model=model, base_url=base_url or None)

    def label(self) -> str:
        return f"{self.provider}:{self.model}" + (f"@{self.base_url}" if self.base_url else "")


class Models(BaseModel):
    designer: ModelSpec = ModelSpec()
    critic: ModelSpec = ModelSpec()
    learner: ModelSpec = ModelSpec()
    inspector: ModelSpec = ModelSpec()  # answers `cli.py chat` questions about a run (agents/inspector.py)

    def for_role(self, role: Role) -> ModelSpec:
        return getattr(self, role)


def apply_model_flags(models: Models, flags: list[str]) -> Models:
    """Apply repeated `ROLE=PROVIDER:MODEL` flags; `all=` sets every role."""
    updated = models.model_copy(deep=True)
    for flag in flags:
        role, sep, spec = flag.partition("=")
        if not sep or not spec:
            raise UserError(f"malformed --model {flag!r}; write ROLE=PROVIDER:MODEL, e.g. designer=openai:gpt-4o-mini")
        if role not in (*ROLES, "all"):
            raise UserError(f"unknown role {role!r} in --model {flag!r}; choose one of {', '.join(ROLES)}, all")
        parsed = ModelSpec.parse(spec)
        for r in ROLES if role == "all" else (role,):
            setattr(updated, r, parsed)
    return updated


Ablation = Literal["none", "network-archive-only", "prompt-archive-only", "mutation-only", "crossover-only",
                   "random"]


class LLMaticSettings(BaseModel):
    """LLMatic (seed 001, sections 3-4.1).  Paper scale: 20 generations of 100 offspring; the
    defaults are small enough for the embedded model on a 2-core CPU."""

    generations: int | None = Field(None, gt=0, description="paper: 20; default: as many as the budget "
                                    "needs (generations continue until `budget` networks are evaluated)")
    batch: int = Field(8, gt=0, description="offspring per generation (paper: 100)")
    initial: int | None = Field(None, gt=0, description="random networks that seed the archive (paper: 10; "
                                "default: 10, or a fifth of a smaller budget, at least 2)")
    p_mutation: float = Field(0.7, ge=0.0, le=1.0, description="else crossover (paper: 0.7 / 0.3)")
    temperature: float = Field(0.6, ge=0.0, le=1.0, description="initial mutation temperature (paper: 0.6)")
    temperature_step: float = Field(0.05, ge=0.0, description="+/- after each offspring (paper: 0.05)")
    jitter: float = Field(0.1, ge=0.0, description="random +/- for half of each batch (paper: 0.1)")
    crossover_temperature: float = Field(0.7, ge=0.0, le=2.0, description="paper: 0.7")
    crossover_networks: int = Field(10, gt=0, description="random networks per generation for crossover (paper: 10)")
    cells_per_dim: int = Field(10, gt=1, description="niches per descriptor (paper: 10)")
    max_concurrency: int = Field(4, gt=0, description="LLM calls in flight at once")
    max_tokens: int = Field(600, gt=0, description="room for a whole cell's code (370 tokens written compactly)")
    answer: Literal["auto", "code", "edit"] = Field(
        "auto", description="code: the network's code, as the paper; edit: the change as structured positions and "
        "operations (every answer valid, ~30 tokens); auto: edit for embedded models on spaces with positions")
    ablation: Ablation = "none"

    def initial_for(self, budget: int) -> int:
        return self.initial if self.initial is not None else min(10, max(2, budget // 5))


LAPTAblation = Literal["none", "no-adaptation", "no-transfer"]

class LAPTSettings(BaseModel):
    """LAPT (seed 003, Algorithm 1, Table 1).  Unset numbers take the paper's value for the space."""

    model_config = {"extra": "forbid"}  # `[lapt] transfer_from` moved to the top level (what a run knows)

    learn_samples: int | None = Field(None, gt=0, description="top architectures of the source task the learner "
                                      "learns from (paper: 50 / 50 / 100 on DARTS)")
    top_r: int | None = Field(None, gt=0, description="architectures the adaptation learns from (paper: 5 / 15)")
    iterations: int | None = Field(None, gt=0, description="search + adaptation rounds (paper: 3 / 4)")
    population: int | None = Field(None, gt=0, description="REA population (paper: 5 / 10)")
    generations: int | None = Field(None, gt=0, description="REA generations per round (paper: 1)")
    tournament: int | None = Field(None, gt=0, description="REA tournament size (paper: 2 / 5)")
    crossover: float | None = Field(None, ge=0, le=1, description="REA crossover probability (paper, DARTS: 0.5; "
                                    "none on the benchmarks)")
    mutation: float | None = Field(None, ge=0, le=1, description="REA mutation probability (paper: 1; DARTS 0.5)")
    source_samples: int | None = Field(None, gt=0, description="DARTS: random architectures of the source task scored "
                                       "through its supernet to learn from (paper: 5,000; CPU default 1,000)")
    supernet_mix: float = Field(0.2, ge=0, le=1, description="DARTS: share of the target supernet's training steps "
                                "that sample the whole space rather than the refined one, so that operations a later "
                                "round adds have trained weights (0: the refined space only)")
    max_ops: int = Field(2, gt=0, description="operations the learner may keep per position (the LAPT prompt: at "
                         "most 2); the refined space is widened beyond them when it is smaller than min_cells")
    min_cells: int = Field(32, gt=0, description="architectures the refined space keeps at least (and never fewer "
                           "than twice a round's evaluations): a thin answer cannot collapse the search")
    ablation: LAPTAblation = "none"

    def samples(self, space) -> int:
        """Architectures learned from: the setting, else the paper's for the space (50; DARTS 100)."""
        return self.learn_samples or (space.lapt.learn_samples if space.lapt is not None else 50)

    def resolved(self, space, transfer_from: str | None = None) -> "LAPTSettings":
        """These settings with the paper's values for `space` (a spaces.Space: its `lapt`
        defaults, LAPT Table 1) filled in where unset.  A space with one task and no
        `transfer_from` can only run the no-transfer setting (section 5).  The source task
        itself is the run's knowledge (graphs/knowledge.py), not a LAPT setting."""
        paper = space.lapt
        if paper is None:
            raise UserError(f"space {space.name} has no LAPT settings (it needs per-position operations)")
        filled = {k: v for k, v in paper.model_dump(exclude={"source"}).items() if getattr(self, k) is None}
        if transfer_from is None and paper.source is None and self.ablation == "none":
            filled["ablation"] = "no-transfer"  # one task only: nothing to transfer from
        return self.model_copy(update=filled)


class DartsSettings(BaseModel):
    """The DARTS space's supernet and stand-alone training (LAPT seed 003, Table 1: supernet 30
    epochs; DARTS, Liu et al. 2018: search network C 16, 8 cells, SGD lr 0.025 momentum 0.9,
    weight decay 3e-4, batch 64; evaluation network C 36, 20 cells, 600 epochs, batch 96,
    auxiliary weight 0.4, drop-path 0.2: `--paper-scale`).  The CPU default is scaled down so a
    LAPT search on the offline digits finishes on 2 cores in under 20 minutes: a narrow supernet
    (C 8, 5 cells) on 16x16 inputs, its 30 epochs kept; a stand-alone network of C 16, 8 cells,
    trained 30 epochs.  FLOPs and params are always those of DARTS's own networks (C 36, 20
    cells at 32x32; ImageNet C 48, 14 cells at 224x224)."""

    channels: int = Field(8, gt=0, description="supernet initial channels C (DARTS search network: 16)")
    cells: int = Field(5, ge=3, description="supernet cells, reductions at 1/3 and 2/3 (DARTS search network: 8)")
    image_size: int = Field(16, ge=8, description="input side in pixels the networks train on (paper: 32)")
    epochs: int = Field(30, gt=0, description="supernet training epochs (LAPT Table 1: 30)")
    min_steps: int = Field(1000, ge=0, description="supernet optimizer steps at least, epochs added on a small "
                           "dataset (digits: 10 steps an epoch; measured: 300 steps left the supernet near chance, "
                           "loss 2.0, 1,000 steps loss 0.8; paper scale: 0, 30 epochs of CIFAR are 11,700 steps)")
    batch_size: int = Field(128, gt=0, description="supernet batch (DARTS: 64; 128 halves the steps on a CPU)")
    sharing: Literal["edge", "node", "cell"] = Field(
        "edge", description="which edges of a supernet cell share an operation's weights: edge (DARTS's one-shot "
        "model: none), node (a node's inputs of one stride), cell (every edge of one stride)")
    lr: float = Field(0.05, gt=0, description="SGD learning rate, cosine-annealed (DARTS: 0.025 at batch 64)")
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(3e-4, ge=0)
    train_subset: int | None = Field(None, gt=0, description="training images per supernet epoch (None: all)")
    bn_batches: int = Field(2, gt=0, description="training batches an inherited network's BatchNorm statistics are "
                            "recomputed on before it is scored")
    standalone_channels: int = Field(16, gt=0, description="final network's C (DARTS evaluation network: 36)")
    standalone_cells: int = Field(8, ge=3, description="final network's cells (DARTS: 20)")
    standalone_epochs: int = Field(30, gt=0, description="final network's training epochs (DARTS: 600)")
    standalone_batch: int = Field(64, gt=0, description="final network's batch (DARTS: 96)")
    standalone_lr: float = Field(0.05, gt=0, description="final network's SGD learning rate (DARTS: 0.025)")
    auxiliary_weight: float = Field(0.0, ge=0, description="auxiliary head's loss weight (DARTS: 0.4)")
    drop_path: float = Field(0.0, ge=0, lt=1, description="drop-path probability, raised linearly (DARTS: 0.2)")


class REASettings(BaseModel):
    """Regularised evolution as a baseline graph (`--graph rea`); unset: the space's paper values."""

    population: int | None = Field(None, gt=0, description="NB201: 5 (LAPT Table 1)")
    tournament: int | None = Field(None, gt=0, description="NB201: 2 (LAPT Table 1)")


Executor = Literal["local", "ray"]
Sandbox = Literal["warm", "cold"]


class TrainingSettings(BaseModel):
    """Real training of the trained spaces (torch-code, mobilenetv2; tools/train_on_gpu.py).

    torch-code's paper defaults (LLMatic, seed 001, section 4): SGD, lr 0.001, momentum 0.9, 50
    epochs; mobilenetv2's (GENIUS, seed 002, section 5): 20 epochs of SGD, lr 0.5, momentum 0.9,
    weight decay 1e-4, batch 1024, 196 px, a 99/1 train/validation split (`--paper-scale`).

    The defaults here are sized for a 2-core CPU: Adam, lr 0.001, batch 32, one epoch of 2,000
    images for torch-code (about 2 s of training per candidate on one thread).  The paper's SGD at
    this size takes 31 small steps and leaves some sound networks near chance: measured on the 20
    random starting networks (MNIST, bench/training_signal.py), SGD gave 14-89% validation accuracy
    ranking them like a 5-epoch training with Spearman 0.17; Adam 85-93%, Spearman 0.71.  Fields
    left None take the space's default (MobileNetV2Space.RECIPE, TorchCodeSpace.RECIPE)."""

    epochs: int = Field(1, gt=0, description="paper: 50 (torch-code), 20 (mobilenetv2)")
    steps: int | None = Field(None, ge=0, description="optimiser steps per candidate, whatever the epochs; 0: the "
                              "epochs decide (default: the space's; mobilenetv2 300 on a CPU, torch-code 0)")
    batch_size: int = Field(32, gt=0, description="default 32 (more steps in one CPU epoch); --paper-scale: 64, 1024")
    optimizer: Literal["sgd", "adam"] = Field("adam", description="paper: sgd (--paper-scale)")
    lr: float = Field(0.001, gt=0, description="paper: 0.001 (LLMatic), 0.5 (GENIUS); Adam's usual 0.001 by default")
    schedule: Literal["constant", "cosine"] | None = Field(None, description="learning rate over the steps (default: "
                                                           "the space's; mobilenetv2 cosine, as GENIUS's train.py)")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD's momentum (paper: 0.9)")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (LLMatic: none given, 0; GENIUS: 1e-4)")
    train_subset: int | None = Field(2000, gt=0, description="training images used (--train-images; None: all)")
    eval_subset: int | None = Field(1000, gt=0, description="validation and test images scored (None: all)")
    data: Path | None = Field(None, description="the user's data (--data): an ImageFolder tree, a .npz of x and y, or "
                              "a CIFAR-10/100 python archive; the dataset is then `custom` (training/datasets.py)")
    image_size: int | None = Field(None, ge=8, le=1024, description="images are resized to this side (default: the "
                                   "space's; torch-code 32, mobilenetv2 32 on a CPU, 196 at --paper-scale)")
    val_fraction: float | None = Field(None, gt=0, lt=1, description="share of the training images held out for "
                                       "validation (default: the source's, 10%; GENIUS 1%)")
    augment: Literal["auto", "none", "flip"] = Field(
        "auto", description="auto: random-resized crop and horizontal flip of photos (folders, CIFAR, .npz), none of "
        "digits; flip: flips only; none")
    width: float | None = Field(None, gt=0, le=4, description="mobilenetv2's width multiplier (default 0.5 on a CPU, "
                                "1.0 at --paper-scale: the paper's network)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: CUDA when the machine has a GPU, else CPU")
    amp: bool | None = Field(None, description="mixed precision (default: on CUDA only; float16 with loss scaling)")
    loader_threads: int = Field(2, ge=1, le=32, description="threads gathering batches ahead of the training step "
                                "(threads: DataLoader's worker processes cannot run under the sandbox's Landlock rules)")
    executor: Executor = "local"
    sandbox: Sandbox = Field("warm", description="warm: each candidate's child is forked from a process that "
                             "imported torch once (training/warm.py); cold: a fresh interpreter per candidate")
    workers: int = Field(1, gt=0, description="trainings in parallel (local: one per GPU or N CPU workers)")
    ray_address: str | None = Field(None, description="existing Ray cluster (default: RAY_ADDRESS, else local)")
    wall_seconds: float = Field(600.0, gt=0, description="wall-clock limit per candidate")
    cpu_seconds: int | None = Field(1200, gt=0, description="CPU-time limit per candidate")
    memory_mb: int | None = Field(4096, gt=0, description="memory a candidate may add on top of torch and the data")
    cifar10: Path | None = Field(None, description="CIFAR-10 python archive or folder (or ARCHAGENTS_CIFAR10)")
    # The paper's range (200 MFLOPs-5 GFLOPs, seed 001 section 4; `--paper-scale`) suits 50-epoch GPU
    # training; every network a CPU trains in seconds lies below 200M, so the archive would collapse
    # to one niche.  Measured: 30 random starting networks span 0.04-7.5 MFLOPs; a first run's 10 had
    # width/depth ratios of 4-11.
    flops_bounds_m: tuple[float, float] = Field(
        (0.0, 8.0), description="FLOPs descriptor range in M (paper: 200 to 5000, see --paper-scale)")
    width_depth_bounds: tuple[float, float] = Field((0.0, 64.0), description="paper section 4: 0 to 200")


class Limits(BaseModel):
    """Where a run stops and waits to be resumed (graphs/limits.py); none by default."""

    max_evaluations: int | None = Field(None, gt=0, description="stop after this many evaluations")
    max_tokens: int | None = Field(None, gt=0, description="stop after this many LLM tokens (in + out, all roles)")
    max_cost: float | None = Field(None, gt=0, description="stop after this many US dollars at the provider "
                                   "table's prices (local models cost 0)")
    time_limit: float | None = Field(None, gt=0, description="stop after this many seconds of this session")


class Settings(BaseSettings):
    """One search run.  Defaults reproduce GENIUS on NB201 CIFAR-10 (seed 002, section 4.3)."""

    model_config = SettingsConfigDict(env_prefix="ARCHAGENTS_", env_nested_delimiter="__", extra="forbid",
                                      toml_file="archagents.toml")

    graph: str = Field("genius", description="graph variant (graphs.REGISTRY): genius, llmatic, lapt, and the "
                       "no-LLM baselines random, rea, local, random+flops, prior")
    space: str = Field("nb201", description="search space (spaces.REGISTRY)")
    dataset: str | None = Field(None, description="default: the space's (nb201: cifar10; torch-code: cifar10 "
                                "when the archive is given, else mnist)")
    budget: int | None = Field(None, gt=0, description="architectures evaluated (default: the graph's; GENIUS "
                               "10 iterations, LAPT the paper's rounds, LLMatic 10 random + 3 x 8)")
    seed: int = 0
    nb201_api: Path | None = Field(None, description="the official NAS-Bench-201 benchmark file (e.g. NAS-Bench-201-"
                                   "v1_1-096897.pth), read through nas_201_api (the [nb201-api] extra) instead of the "
                                   "shipped table (space nb201; spaces/nb201_api.py)")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="designer temperature (GENIUS: 0)")
    designer: Literal["edits", "genius", "none"] = Field(
        "edits", description="edits: several edits of evaluated architectures and one new one per call (spaces "
        "with positions); genius: one whole proposal per call, the paper's dialogue; none: the model is never "
        "asked (the graph's Critic and contained search alone, its no-model twin; LAPT: principles from the "
        "statistics)")
    candidates: int = Field(4, ge=1, le=16, description="edits the designer proposes per call (designer=edits)")
    designer_every: int | None = Field(None, ge=1, description="rounds per designer call (designer=edits with the "
                                       "evidence Critic; its unused candidates stay in the pool between calls); "
                                       "default: every round up to a budget of 20, then about 20 calls a run")
    critic: Literal["off", "rules", "evidence", "llm"] = Field(
        "evidence", description="off: evaluate the first candidate as it is; rules: reject duplicates, isomorphs, "
        "at-chance cells and constraint breaks; evidence: rules, then rank every candidate (designer's and the "
        "contained baseline's) by evidence that costs no evaluation; llm: evidence, then the critic model picks "
        "among the best-ranked")
    evidence: list[EvidenceKind] = Field(
        ["auto"], description="what the evidence Critic ranks by (mean rank): flops, params, training-free proxies "
        "(synflow, naswot, jacob_cov, grad_norm, snip) on spaces that build networks, prior (how typical of the "
        "transfer source's best: needs transfer_from); auto: prior with transfer_from, else the measured "
        "knowledge-free default (graphs/knowledge.py)")
    transfer_from: str | None = Field(
        None, description="SPACE/DATASET whose results the search may use (its table, else what the memory stores "
        "of it): the prior evidence (genius, llmatic), LAPT's principles, the prior baseline.  Default: none, "
        "except for the transfer methods lapt and prior, which take the paper's source task")
    memory: Literal["on", "off"] = Field(
        "on", description="off: read nothing the memory holds from earlier runs (stored principles, past "
        "architectures), even where a flag or LAPT's transfer would")
    pool_rea: int = Field(4, ge=0, description="REA children of tournament winners added to each round's pool (LLMatic: per offspring) "
                          "(critic evidence/llm): the search the graph contains")
    pool_random: int = Field(16, ge=0, description="random samples added to each round's pool (LLMatic: per offspring; critic evidence/llm)")
    max_flops_m: float | None = Field(None, gt=0, description="reject architectures above this many MFLOPs")
    min_flops_m: float | None = Field(None, ge=0, description="reject architectures below this many MFLOPs (GENIUS, "
                                      "section 5: [270, 330] and [370, 430] on MobileNetV2)")
    flops_revisions: int = Field(3, ge=0, description="times the designer is told the FLOPs of a proposal outside the "
                                 "bound and asked to revise it, before the Critic rejects it (GENIUS section 5)")
    max_params_m: float | None = Field(None, gt=0, description="reject cells above this many M params")
    max_rejections: int = Field(
        3, ge=1, description="rounds in a row without an accepted candidate before a REA step stands in")
    rea: REASettings = REASettings()
    flops_pool: int | None = Field(None, gt=0, description="random+flops: the pool the largest are taken from "
                                   "(default 10 x budget, at least 100)")
    approve: bool = Field(False, description="pause for the user to accept, edit or reject what costs evaluations: "
                          "each candidate (GENIUS, baselines), each batch (LLMatic), the principles and refined "
                          "space of each round (LAPT); graphs/approve.py")
    limits: Limits = Limits()
    runs_dir: Path = Path("runs")
    models: Models = Models()
    llmatic: LLMaticSettings = LLMaticSettings()
    training: TrainingSettings = TrainingSettings()
    lapt: LAPTSettings = LAPTSettings()
    darts: DartsSettings = DartsSettings()
    memory_dir: Path | None = Field(None, description="Chroma memory (default: the user data dir; "
                                    "env ARCHAGENTS_MEMORY_DIR)")
    memory_write: bool = Field(True, description="store what the search evaluated and the agents' reasoning")
    memory_embedding: Literal["minilm", "hashing"] = Field(
        "minilm", description="minilm: the packaged all-MiniLM-L6-v2; hashing: the offline fallback")
    principles_from: str | None = Field(None, description="SPACE/DATASET whose stored principles are added to "
                                        "the designer's prompt (genius, llmatic)")
    designer_memory: int = Field(0, ge=0, description="past architectures of this task from memory shown to "
                                 "the designer (genius)")

    @field_validator("transfer_from")
    @classmethod
    def _task(cls, value: str | None) -> str | None:
        if value is not None and (value.count("/") != 1 or not all(value.split("/"))):
            raise ValueError(f"want SPACE/DATASET, e.g. nb201/cifar10; got {value!r}")
        return value

    @field_validator("graph", "space", "dataset")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _bound(self) -> "Settings":
        if self.min_flops_m is not None and self.max_flops_m is not None and self.min_flops_m > self.max_flops_m:
            raise ValueError(f"min_flops_m {self.min_flops_m:g} is above max_flops_m {self.max_flops_m:g}: no "
                             "architecture can meet that bound")
        return self

    @model_validator(mode="after")
    def _official_nb201(self) -> "Settings":
        if self.nb201_api is not None and self.space != "nb201":
            raise ValueError(f"--nb201-api reads NAS-Bench-201; it does not apply to space {self.space}")
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


# The papers' scale (`--paper-scale`): LLMatic's 20 generations of 100 offspring after 10 random
# networks (seed 001, sections 4-5), trained 50 epochs on all of CIFAR-10 with networks of
# 200 MFLOPs to 5 GFLOPs (section 4).  A GPU's work: the defaults are sized for a 2-core CPU.
PAPER_SCALE = {"llmatic": {"generations": 20, "batch": 100, "initial": 10},
               "training": {"epochs": 50, "train_subset": None, "eval_subset": None,
                            "flops_bounds_m": (200.0, 5000.0), "width_depth_bounds": (0.0, 200.0),
                            "optimizer": "sgd", "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0,
                            "batch_size": 64},  # the batch size is not in the paper: 64, as before
               # LAPT's DARTS protocol (seed 003, section 4.1, Table 1) on DARTS's networks (Liu et al. 2018):
               # the search network's width and depth for the supernet, the evaluation network's recipe.
               "darts": {"channels": 16, "cells": 8, "image_size": 32, "epochs": 30, "min_steps": 0, "batch_size": 64,
                         "lr": 0.025,
                         "standalone_channels": 36, "standalone_cells": 20, "standalone_epochs": 600,
                         "standalone_batch": 96, "standalone_lr": 0.025, "auxiliary_weight": 0.4, "drop_path": 0.2},
               "lapt": {"source_samples": 5000}}
# GENIUS's search on ImageNet (seed 002, section 5): every candidate trained 20 epochs with SGD, lr 0.5,
# weight decay 1e-4, batch 1024, momentum 0.9, random-resized crops and flips at 196 x 196, on 99% of the
# training set; validated on the other 1%, tested on the official validation set (an ImageFolder's val/).
# The paper's network is width 1.0; the schedule is its train.py's cosine decay.
PAPER_SCALE_BY_SPACE = {"mobilenetv2": {"training": {
    "epochs": 20, "steps": 0, "train_subset": None, "eval_subset": None, "optimizer": "sgd", "lr": 0.5,
    "momentum": 0.9, "weight_decay": 1e-4, "batch_size": 1024, "image_size": 196, "val_fraction": 0.01,
    "schedule": "cosine", "width": 1.0, "augment": "auto",
    # A GPU's hours per candidate (GENIUS: 5.6 GPU days for ~10 of them): no CPU-time limit, two days of wall clock.
    "cpu_seconds": None, "wall_seconds": 172_800.0}}}


def load_settings(config: Path | None = None, model_flags: list[str] | None = None, paper_scale: bool = False,
                  **overrides) -> Settings:
    """Resolve settings from file, environment and flags; user mistakes become UserError.
    `paper_scale` fills in the papers' values (PAPER_SCALE) under any explicit flag."""
    if config is not None and not config.is_file():
        raise UserError(f"config file not found: {config}")
    # The TOML path is class configuration in pydantic-settings; a subclass carries a per-call path.
    cls = Settings if config is None else type("Settings", (Settings,), {
        "model_config": {**Settings.model_config, "toml_file": config}})
    if paper_scale:
        space = overrides.get("space") or _build(cls, overrides, config).space  # the file may name the space
        for section, values in PAPER_SCALE_BY_SPACE.get(space, PAPER_SCALE).items():
            overrides[section] = {**values, **(overrides.get(section) or {})}
    settings = _build(cls, overrides, config)
    if model_flags:
        settings.models = apply_model_flags(settings.models, model_flags)
    return settings


def _build(cls: type[Settings], overrides: dict, config: Path | None) -> Settings:
    try:
        settings = cls(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise UserError(f"invalid {where}: {first['msg'].removeprefix('Value error, ')}") from None
    except ValueError as err:  # a malformed TOML file
        raise UserError(f"cannot read config {config or 'archagents.toml'}: {err}") from None
    return settings

