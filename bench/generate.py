"""Deterministic generator of realistic account profiles (YAML) and a people.yaml, for benchmarks.

    python bench/generate.py DIR --n 1000 [--seed 0]

or, from another bench:  `from bench.generate import generate; generate(directory, n, seed=0)`.

Each profile looks like the hand-written samples in examples/accounts: all six dimensions filled with sentences of
similar length, 2-4 contacts (some with birthdays), key dates, 1-3 interactions, metrics, 0-2 notes: 10-14 chunks
per profile (the samples have 11-15). About 30% of the accounts are written in Chinese. The same (n, seed) always
yields byte-identical files; account names and aliases are unique, so every file ingests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

import yaml

CHINESE_SHARE = 0.3
ACCOUNTS_PER_REP = 50
REPS_PER_MANAGER = 10
TODAY = dt.date(2026, 11, 23)  # fixed, so that the output never depends on the day it is generated

# ------------------------------------------------------------------ English vocabulary
EN_PREFIX = ["Northern", "Pacific", "Golden", "Silver", "Blue", "Summit", "Harbor", "Crescent", "Evergreen", "Atlas",
             "Meridian", "Redwood", "Lakeshore", "Granite", "Cedar", "Aurora", "Falcon", "Orchard", "Prairie",
             "Coastal", "Highland", "Riverbend", "Sterling", "Beacon", "Keystone", "Pinnacle", "Maple", "Sunrise",
             "Vanguard", "Horizon", "Ironwood", "Westbrook", "Bayfield", "Clearwater", "Kingsley", "Oakridge"]
EN_CORE = ["Foods", "Dairy", "Beverage", "Brewing", "Pharma", "Labels", "Logistics", "Packaging", "Circuit", "Auto",
           "Chemicals", "Bakery", "Cosmetics", "Paper", "Plastics", "Nutrition", "Water", "Snacks", "Confectionery",
           "Pet Food", "Coffee", "Juice", "Frozen Foods", "Cold Chain", "Home Care", "Medical", "Textiles", "Wine"]
EN_SUFFIX = ["Co.", "Inc.", "Ltd.", "Group", "AG", "GmbH", "S.A.", "Holdings", "Industries", "Corp.", "B.V.", "AB"]
EN_REGION = ["US West", "US Midwest", "US East", "DACH", "Nordics", "Benelux", "UK & Ireland", "Iberia", "ANZ",
             "Southeast Asia", "Japan", "Korea", "Mexico", "Brazil", "France", "Italy", "Poland", "India"]
EN_INDUSTRY = {"Foods": "Packaged foods", "Dairy": "Dairy", "Beverage": "Soft drinks", "Brewing": "Brewing",
               "Pharma": "Pharmaceuticals", "Labels": "Label printing", "Logistics": "Contract logistics",
               "Packaging": "Packaging converting", "Circuit": "Electronics manufacturing",
               "Auto": "Automotive components", "Chemicals": "Specialty chemicals", "Bakery": "Industrial bakery",
               "Cosmetics": "Personal care", "Paper": "Pulp and paper", "Plastics": "Plastic packaging",
               "Nutrition": "Infant and medical nutrition", "Water": "Bottled water", "Snacks": "Savory snacks",
               "Confectionery": "Confectionery", "Pet Food": "Pet food", "Coffee": "Coffee roasting",
               "Juice": "Juices and smoothies", "Frozen Foods": "Frozen foods", "Cold Chain": "Cold-chain logistics",
               "Home Care": "Home care products", "Medical": "Medical devices", "Textiles": "Technical textiles",
               "Wine": "Wine and spirits"}
FIRST = ["Anna", "Ben", "Clara", "David", "Elena", "Felix", "Grace", "Henrik", "Ines", "James", "Karin", "Lucas",
         "Maria", "Nils", "Olivia", "Peter", "Quinn", "Rosa", "Samuel", "Tara", "Ulrich", "Vera", "William", "Yuki",
         "Sofia", "Marco", "Hannah", "Tom", "Aisha", "Raj", "Mei", "Carlos", "Priya", "Jonas", "Emma", "Oscar"]
LAST = ["Andersson", "Becker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen", "Kowalski",
        "Lindqvist", "Moreau", "Novak", "Olsen", "Patel", "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Weber",
        "Young", "Zhang", "Keller", "Murphy", "Santos", "Nakamura", "Brown", "Silva", "Kim", "Müller", "Holm"]
TITLES = {"decision_maker": ["Procurement Director", "VP Operations", "Chief Procurement Officer", "Plant Director"],
          "economic_buyer": ["CFO", "Finance Director", "Managing Director"],
          "influencer": ["Engineering Manager", "Quality Manager", "Maintenance Lead", "Project Manager"],
          "champion": ["Head of Automation", "Technical Director", "Production Manager"],
          "user": ["Line Supervisor", "Maintenance Technician", "Shift Leader"],
          "blocker": ["Plant Manager", "Purchasing Manager", "IT Director"]}
RIVALS = ["Tetra Pak", "Krones", "Siemens", "SMC", "Festo", "Bosch Rexroth", "Rockwell", "Schneider Electric", "ABB",
          "Omron", "Sidel", "KHS", "Syntegon", "Yaskawa", "Beckhoff", "Markem-Imaje", "Videojet", "Ishida"]
CUSTOMERS = ["Walmart", "Tesco", "Carrefour", "Aldi", "Costco", "Ahold Delhaize", "Rewe", "Lidl", "Kroger", "Coles",
             "Woolworths", "Aeon", "7-Eleven", "Metro", "Sysco", "Amazon Fresh", "Target", "Edeka", "Mercadona"]
EN_STRATEGY = [
    "Wants to cut changeover time by {p}% by {y} and to standardise automation across all plants.",
    "Is moving into premium, recyclable formats and plans a new plant in {r} by {y}.",
    "Focuses on cost leadership; every capex project must pay back within {m} months.",
    "Is consolidating suppliers from eight to three per category to simplify spare parts and service.",
    "Invests in digital traceability and predictive maintenance to raise line efficiency to {p}%.",
]
EN_BACKGROUND = [
    "{name} runs {k} plants in {r} with about {e:,} employees and sells mostly private-label products.",
    "Family-owned {ind} business founded in {f}, {k} plants, about {e:,} employees, exporting to {k2} countries.",
    "Listed {ind} company with {k} production sites in {r}; known for fast launches and short lead times.",
]
EN_POWER = [
    "The {t1} signs every frame agreement; the {t2} sets technical standards and can veto new vendors.",
    "Decisions above {cur} {b}M go to the board; the {t1} prepares the case and the {t2} must sign off.",
    "The {t2} is our strongest supporter, but the {t1} negotiates hard on price and payment terms.",
]
EN_STRUCTURE = [
    "Central procurement in the head office signs frame agreements; plants choose within the approved list.",
    "Each plant buys on its own budget; group engineering only reviews projects above a threshold.",
    "Matrix organisation: category managers report to the CPO, plant engineers to the COO.",
]
EN_INTERACTION = [
    "Plant visit with {c}; walked the new line and agreed a pilot for the servo retrofit.",
    "Pricing call with {c} ahead of the renewal; they asked for a {p}% volume rebate.",
    "Quarterly review with {c}: uptime up {p}% since the retrofit, one open spare-part complaint.",
    "Sent {c} the proposal for the {y} automation project, with a payback calculation.",
    "Meeting with {c} about the tender; {rival} is offering a lower price but longer lead times.",
]
EN_NOTE = [
    "{rival} offered a three-year service bundle at {p}% off list; procurement is tempted.",
    "Heard that the {t1} is leaving in the spring; the successor is not known yet.",
    "The new plant in {r} may be delayed by a year because of permits.",
    "{cust} is asking them for carbon-footprint data on every shipment from next year.",
    "Budget for {y} was cut by {p}%; only safety and energy projects are approved.",
]

# ------------------------------------------------------------------ Chinese vocabulary
ZH_CITY = ("苏州 杭州 宁波 无锡 南京 合肥 青岛 济南 成都 重庆 武汉 长沙 广州 深圳 "
           "厦门 福州 天津 沈阳 西安 郑州 昆明 南昌 常州 佛山 东莞 绍兴 嘉兴 温州").split()
ZH_CORE = ("华瑞 恒通 金盛 永新 宏达 鑫源 泰和 瑞丰 嘉禾 华美 天成 中德 新世纪 "
           "盛世 东方 长江 汇丰 康泰 明珠 远航 星辰 博远 广源 和信 富达 安泰").split()
ZH_INDUSTRY = {"乳业": "乳制品", "食品": "食品加工", "饮料": "饮料", "制药": "医药制造", "包装": "包装印刷",
               "电子": "电子制造", "化工": "精细化工", "物流": "冷链物流", "啤酒": "啤酒酿造", "日化": "日用化学品",
               "纸业": "造纸", "汽车部件": "汽车零部件", "医疗器械": "医疗器械", "调味品": "调味品"}
ZH_FORM = ["股份有限公司", "有限公司", "集团有限公司", "科技有限公司"]
ZH_REGION = ["华东", "华南", "华北", "华中", "西南", "西北", "东北"]
ZH_SURNAME = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡"
ZH_GIVEN = ("伟 芳 静 敏 强 磊 洋 艳 勇 军 杰 娟 涛 明 "
            "超 秀英 建国 晓东 志强 海燕 丽华 国庆 文博 思远 雪梅 建华 婷 鹏").split()
ZH_TITLES = {"decision_maker": "采购总监 运营副总裁 总经理".split(), "economic_buyer": "财务总监 副总经理".split(),
             "influencer": "设备部部长 质量经理 工程项目经理".split(),
             "champion": "技术总监 生产经理 自动化主管".split(),
             "user": "包装线组长 维修技师 班长".split(), "blocker": "工厂厂长 采购经理 信息部经理".split()}
ZH_RIVALS = ("利乐 克朗斯 西门子 欧姆龙 汇川技术 "
             "新美星 达意隆 永创智能 台达 三菱电机 信捷电气").split()
ZH_CUSTOMERS = "盒马鲜生 华润万家 永辉超市 京东 美团优选 大润发 沃尔玛中国 物美 蒙牛 农夫山泉".split()
ZH_BACKGROUND = [
    "总部位于{city}的{ind}企业，拥有 {k} 座工厂，员工约 {e:,} 人，主要产品销往{r}市场。",
    "{city}本地龙头，成立于 {f} 年，{k} 个生产基地，近年来快速向全国扩张。",
    "民营{ind}企业，{k} 座工厂，产品以中高端为主，出口占比约 {p}%。",
]
ZH_STRATEGY = [
    "计划 {y} 年新建智能工厂，目标将灌装线综合效率从 {p}% 提升到 85%。",
    "推进降本增效，所有技改项目要求 {m} 个月内回本。",
    "向高端和环保包装转型，减少供应商数量，集中采购关键部件。",
    "加大数字化投入，推进设备联网和预测性维护，减少非计划停机。",
]
ZH_POWER = [
    "{t1}拥有最终签字权；{t2}负责技术评审，可以否决新供应商。",
    "超过 {b} 百万元的项目需要董事会批准；{t1}准备方案，{t2}签字。",
    "{t2}是我方的坚定支持者，但{t1}在价格和账期上非常强势。",
]
ZH_STRUCTURE = ["集团采购中心统一招标，工厂设备部提出技术要求。", "各工厂独立预算采购，集团工程部只审核大项目。",
                "事业部制，各事业部有独立的采购和工程团队。"]
ZH_INTERACTION = [
    "与{c}在工厂现场讨论伺服改造试点方案，对方希望年底前完成。",
    "与{c}电话沟通续约价格，对方要求 {p}% 的返利。",
    "季度业务回顾：改造后设备开动率提升 {p}%，还有一个备件投诉未关闭。",
    "向{c}提交 {y} 年自动化项目建议书，附投资回报测算。",
    "与{c}会面讨论招标，{rival}报价更低但交期更长。",
]
ZH_NOTE = [
    "{rival}向对方提出三年服务包，报价比目录价低 {p}%。",
    "听说{t1}明年春天离职，接任者尚未确定。",
    "新工厂可能因审批问题推迟一年。",
    "{cust}要求对方从明年起提供每批货的碳足迹数据。",
    "{y} 年预算削减 {p}%，只批准安全和节能项目。",
]


class _Dumper(yaml.CSafeDumper if hasattr(yaml, "CSafeDumper") else yaml.SafeDumper):  # type: ignore[misc]
    pass


def _day(rng: random.Random, lo: int, hi: int) -> dt.date:
    """A date between lo and hi days from TODAY (negative = past)."""
    return TODAY + dt.timedelta(days=rng.randint(lo, hi))


class _Names:
    """Unique account names and aliases across one generated set (the ingest skips duplicates)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, name: str) -> str:
        base, n = name, 2
        while name.casefold() in self.used:
            name, n = f"{base} {n}", n + 1
        self.used.add(name.casefold())
        return name


def _contact_roles(rng: random.Random) -> list[str]:
    count = rng.choice((2, 2, 2, 3, 3, 4))
    roles = ["decision_maker"] if rng.random() < 0.85 else []  # some accounts lack one, as in real data
    roles += rng.sample(["economic_buyer", "influencer", "champion", "user", "blocker"], count - len(roles))
    return roles


def _english(rng: random.Random, names: _Names, owner: str, team: list[str], editors: list[str]) -> dict:
    prefix, core, suffix = rng.choice(EN_PREFIX), rng.choice(EN_CORE), rng.choice(EN_SUFFIX)
    account = names.take(f"{prefix} {core} {suffix}")
    alias = names.take(f"{prefix} {core}" if rng.random() < 0.5 else f"{prefix}{core.split()[0]}")
    region, ind = rng.choice(EN_REGION), EN_INDUSTRY[core]
    y, p, m = rng.randint(2027, 2030), rng.randint(5, 40), rng.choice((12, 18, 24, 36))
    roles = _contact_roles(rng)
    people = []
    for role in roles:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        people.append((f"{first} {last}", role, rng.choice(TITLES[role]),
                       f"{first.lower()}.{last.lower()}@{prefix.lower()}{core.split()[0].lower()}.example"))
    t1, t2 = people[0][2], people[-1][2]
    rivals, custs = rng.sample(RIVALS, 3), rng.sample(CUSTOMERS, 3)
    fill = {"name": account, "r": region, "ind": ind.lower(), "k": rng.randint(2, 9), "k2": rng.randint(5, 40),
            "e": rng.randrange(400, 20000, 50), "f": rng.randint(1950, 2010), "y": y, "p": p, "m": m,
            "t1": t1, "t2": t2, "cur": "USD", "b": rng.randint(1, 20), "rival": rivals[0], "cust": custs[0]}
    revenue = rng.randint(50, 9000)
    profile = {
        "account": account, "aliases": [alias], "owner": owner, "team": team, "industry": ind, "region": region,
        "background": {
            "summary": rng.choice(EN_BACKGROUND).format(**fill),
            "strategy": rng.choice(EN_STRATEGY).format(**fill),
            "updated": _day(rng, -400, -10)},
        "finance": {
            "revenue": f"USD {revenue}M (FY2025), {rng.choice(('up', 'down', 'flat at'))} {rng.randint(0, 15)}%",
            "sales_volume": f"About {rng.randint(10, 900)} million units per year across {fill['k']} plants",
            "market_share": f"Roughly {rng.randint(2, 35)}% of the {region} {ind.lower()} market",
            "budget": f"USD {rng.randint(1, 60)}M capex for {y}, about {rng.randint(10, 40)}% in our category",
            "summary": rng.choice(["Healthy margins and low debt.", "Margins squeezed by energy and raw-material "
                                   "costs.", "Private-equity owned; cash is managed tightly."]),
            "updated": _day(rng, -300, -5)},
        "organisation": {
            "structure": rng.choice(EN_STRUCTURE),
            "power": rng.choice(EN_POWER).format(**fill),
            "summary": "Technical approval first, then commercial negotiation.",
            "updated": _day(rng, -400, -10)},
        "competitors": {
            "summary": f"Competes on {rng.choice(('price', 'quality', 'lead time', 'innovation'))} in {region}.",
            "items": [{"name": f"{rng.choice(EN_PREFIX)} {core}", "notes": rng.choice((
                "Aggressive on price; weaker in quality.", "Strong brand and national coverage.",
                "Fast-growing challenger backed by private equity."))} for _ in range(2)],
            "updated": _day(rng, -500, -20)},
        "suppliers": {
            "strategy": rng.choice(("Dual-source every critical component.", "Prefers suppliers with local stock "
                                    "and service.", "Lowest total cost of ownership wins, reviewed yearly.")),
            "items": [{"name": r, "share": round(rng.uniform(0.05, 0.5), 2), "satisfaction": rng.randint(2, 5),
                       "notes": rng.choice(("Expensive, long lead times.", "Good local service.",
                                            "Frequent line stoppages reported.", "Installed base on older lines."))}
                      for r in rivals[:2]],
            "updated": _day(rng, -300, -5)},
        "downstream": {
            "summary": f"Sells mainly to retailers in {region}; demand for recyclable packs is rising.",
            "items": [{"name": c, "needs": rng.choice((
                "Shorter lead times and more frequent deliveries.", "Carbon-footprint data on every shipment.",
                "Promotional packs with fast changeovers.", "Full traceability down to the batch."))}
                for c in custs[:2]],
            "updated": _day(rng, -500, -20)},
        "contacts": [],
        "key_dates": [],
        "interactions": [],
        "metrics": {},
        "notes": [],
    }
    for name, role, title, email in people:
        contact = {"name": name, "title": title, "role": role, "influence": rng.choice(("high", "medium", "low")),
                   "email": email, "notes": rng.choice(("Values stable pricing and local stock.",
                                                        "Sponsored the retrofit pilot.", "Sceptical of imported "
                                                        "parts.", "Wants monthly uptime reports."))}
        if rng.random() < 0.6:
            contact["birthday"] = (f"{rng.randint(1960, 1995)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                                   if rng.random() < 0.6 else f"--{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        profile["contacts"].append(contact)
    _common(rng, profile, fill, [p[0] for p in people], owner, editors, EN_INTERACTION, EN_NOTE,
            ("Annual supply agreement renewal", "Quarterly business review", "Plant visit", "Partnership anniversary"))
    return profile


def _chinese(rng: random.Random, names: _Names, owner: str, team: list[str], editors: list[str]) -> dict:
    city, core = rng.choice(ZH_CITY), rng.choice(ZH_CORE)
    short, ind = rng.choice(list(ZH_INDUSTRY.items()))
    account = names.take(f"{city}{core}{short}{rng.choice(ZH_FORM)}")
    alias = names.take(f"{core}{short}" if rng.random() < 0.5 else f"{city}{core}")
    region = rng.choice(ZH_REGION)
    y, p, m = rng.randint(2027, 2030), rng.randint(5, 40), rng.choice((12, 18, 24, 36))
    roles = _contact_roles(rng)
    people = [(rng.choice(ZH_SURNAME) + rng.choice(ZH_GIVEN), role, rng.choice(ZH_TITLES[role])) for role in roles]
    t1, t2 = people[0][2], people[-1][2]
    rivals, custs = rng.sample(ZH_RIVALS, 3), rng.sample(ZH_CUSTOMERS, 3)
    fill = {"city": city, "ind": ind, "r": region, "k": rng.randint(2, 9), "e": rng.randrange(400, 20000, 50),
            "f": rng.randint(1985, 2012), "y": y, "p": p, "m": m, "t1": t1, "t2": t2, "b": rng.randint(1, 50),
            "rival": rivals[0], "cust": custs[0]}
    profile = {
        "account": account, "aliases": [alias], "owner": owner, "team": team, "industry": ind, "region": region,
        "background": {"summary": rng.choice(ZH_BACKGROUND).format(**fill),
                       "strategy": rng.choice(ZH_STRATEGY).format(**fill), "updated": _day(rng, -400, -10)},
        "finance": {
            "revenue": f"人民币 {rng.randint(2, 300)} 亿元（2025 财年），同比增长 {rng.randint(0, 15)}%",
            "sales_volume": f"年产约 {rng.randint(5, 200)} 万吨",
            "market_share": f"{region}市场约 {rng.randint(2, 30)}%",
            "budget": f"{y} 年自动化预算约 {rng.randint(1, 30)} 千万元，其中我方品类约 {rng.randint(10, 40)}%",
            "summary": rng.choice(("营收稳定增长，毛利率受原材料价格影响波动。", "现金流紧张，付款周期较长。",
                                   "盈利能力强，负债率低。")),
            "updated": _day(rng, -300, -5)},
        "organisation": {"structure": rng.choice(ZH_STRUCTURE), "power": rng.choice(ZH_POWER).format(**fill),
                         "summary": "技术评分占 40%，商务评分占 60%。", "updated": _day(rng, -400, -10)},
        "competitors": {
            "summary": f"面临全国性企业在{region}的价格竞争。",
            "items": [{"name": f"{rng.choice(ZH_CITY)}{rng.choice(ZH_CORE)}{short}",
                       "notes": rng.choice(("本地龙头，渠道优势明显。", "价格战压力大。", "新进入者，扩张很快。"))}
                      for _ in range(2)],
            "updated": _day(rng, -500, -20)},
        "suppliers": {
            "strategy": rng.choice(("关键部件至少两家供应商竞争。", "优先选择有本地库存和服务的供应商。",
                                    "每年按总拥有成本评审供应商。")),
            "items": [{"name": r, "share": round(rng.uniform(0.05, 0.5), 2), "satisfaction": rng.randint(2, 5),
                       "notes": rng.choice(("服务好但价格高。", "交期长，备件不足。", "部分老线设备。"))}
                      for r in rivals[:2]],
            "updated": _day(rng, -300, -5)},
        "downstream": {
            "summary": "主要通过商超和电商渠道销售，客户要求更短交期和更多小包装规格。",
            "items": [{"name": c, "needs": rng.choice(("每日配送，小批量多品种。", "促销装频繁切换，要求快速换型。",
                                                       "全程追溯到批次。"))} for c in custs[:2]],
            "updated": _day(rng, -500, -20)},
        "contacts": [], "key_dates": [], "interactions": [], "metrics": {}, "notes": [],
    }
    for name, role, title in people:
        contact = {"name": name, "title": title, "role": role, "influence": rng.choice(("high", "medium", "low")),
                   "notes": rng.choice(("重视价格稳定和本地库存。", "支持伺服改造试点。", "对进口部件有顾虑。",
                                        "希望每月收到设备开动率报告。"))}
        if rng.random() < 0.6:
            contact["birthday"] = f"--{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        profile["contacts"].append(contact)
    _common(rng, profile, fill, [p[0] for p in people], owner, editors, ZH_INTERACTION, ZH_NOTE,
            ("年度供货协议续签", "季度业务回顾", "工厂拜访", "合作周年"))
    return profile


def _common(rng: random.Random, profile: dict, fill: dict, contact_names: list[str], owner: str,
            editors: list[str], interactions: list[str], notes: list[str], date_titles: tuple[str, ...]) -> None:
    """Key dates, interactions, metrics and notes: the same shape in both languages."""
    kinds = ("renewal", "review", "visit", "anniversary")
    for kind, title in rng.sample(list(zip(kinds, date_titles, strict=True)), rng.randint(1, 3)):
        entry: dict = {"date": _day(rng, 10, 400), "kind": kind, "title": title}
        if kind == "renewal":
            entry["remind"] = [90, 30, 7]
        profile["key_dates"].append(entry)
    profile["key_dates"].sort(key=lambda d: d["date"])
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        text = rng.choice(interactions).format(**{**fill, "c": rng.choice(contact_names), "p": rng.randint(3, 25)})
        profile["interactions"].append({"date": _day(rng, -200, -1), "kind": rng.choice(("visit", "call", "meeting",
                                                                                          "email")),
                                        "by": owner, "summary": text})
    profile["interactions"].sort(key=lambda d: d["date"], reverse=True)
    profile["metrics"] = {
        "revenue": rng.randrange(50_000, 6_000_000, 1000), "profit_margin": round(rng.uniform(0.02, 0.3), 2),
        "purchase_share": round(rng.uniform(0.05, 0.8), 2), "growth": round(rng.uniform(-0.15, 0.4), 2),
        "potential": rng.randint(1, 5), "footprint": rng.randint(1, 5), "tech_cooperation": rng.randint(1, 5),
        "satisfaction": round(rng.uniform(2.0, 5.0), 1), "complaints": rng.randint(0, 6),
        "as_of": dt.date(2026, 10, 31)}
    dims = ("background", "finance", "organisation", "competitors", "suppliers", "downstream")
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        text = rng.choice(notes).format(**{**fill, "p": rng.randint(3, 25)})
        profile["notes"].append({"date": _day(rng, -120, -1), "dimension": rng.choice(dims),
                                 "by": rng.choice(editors), "text": text})
    for key in ("notes",):
        if not profile[key]:
            del profile[key]


def _people(n: int) -> tuple[list[dict], list[str]]:
    reps = max(1, -(-n // ACCOUNTS_PER_REP))
    managers = max(1, -(-reps // REPS_PER_MANAGER))
    people: list[dict] = [{"email": "admin@example.com", "name": "Ada Admin", "role": "admin"}]
    zones = ["Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles", "Pacific/Auckland", "Europe/London"]
    for m in range(managers):
        people.append({"email": f"manager{m:03d}@example.com", "name": f"Manager {m:03d}", "role": "manager",
                       "timezone": zones[m % len(zones)]})
    rep_emails = []
    for r in range(reps):
        email = f"rep{r:04d}@example.com"
        rep_emails.append(email)
        people.append({"email": email, "name": f"Rep {r:04d}", "slack_id": f"U0REP{r:05d}", "role": "rep",
                       "manager": f"manager{r // REPS_PER_MANAGER:03d}@example.com", "timezone": zones[r % len(zones)]})
    return people, rep_emails


def generate(directory: Path | str, n: int, seed: int = 0) -> Path:
    """Write n profiles (account-00000.yaml ...) and people.yaml into directory; returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    people, reps = _people(n)
    (directory / "people.yaml").write_text(
        yaml.dump(people, Dumper=_Dumper, allow_unicode=True, sort_keys=False), encoding="utf-8")
    names = _Names()
    for i in range(n):
        owner = reps[i % len(reps)]
        team = rng.sample([r for r in reps if r != owner] or [owner], min(len(reps) - 1, rng.randint(0, 2)))
        editors = [owner, *team]
        make = _chinese if rng.random() < CHINESE_SHARE else _english
        profile = make(rng, names, owner, team, editors)
        text = yaml.dump(profile, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=110)
        (directory / f"account-{i:05d}.yaml").write_text(f"# generated by bench/generate.py (seed {seed})\n{text}",
                                                         encoding="utf-8")
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--n", type=int, default=1000, help="number of account profiles")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = generate(args.directory, args.n, args.seed)
    print(f"wrote {args.n} profiles and people.yaml to {out}")


if __name__ == "__main__":
    main()
