"""Which of the six dimensions a captured note belongs to: keyword evidence first, embedding similarity otherwise.

Reps type notes like "Siemens offered them 8% off on drives" or "新任采购总监是王磊"; the bot proposes a dimension and
the rep confirms or changes it before anything is saved, so a cheap, explainable guess is enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from knowledge.embeddings import Embedder
from knowledge.profile import DIMENSION_TITLES, DIMENSIONS

# Words that point to a dimension (English and Chinese). Lower-case; matched as words (EN) or substrings (ZH).
KEYWORDS: dict[str, tuple[str, ...]] = {
    "background": ("strategy", "strategic", "expansion", "expand", "plant", "factory", "acquisition", "acquire",
                   "merger", "ipo", "market", "launch", "product line", "headquarters", "industry", "business",
                   "plan", "roadmap", "digital", "sustainability", "战略", "扩张", "工厂", "收购", "并购", "上市",
                   "行业", "业务", "新产品", "规划"),
    "finance": ("budget", "revenue", "sales", "profit", "margin", "capex", "opex", "spend", "spending", "cost",
                "price", "pricing", "invoice", "payment", "cash", "funding", "financial", "earnings", "turnover",
                "forecast", "million", "billion", "预算", "收入", "营收", "利润", "销售额", "资金", "付款",
                "成本", "财务", "亿", "万元"),
    "organisation": ("ceo", "cfo", "cto", "coo", "vp", "director", "head of", "manager", "procurement",
                     "purchasing", "decision", "decides", "decision maker", "buyer", "reorg", "reorganisation",
                     "reorganization", "hired", "hire", "joined", "left", "leaves", "resigned", "promoted",
                     "appointed", "reports to", "org", "team", "board", "champion", "sponsor",
                     "总监", "经理", "总经理", "采购", "决策", "任命", "离职", "退休",
                     "加入", "组织", "架构", "董事", "负责人", "汇报"),
    "competitors": ("competitor", "competitors", "rival", "rivals", "compete", "competing", "competition",
                    "market share", "threat", "their rival", "undercutting", "undercut",
                    "竞争", "对手", "竞品", "市场份额"),
    "suppliers": ("supplier", "suppliers", "vendor", "vendors", "tender", "rfq", "rfp", "quote", "quotation",
                  "discount", "offered", "offer", "quoted", "share of wallet", "single source", "dual source",
                  "sourcing",
                  "switch", "switched", "incumbent", "contract", "renewal", "satisfaction", "complaint",
                  "供应商", "招标", "报价", "折扣", "合同", "份额", "投诉", "采购策略"),
    "downstream": ("customer", "customers", "client", "clients", "end user", "end-user", "distributor",
                   "distributors", "retailer", "retailers", "oem", "demand", "orders", "their customers",
                   "consumer", "consumers", "下游", "客户", "经销商", "终端", "需求", "订单", "消费者"),
}

# A few typical notes per dimension: without keyword evidence a note goes to the dimension whose examples it is
# closest to (mean cosine similarity of the embeddings).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "background": ("They are opening a new plant in Mexico next year",
                   "The company plans to expand into electric vehicles",
                   "Their strategy is to double exports by 2028",
                   "公司计划明年在越南建新厂"),
    "finance": ("Their budget for next year was cut by ten percent",
                "Revenue grew 12% last quarter but margins are down",
                "They delay payments by sixty days",
                "今年的设备预算增加了两千万"),
    "organisation": ("The new head of procurement reports to the COO",
                     "Karen will decide on the vendor standard",
                     "The plant manager left the company last month",
                     "新任采购总监负责供应商选择"),
    "competitors": ("Their main rival is cutting prices aggressively",
                    "A competitor just launched a cheaper product line",
                    "They are losing market share to a Chinese rival",
                    "竞争对手在华南地区降价抢市场"),
    "suppliers": ("Another vendor offered them a lower price for drives",
                  "They are unhappy with their current supplier's delivery times",
                  "The tender for automation parts opens in March",
                  "他们对现有供应商的服务不满意"),
    "downstream": ("Their biggest customer wants shorter lead times",
                   "Retailers are asking them for recyclable packaging",
                   "End users complain about spare part availability",
                   "下游客户要求更快交货"),
}

_WORD = re.compile(r"[a-z0-9][a-z0-9\-']*")


@dataclass
class NoteGuess:
    dimension: str
    confidence: float  # 0..1: the winner's share of the evidence
    method: str  # keywords | embedding | default
    scores: dict[str, float] = field(default_factory=dict)
    matched: list[str] = field(default_factory=list)  # the keywords that decided it


def keyword_scores(text: str) -> tuple[dict[str, float], dict[str, list[str]]]:
    low = text.lower()
    words = " " + " ".join(_WORD.findall(low)) + " "
    scores: dict[str, float] = {}
    matched: dict[str, list[str]] = {}
    for dim, keys in KEYWORDS.items():
        for key in keys:
            ascii_key = key.isascii()
            hit = f" {key} " in words if ascii_key else key in low
            if hit:
                # multi-word phrases are stronger evidence than single words
                scores[dim] = scores.get(dim, 0.0) + (1.5 if " " in key else 1.0)
                matched.setdefault(dim, []).append(key)
    return scores, matched


class NoteClassifier:
    """Guesses a note's dimension. With an embedder, notes without keyword evidence are compared with each
    dimension's title and example notes; without one they default to background."""

    def __init__(self, embedder: Embedder | None = None):
        self.embedder = embedder
        self._dim_vectors: np.ndarray | None = None

    def _vectors(self) -> np.ndarray:
        if self._dim_vectors is None:
            assert self.embedder is not None
            rows = []
            for dim in DIMENSIONS:
                texts = [DIMENSION_TITLES[dim], *EXAMPLES[dim]]
                vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
                rows.append(vectors.mean(axis=0))
            self._dim_vectors = np.stack(rows)
        return self._dim_vectors

    def classify(self, text: str) -> NoteGuess:
        scores, matched = keyword_scores(text)
        if scores:
            best = max(DIMENSIONS, key=lambda d: (scores.get(d, 0.0), -DIMENSIONS.index(d)))
            total = sum(scores.values())
            return NoteGuess(best, round(scores[best] / total, 3), "keywords", scores, matched.get(best, []))
        if self.embedder is not None and text.strip():
            vec = np.asarray(self.embedder.embed([text]), dtype=np.float32)[0]
            sims = self._vectors() @ vec
            order = np.argsort(-sims)
            best = DIMENSIONS[int(order[0])]
            # margin over the runner-up, squashed to 0..1: a rough "how sure" for the confirm step
            margin = float(sims[order[0]] - sims[order[1]])
            return NoteGuess(best, round(min(1.0, 0.5 + margin * 5), 3), "embedding",
                             {d: round(float(s), 4) for d, s in zip(DIMENSIONS, sims, strict=True)})
        return NoteGuess("background", 0.0, "default")


def classify_note(text: str, embedder: Embedder | None = None) -> NoteGuess:
    return NoteClassifier(embedder).classify(text)
