"""What a question asks for: a record or field of one account, or a portfolio-wide list, plus its time window.

Plain keyword rules in English and Chinese, ordered from specific to general; no rule names a sample account.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta

TIERS = ("key", "strategic", "maintenance", "opportunity")

# (intent, pattern) for single-account questions; several may match ("decision maker and renewal date")
_ACCOUNT_RULES: list[tuple[str, str]] = [
    ("last_contact", r"last (?:contact|visit|call|meeting|touch|spoke|talked)|when did (?:we|i|you) last|"
                     r"last time (?:we|i)|most recent (?:visit|call|meeting|contact|interaction)|"
                     r"上次|最后一次|最近一次|最近.{0,4}(?:联系|拜访|沟通)"),
    ("role:economic_buyer", r"economic buyer|\beb\b|budget (?:holder|owner)|holds the budget|经济决策人|经济买家"),
    ("role:signer", r"who signs|who approves|signs off|签字|审批人|拍板"),
    ("role:decision_maker", r"decision[- ]?maker|\bdm\b|who decides|who makes the decision|决策人|决策者"),
    ("role:champion", r"champion|sponsor|advocate|supporter|internal coach|支持者|内线|教练"),
    ("role:blocker", r"blocker|blocking|against us|detractor|opponent|sceptic|skeptic|反对|阻碍|阻力"),
    ("role:influencer", r"influencer|影响者|影响人"),
    ("role:user", r"end[- ]user|day-to-day user|使用者"),
    ("birthday", r"birthday|生日"),
    ("contacts", r"contacts?\b|who do (?:we|i) know|stakeholders|people (?:at|we know)|联系人|对接人|关系人"),
    ("metric:revenue", r"(?:our|we|us|my)\b.{0,30}(?:revenue|sales|sell|business)|(?:revenue|sales|business)"
                       r"\s+(?:with|from) (?:us|them)|(?:revenue|sales|business)\b.{0,20}\b(?:we|us)\b|"
                       r"我们.{0,6}(?:收入|营收|销售额)|我方.{0,4}(?:收入|营收|销售额)"),
    ("metric:profit_margin", r"margin|profitab|毛利|利润率"),
    ("metric:purchase_share", r"share of wallet|wallet share|purchase share|our share|采购份额|份额占比|钱包份额"),
    ("metric:growth", r"growth|growing|grow\b|增长|增速"),
    ("metric:complaints", r"complain|投诉"),
    ("metric:potential", r"potential|潜力"),
    ("metric:satisfaction", r"satisf|happy with us|满意"),
    ("metrics", r"metrics|kpis?\b|scorecard|指标"),
    ("field:finance.budget", r"budget|capex|spend(?:ing)? plan|预算"),
    ("field:finance.market_share", r"market share|市场份额|市占"),
    ("field:finance.sales_volume", r"sales volume|volumes?\b|how much do they (?:make|produce)|销量|产量|产能"),
    ("field:finance.revenue", r"revenue|turnover|sales\b|how big|营收|收入|营业额|销售额"),
    ("field:background.strategy", r"strateg|priorit|plans?\b|goals?\b|战略|规划|目标"),
    ("field:organisation.power", r"power|politic|who has influence|权力|话语权"),
    ("field:organisation.structure", r"org(?:anisation|anization)? (?:chart|structure)|structure|reporting|"
                                     r"架构|组织结构"),
    ("dim:suppliers", r"suppliers?|vendors?|suppl(?:y|ies)|spend|who (?:else )?(?:do they buy|sells? to them)|"
                      r"buy from|供应商|供货"),
    ("dim:competitors", r"competitors?|rivals?|compet|竞争|对手"),
    ("dim:downstream", r"customers|clients|downstream|who do they sell|sell to|end markets?|下游|终端客户|他们的客户"),
    ("dim:organisation", r"organi[sz]ation|\borg\b|组织"),
    ("dim:finance", r"financ|财务"),
    ("dim:background", r"background|what (?:do|does) (?:they|it|\w+) do|business model|背景|主营|做什么"),
    ("key_dates:renewal", r"renew|contract (?:end|expir)|expir|续约|续签|到期"),
    ("key_dates:review", r"\breview\b|qbr|business review|回顾"),
    ("key_dates:visit", r"(?:next|planned|upcoming) visit|visit (?:planned|scheduled)|拜访计划|计划.{0,4}拜访"),
    ("key_dates", r"key dates?|important dates?|upcoming|coming up|deadlines?|anniversar|关键日期|重要日期|周年"),
    ("tier", r"\btier\b|tiering|classification|分级|层级|哪一级"),
    ("notes", r"\bnotes?\b|news|anything new|latest|what'?s new|updates?\b|备注|动态|最新"),
    ("overview", r"tell me about|overview|summary|summari[sz]e|brief me|who are they|概况|介绍|情况|简介"),
]
_ACCOUNT_RULES_RE = [(name, re.compile(p)) for name, p in _ACCOUNT_RULES]

_TIER_WORDS = {
    "key": r"key|重点|关键|核心", "strategic": r"strategic|战略",
    "maintenance": r"maintenance|维护|维持", "opportunity": r"opportunit(?:y|ies)|机会",
}
_PORTFOLIO_SCOPE = re.compile(r"\bmy\b|\bmine\b|which|what accounts|\baccounts\b|\blist\b|\ball\b|any of|"
                              r"我的|哪些|哪几个|哪个客户|所有")
_P_NO_DM = re.compile(r"(?:no|without|missing|lack)\b.{0,12}(?:decision[- ]?maker|economic buyer|\bdm\b)|"
                      r"(?:没有|缺少|缺|无).{0,4}决策人")
_P_STALE = re.compile(r"stale|out of date|outdated|not (?:been )?updated|need(?:s)? (?:an )?updat|"
                      r"过期|陈旧|未更新|需要更新")
_P_NOT_CONTACTED = re.compile(
    r"(?:haven'?t|have not|hasn'?t|not|didn'?t|no one has)\s+(?:i |we |been )?(?:contact|talk|spoke|spoken|visit|call|"
    r"touch|reach)|no contact|not been in touch|没(?:有)?(?:联系|拜访|沟通)|未联系")
_P_SUPPLIER = re.compile(
    r"where (?:is|are|does) (?P<a>.+?) (?:a |the |our )?(?:supplier|vendor|supply|supplies)|"
    r"which (?:of my )?accounts (?:buy from|use|source from|work with|have) (?P<b>.+?)(?: as (?:a )?supplier)?\s*\??$|"
    r"(?P<c>.+?)(?:是|为)(?:哪些|哪个)客户的供应商|哪些客户.{0,4}(?:用|采购|使用)(?P<d>.+?)(?:的|\?|？|$)")
_P_COMPETITOR = re.compile(
    r"where (?:do we|does \w+) (?:meet|face|compete with) (?P<a>.+?)\s*\??$|"
    r"which (?:of my )?accounts (?:compete with|have|list) (?P<b>.+?) as (?:a )?(?:competitor|rival)|"
    r"(?P<c>.+?)是哪些客户的竞争对手")
_P_CUSTOMER = re.compile(
    r"which (?:of my )?accounts (?:sell to|supply|serve) (?P<a>.+?)\s*\??$|"
    r"哪些客户.{0,2}(?:卖给|供货给|服务)(?P<b>.+?)(?:\?|？|$)")
_P_RENEWALS = re.compile(r"renewals?|renew|contracts? (?:end|expir)|expir|续约|续签|到期")
_P_DATES = re.compile(r"key dates|upcoming dates|what'?s coming up|coming up|关键日期|近期安排")
_P_LIST = re.compile(r"(?:list|show)?\s*(?:all )?my accounts|which accounts (?:do|can) i (?:have|see|own)|我的客户")
_P_TIER_ANY = re.compile(r"\btiers?\b|分级")

MONTHS = {m: i for i, names in enumerate(
    ["january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul", "august aug",
     "september sept sep", "october oct", "november nov", "december dec"], 1) for m in names.split()}
_ZH_NUM = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "十一": 11,
           "十二": 12}
_MONTH_RE = re.compile(r"\b(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b\.?(?:\s+(\d{4}))?")
_ZH_MONTH_RE = re.compile(r"(\d{4}年)?(十[一二]?|[一二三四五六七八九]|1[0-2]|[1-9])月(?:份)?(底|末)?")
_SPAN_RE = re.compile(r"(?:next|within|in the next|coming|past|last|in)\s+(\d+)\s*(days?|weeks?|months?)|"
                      r"(\d+)\s*(days?|weeks?|months?)|(?:未来|最近|近|过去)?\s*(\d+)\s*(天|周|个月|月)")


@dataclass
class Window:
    start: dt.date
    end: dt.date  # inclusive
    label: str


@dataclass
class Intent:
    kinds: list[str] = field(default_factory=list)  # single-account intents, in rule order
    portfolio: str | None = None  # tier | renewals | dates | supplier | competitor | customer | no_dm | stale ...
    tier: str | None = None
    name: str | None = None  # the supplier/competitor/customer a portfolio question is about
    window: Window | None = None
    days: int | None = None  # "N days" as written


def _days(q: str) -> int | None:
    m = _SPAN_RE.search(q)
    if not m:
        return None
    groups = [g for g in m.groups() if g]
    n, unit = int(groups[0]), groups[1]
    if unit.startswith("week") or unit == "周":
        return n * 7
    if unit.startswith("month") or unit in ("个月", "月"):
        return n * 30
    return n


def _month_start(month: int, year: int | None, today: dt.date) -> dt.date:
    if year:
        return dt.date(year, month, 1)
    day = dt.date(today.year, month, 1)
    return day if day + relativedelta(months=1) > today else day + relativedelta(years=1)


def parse_window(question: str, today: dt.date) -> Window | None:
    """Windows reps write: "before March", "by end of January", "in Q1", "next 60 days", "2027-02-01 之前"."""
    q = question.casefold()
    month: tuple[int, int | None] | None = None
    if m := _MONTH_RE.search(q):
        if not (m.group(1) == "may" and not re.search(r"\b(?:in|before|by|until|till|through|during) may\b", q)):
            month = (MONTHS[m.group(1)], int(m.group(2)) if m.group(2) else None)
    elif m := _ZH_MONTH_RE.search(q):
        raw = m.group(2)
        month = (_ZH_NUM.get(raw) or int(raw), int(m.group(1)[:4]) if m.group(1) else None)
    iso = re.search(r"\b(\d{4}-\d{2}-\d{2})\b", q)
    before = re.search(r"\b(?:before|until|till|prior to|ahead of)\b|之前|以前|前(?!\d)", q)
    by_end = re.search(r"\b(?:by|through|to) (?:the )?end of\b|\bby\b|月底|月末|底前|截至", q)
    if iso:
        day = dt.date.fromisoformat(iso.group(1))
        if before or by_end:
            return Window(today, day - dt.timedelta(days=0 if by_end and not before else 1), f"before {day}")
    if month:
        first = _month_start(month[0], month[1], today)
        last = first + relativedelta(months=1) - dt.timedelta(days=1)
        name = first.strftime("%B %Y")
        if before:
            return Window(today, first - dt.timedelta(days=1), f"before {name}")
        if by_end:
            return Window(today, last, f"by the end of {name}")
        return Window(max(first, today), last, f"in {name}")
    if re.search(r"this month|本月|这个月", q):
        end = dt.date(today.year, today.month, 1) + relativedelta(months=1) - dt.timedelta(days=1)
        return Window(today, end, "this month")
    if re.search(r"next month|下个月|下月", q):
        first = dt.date(today.year, today.month, 1) + relativedelta(months=1)
        return Window(first, first + relativedelta(months=1) - dt.timedelta(days=1), "next month")
    if m := re.search(r"\bq([1-4])\b(?:\s+(\d{4}))?|(?:第)?([一二三四])季度", q):
        quarter = int(m.group(1)) if m.group(1) else _ZH_NUM[m.group(3)]
        first = _month_start(3 * quarter - 2, int(m.group(2)) if m.group(2) else None, today)
        if first + relativedelta(months=3) <= today:
            first += relativedelta(years=1)
        return Window(max(first, today), first + relativedelta(months=3) - dt.timedelta(days=1),
                      f"in Q{quarter} {first.year}")
    if re.search(r"this quarter|本季度", q):
        first = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        return Window(today, first + relativedelta(months=3) - dt.timedelta(days=1), "this quarter")
    if re.search(r"next quarter|下季度|下个季度", q):
        first = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1) + relativedelta(months=3)
        return Window(first, first + relativedelta(months=3) - dt.timedelta(days=1), "next quarter")
    if re.search(r"this year|今年", q):
        return Window(today, dt.date(today.year, 12, 31), "this year")
    if re.search(r"next year|明年", q):
        return Window(dt.date(today.year + 1, 1, 1), dt.date(today.year + 1, 12, 31), "next year")
    n = _days(q)
    if n and not re.search(r"\b(?:past|last|ago)\b|过去|以来", q):
        return Window(today, today + dt.timedelta(days=n), f"in the next {n} days")
    return None


def _capture(m: re.Match) -> str | None:
    value = next((g for g in m.groups() if g), None)
    if not value:
        return None
    value = re.sub(r"^(?:the|a|an)\s+", "", value.strip(" ?？.!,'\""), flags=re.I)
    return value or None


def detect(question: str, today: dt.date, named_accounts: bool) -> Intent:
    q = question.casefold().replace("’", "'")
    intent = Intent(window=parse_window(question, today), days=_days(q))
    portfolio_scope = bool(_PORTFOLIO_SCOPE.search(q))
    if not named_accounts or portfolio_scope:
        if (m := _P_SUPPLIER.search(question.replace("’", "'"))) and (name := _capture(m)):
            intent.portfolio, intent.name = "supplier", name
        elif (m := _P_COMPETITOR.search(question.replace("’", "'"))) and (name := _capture(m)):
            intent.portfolio, intent.name = "competitor", name
        elif (m := _P_CUSTOMER.search(question.replace("’", "'"))) and (name := _capture(m)):
            intent.portfolio, intent.name = "customer", name
        elif _P_NO_DM.search(q):
            intent.portfolio = "no_dm"
        elif _P_STALE.search(q):
            intent.portfolio = "stale"
        elif _P_NOT_CONTACTED.search(q):
            intent.portfolio = "not_contacted"
        elif _P_RENEWALS.search(q):
            intent.portfolio = "renewals"
        elif _P_DATES.search(q):
            intent.portfolio = "dates"
        elif tier := next((t for t, p in _TIER_WORDS.items()
                           if re.search(rf"(?:{p})[\s-]*(?:accounts?|客户)", q)), None):
            intent.portfolio, intent.tier = "tier", tier
        elif _P_LIST.search(q) or (portfolio_scope and _P_TIER_ANY.search(q)):
            intent.portfolio = "list"
        if intent.portfolio and named_accounts and intent.portfolio in ("list", "dates", "renewals") \
                and not re.search(r"which|哪些|哪几个|my accounts|我的客户", q):
            intent.portfolio = None  # "when does Hanshan renew" is about Hanshan
    for name, rx in _ACCOUNT_RULES_RE:
        if rx.search(q):
            intent.kinds.append(name)
    return intent
