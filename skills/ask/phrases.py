"""The answer's framing in the question's language (English, Chinese). Quoted data is never translated."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def detect_language(question: str, name_spans: list[tuple[int, int]] = ()) -> str:
    """"zh" when Chinese is written outside the account names (a Chinese name in an English question stays "en")."""
    text = question.casefold()
    for a, b in sorted(name_spans, reverse=True):
        text = text[:a] + " " + text[b:]
    return "zh" if _CJK.search(text) else "en"


ROLE_LABELS = {
    "en": {"decision_maker": "decision maker", "economic_buyer": "economic buyer", "champion": "champion",
           "blocker": "blocker", "influencer": "influencer", "user": "user"},
    "zh": {"decision_maker": "决策人", "economic_buyer": "经济决策人（采购）", "champion": "支持者",
           "blocker": "反对者", "influencer": "影响者", "user": "使用者"},
}
FIELD_LABELS = {
    "en": {"finance.revenue": "revenue", "finance.budget": "budget", "finance.market_share": "market share",
           "finance.sales_volume": "sales volume", "background.strategy": "strategy",
           "organisation.power": "power map", "organisation.structure": "organisation structure"},
    "zh": {"finance.revenue": "营收", "finance.budget": "预算", "finance.market_share": "市场份额",
           "finance.sales_volume": "销量", "background.strategy": "战略", "organisation.power": "权力关系",
           "organisation.structure": "组织结构"},
}
DIM_LABELS = {
    "en": {"background": "background", "finance": "finance", "organisation": "organisation",
           "competitors": "competitors", "suppliers": "suppliers", "downstream": "downstream customers"},
    "zh": {"background": "背景", "finance": "财务", "organisation": "组织", "competitors": "竞争对手",
           "suppliers": "供应商", "downstream": "下游客户"},
}
METRIC_LABELS = {
    "en": {"revenue": "our revenue with them", "profit_margin": "our profit margin", "purchase_share":
           "our share of their purchases", "growth": "growth of our revenue", "satisfaction": "their satisfaction "
           "with us", "complaints": "complaints", "potential": "potential", "footprint": "footprint",
           "tech_cooperation": "technical cooperation"},
    "zh": {"revenue": "我方年销售额", "profit_margin": "我方利润率", "purchase_share": "我方采购份额", "growth":
           "我方销售增长", "satisfaction": "客户对我方满意度", "complaints": "投诉次数", "potential": "潜力",
           "footprint": "覆盖度", "tech_cooperation": "技术合作"},
}
KIND_LABELS = {
    "en": {"renewal": "renewal", "review": "review", "visit": "visit", "anniversary": "anniversary", "other": "date",
           "birthday": "birthday"},
    "zh": {"renewal": "续约", "review": "回顾", "visit": "拜访", "anniversary": "周年", "other": "日期",
           "birthday": "生日"},
}
ATTR_LABELS = {
    "en": {"email": "email", "phone": "phone", "title": "title", "birthday": "birthday"},
    "zh": {"email": "邮箱", "phone": "电话", "title": "职位", "birthday": "生日"},
}
TIER_LABELS = {
    "en": {"key": "key", "strategic": "strategic", "maintenance": "maintenance", "opportunity": "opportunity"},
    "zh": {"key": "关键客户", "strategic": "主要开发客户", "maintenance": "运维客户", "opportunity": "机会客户"},
}

_T = {
    "en": {
        "denied": "That account is not in your portfolio, so I can't share anything about it.",
        "no_access": "You are not set up in kam-bot yet (no person record for {asker}), so I can't show any account.",
        "not_found": "I couldn't find an account called \"{name}\" in your portfolio.",
        "no_account": "Which account do you mean? I couldn't tell from the question.",
        "role": "{role} at {account}: {people}.",
        "role_none": "No {role} is recorded for {account}.",
        "role_instead": "No {role} is recorded for {account}; the {other} on file is {people}.",
        "contacts_known": "Contacts on file: {people}.",
        "power": "Power map: {text}",
        "contacts": "Contacts at {account}: {people}.",
        "no_contacts": "No contacts are recorded for {account}.",
        "field": "{account} {label}: {value}",
        "field_none": "No {label} is recorded for {account}; its {dim} section was last updated {updated} by its "
                      "owner {owner}.",
        "field_none_undated": "No {label} is recorded for {account}; its {dim} section has never been filled in "
                              "(owner {owner}).",
        "dim": "{account} {dim}:",
        "dim_none": "Nothing is recorded about {account}'s {dim} (owner {owner}).",
        "item": "{account}: {line}",
        "metric": "{account} {label}: {value} (as of {as_of}).",
        "metric_none": "No figure for {label} is recorded for {account}.",
        "dates": "Key dates for {account}:",
        "dates_none": "No {kind} date is recorded for {account}.",
        "dates_other": "No {kind} date is recorded for {account}; other key dates:",
        "last_contact": "Last contact with {account}: {line}.",
        "last_contact_none": "No contact with {account} is on record.",
        "tier": "{account} is a {tier} account.",
        "tier_none": "Tiers have not been computed yet (run `kam tiers review`), so {account} has no tier.",
        "notes": "Latest notes on {account}:",
        "notes_none": "No notes are recorded for {account}.",
        "changes": "{n} change(s) to {account} from {start} to {end} (newest first):",
        "changes_none": "Nothing changed on {account} from {start} to {end}.",
        "changes_more": "... and {n} more (`kam history`).",
        "changes_created": "- {date} the profile was created ({source}, {actor}): {n} fields and records",
        "birthday": "Birthdays at {account}: {people}.",
        "birthday_none": "No contact birthdays are recorded for {account}.",
        "overview_head": "{account} ({extra})",
        "stale": "Note: the {dims} information was last updated {updated} ({days} days ago) and may be stale.",
        "search": "From {account}'s profile:",
        "search_none": "I couldn't find that in {account}'s profile.",
        "search_none_any": "I couldn't find that in your accounts.",
        "nearest": "The nearest things on file:",
        "p_tier": "Your {tier} accounts ({n}):",
        "p_tier_none": "None of your accounts is currently tiered {tier}.",
        "p_tiers_missing": "Tiers have not been computed yet (run `kam tiers review`), so I can't list {tier} "
                           "accounts.",
        "p_list": "Your accounts ({n}):",
        "p_renewals": "Renewals {label} ({n}):",
        "p_renewals_none": "No renewals {label} in your accounts.",
        "p_dates": "Key dates {label} ({n}):",
        "p_dates_none": "No key dates {label} in your accounts.",
        "p_supplier": "{name} is a supplier at {n} of your accounts:",
        "p_supplier_none": "{name} is not recorded as a supplier at any of your accounts.",
        "p_competitor": "{name} is listed as a competitor at {n} of your accounts:",
        "p_competitor_none": "{name} is not listed as a competitor at any of your accounts.",
        "p_customer": "{name} is a downstream customer of {n} of your accounts:",
        "p_customer_none": "{name} is not listed as a downstream customer of any of your accounts.",
        "p_no_dm": "Accounts with no decision maker or economic buyer on file ({n}):",
        "p_no_dm_none": "Every one of your accounts has a decision maker or economic buyer on file.",
        "p_stale": "Accounts with sections older than {days} days or never filled ({n}):",
        "p_stale_none": "None of your accounts has a section older than {days} days.",
        "p_not_contacted": "Accounts with no recorded contact in the last {days} days ({n}):",
        "p_not_contacted_none": "You have contacted every one of your accounts in the last {days} days.",
        "p_empty": "You have no accounts in kam-bot yet.",
        "attr": "{person}'s {label} ({account}): {value}",
        "attr_none": "No {label} is recorded for {person} at {account}.",
        "attr_known": "On file: {known}.",
        "no_person": "{name} is not a contact on file at {account}.",
        "no_person_any": "I don't know anyone called \"{name}\" in your accounts.",
        "unknown_name": "I don't know \"{name}\": it is not an account, contact or company in your accounts.",
        "offtopic": "I can answer questions about your accounts: people, dates, figures, suppliers and competitors, "
                    "or lists such as \"my renewals before March\". I'm not sure what you are asking.",
        "evidence": "From {title} ({date}):",
        "evidence_undated": "From {title}:",
        "not_in_fields": "Not in {account}'s profile fields; its documents say:",
        "cond_tier": "{tier} tier",
        "cond_items": "listing {names}",
        "cond_place": "{word}",
        "cond_no_role": "no {roles} on file",
        "cond_no_contacts": "no contacts on file",
        "cond_single": "single-threaded: one contact or none",
        "cond_stale": "sections older than {days} days or never filled",
        "cond_not_contacted": "no recorded contact in the last {days} days",
        "cond_above": "{metric} above {value}",
        "cond_below": "{metric} below {value}",
        "cond_sort": "by {metric}",
        "cond_kinds": "{kinds}",
        "p_accounts": "Your accounts{cond} ({n}):",
        "p_accounts_none": "None of your accounts matches{cond}.",
        "p_count": "{n} of your accounts{cond}.",
        "p_birthdays": "Birthdays {label} ({n}):",
        "p_birthdays_none": "No contact birthdays {label} in your accounts.",
        "more": "... and {n} more.",
        "never": "never",
    },
    "zh": {
        "denied": "该客户不在你的客户组合中，无法提供任何信息。",
        "no_access": "你还没有在 kam-bot 中登记（找不到 {asker}），因此无法查看任何客户。",
        "not_found": "在你的客户中找不到名为“{name}”的客户。",
        "no_account": "你问的是哪个客户？从问题中无法判断。",
        "role": "{account}的{role}：{people}。",
        "role_none": "{account}没有记录{role}。",
        "role_instead": "{account}没有记录{role}；记录中的{other}是 {people}。",
        "contacts_known": "已记录的联系人：{people}。",
        "power": "权力关系：{text}",
        "contacts": "{account}的联系人：{people}。",
        "no_contacts": "{account}没有记录联系人。",
        "field": "{account}的{label}：{value}",
        "field_none": "{account}没有记录{label}；其{dim}部分最后更新于 {updated}（负责人 {owner}）。",
        "field_none_undated": "{account}没有记录{label}；其{dim}部分从未填写（负责人 {owner}）。",
        "dim": "{account}的{dim}：",
        "dim_none": "{account}没有记录{dim}信息（负责人 {owner}）。",
        "item": "{account}：{line}",
        "metric": "{account}的{label}：{value}（截至 {as_of}）。",
        "metric_none": "{account}没有记录{label}。",
        "dates": "{account}的关键日期：",
        "dates_none": "{account}没有记录{kind}日期。",
        "dates_other": "{account}没有记录{kind}日期；其他关键日期：",
        "last_contact": "与{account}的最近一次联系：{line}。",
        "last_contact_none": "没有与{account}联系的记录。",
        "tier": "{account}是{tier}。",
        "tier_none": "客户分级尚未计算（请运行 `kam tiers review`），{account}暂无分级。",
        "notes": "{account}的最新备注：",
        "notes_none": "{account}没有备注。",
        "changes": "{account}在 {start} 至 {end} 期间有 {n} 处变化（最新的在前）：",
        "changes_none": "{account}在 {start} 至 {end} 期间没有变化。",
        "changes_more": "……另有 {n} 处（见 `kam history`）。",
        "changes_created": "- {date} 创建了档案（{source}，{actor}）：{n} 个字段和记录",
        "birthday": "{account}联系人的生日：{people}。",
        "birthday_none": "{account}没有记录联系人生日。",
        "overview_head": "{account}（{extra}）",
        "stale": "注意：{dims}信息最后更新于 {updated}（{days} 天前），可能已过时。",
        "search": "{account}档案中的相关内容：",
        "search_none": "在{account}的档案中找不到相关信息。",
        "search_none_any": "在你的客户中找不到相关信息。",
        "nearest": "最接近的已知信息：",
        "p_tier": "你的{tier}（{n} 个）：",
        "p_tier_none": "你目前没有{tier}。",
        "p_tiers_missing": "客户分级尚未计算（请运行 `kam tiers review`），无法列出{tier}。",
        "p_list": "你的客户（{n} 个）：",
        "p_renewals": "{label}的续约（{n} 个）：",
        "p_renewals_none": "你的客户中{label}没有续约。",
        "p_dates": "{label}的关键日期（{n} 个）：",
        "p_dates_none": "你的客户中{label}没有关键日期。",
        "p_supplier": "{name} 是你的 {n} 个客户的供应商：",
        "p_supplier_none": "你的客户中没有记录 {name} 为供应商。",
        "p_competitor": "{name} 是你的 {n} 个客户的竞争对手：",
        "p_competitor_none": "你的客户中没有记录 {name} 为竞争对手。",
        "p_customer": "{name} 是你的 {n} 个客户的下游客户：",
        "p_customer_none": "你的客户中没有记录 {name} 为下游客户。",
        "p_no_dm": "没有记录决策人或经济决策人的客户（{n} 个）：",
        "p_no_dm_none": "你的每个客户都记录了决策人或经济决策人。",
        "p_stale": "有超过 {days} 天未更新或从未填写部分的客户（{n} 个）：",
        "p_stale_none": "你的客户中没有超过 {days} 天未更新的部分。",
        "p_not_contacted": "最近 {days} 天没有联系记录的客户（{n} 个）：",
        "p_not_contacted_none": "最近 {days} 天你联系过所有客户。",
        "p_empty": "你在 kam-bot 中还没有客户。",
        "attr": "{person}（{account}）的{label}：{value}",
        "attr_none": "{account}的 {person} 没有记录{label}。",
        "attr_known": "已记录：{known}。",
        "no_person": "{account}没有名为 {name} 的联系人。",
        "no_person_any": "你的客户中没有名为“{name}”的联系人。",
        "unknown_name": "我不知道“{name}”：它不是你的客户、联系人或相关公司。",
        "offtopic": "我可以回答关于你的客户的问题：联系人、日期、数据、供应商和竞争对手，或“三月前的续约”这类列表。"
                    "不太明白你的问题。",
        "evidence": "来自 {title}（{date}）：",
        "evidence_undated": "来自 {title}：",
        "not_in_fields": "{account}的档案字段中没有记录；文件中写道：",
        "cond_tier": "{tier}",
        "cond_items": "涉及 {names}",
        "cond_place": "{word}",
        "cond_no_role": "没有记录{roles}",
        "cond_no_contacts": "没有联系人",
        "cond_single": "单线联系：只有一个或没有联系人",
        "cond_stale": "有超过 {days} 天未更新或从未填写的部分",
        "cond_not_contacted": "最近 {days} 天没有联系记录",
        "cond_above": "{metric}高于 {value}",
        "cond_below": "{metric}低于 {value}",
        "cond_sort": "按{metric}排序",
        "cond_kinds": "{kinds}",
        "p_accounts": "你的客户{cond}（{n} 个）：",
        "p_accounts_none": "你的客户中没有符合条件的{cond}。",
        "p_count": "你有 {n} 个客户{cond}。",
        "p_birthdays": "{label}的生日（{n} 个）：",
        "p_birthdays_none": "你的客户中{label}没有联系人生日。",
        "more": "……另有 {n} 个。",
        "never": "从未",
    },
}


def t(lang: str, key: str, **kw: object) -> str:
    return _T.get(lang, _T["en"])[key].format(**kw)


def label(table: dict[str, dict[str, str]], lang: str, key: str) -> str:
    return table.get(lang, table["en"]).get(key, key.replace("_", " "))


def window_label(lang: str, label_en: str) -> str:
    if lang != "zh":
        return label_en
    out = label_en.replace("in the next ", "未来 ").replace(" days", " 天").replace("before ", "")
    return out if not label_en.startswith("before ") else f"{out} 之前"
