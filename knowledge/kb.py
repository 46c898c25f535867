"""One handle on the knowledge base (settings, store, index) that skills, the bot and the scheduler share."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.embeddings import Embedder
from knowledge.index import Index
from knowledge.settings import Settings
from knowledge.store import Store


@dataclass
class KnowledgeBase:
    settings: Settings
    store: Store
    index: Index

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> KnowledgeBase:
        store = Store(settings)
        return cls(settings, store, Index(settings, embedder=embedder, store=store))

    def close(self) -> None:
        self.index.close()
        self.store.engine.dispose()
