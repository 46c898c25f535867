"""Evaluate the offline Ask path on the development and held-out question sets.

    python bench/ask_eval.py [--set dev|heldout|filings|all] [--json] [--verbose]

Sets: `dev` is tests/eval/questions.yaml over examples/accounts (the engine may be tuned on it); `heldout` is
tests/eval/heldout/questions.yaml over tests/eval/heldout/accounts and `filings` is
tests/eval/heldout/filings/questions.yaml over eight real 10-K filings from ../shared/data/tenk (setup.yaml says
which). The held-out sets were written before the engine they measure and are never tuned on: their failures are
not printed unless --show-heldout-failures is given.

For each set: loads the profiles into a fresh temporary KAM_HOME, indexes it with the offline embedder, runs one tiering
review (tiers are an input of "my key accounts"), then asks every question as its asker on 2026-11-23 and reports:

  * recall@5: the expected chunk among the first five pieces of evidence the engine used (the ids it cites, then
    its hybrid-search hits); also the raw hybrid-search recall@5 (retrieval alone, scoped to the asker and the
    resolved account) for comparison;
  * accuracy: status as expected, every expected fact present, no forbidden fact present;
  * unknown / denied correctness: the share of "unknown" / "denied" cases answered with that status;
  * leaks: answers that cite, or name, an account the asker may not see, or show a forbidden fact of an access or
    prompt-injection case. Goal: zero.

Goals (issue 3): recall@5 >= 0.95, accuracy >= 0.90, zero leaks. tests/test_ask_eval.py asserts them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.kb import KnowledgeBase  # noqa: E402
from skills.ask.engine import ask_traced  # noqa: E402

QUESTIONS = ROOT / "tests" / "eval" / "questions.yaml"
EXAMPLES = ROOT / "examples" / "accounts"
HELDOUT = ROOT / "tests" / "eval" / "heldout"
SHARED = Path(__import__("os").environ.get("KAM_SHARED_DATA", ROOT.parent / "shared" / "data"))
TODAY = dt.date(2026, 11, 23)
SETS = ("dev", "dev-extra", "filings-dev", "filings-dev2", "heldout", "filings")
FILINGS_DEV = ROOT / "tests" / "eval" / "filings_dev"


@dataclass
class CaseResult:
    id: str
    category: str
    ok: bool
    status: str
    expected_status: str
    missing: list[str] = field(default_factory=list)
    forbidden_found: list[str] = field(default_factory=list)
    recall: bool | None = None  # None: no chunk expected
    hybrid_recall: bool | None = None
    leak: str | None = None
    answer: str = ""


@dataclass
class Report:
    cases: int
    recall_at_5: float
    hybrid_recall_at_5: float
    accuracy: float
    unknown_correct: float
    denied_correct: float
    leaks: int
    by_category: dict[str, float]
    mean_ms: float
    failures: list[CaseResult]


def load_cases(path: Path = QUESTIONS) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]


def _chunk_matches(expected: str, ids: list[str]) -> bool:
    account, _, rest = expected.partition(":")
    if rest.startswith("contact:"):  # contact chunks are keyed by a hash of the name (knowledge/chunks.py)
        expected = f"{account}:contact:" + hashlib.sha1(rest[8:].casefold().encode()).hexdigest()[:10]
    if expected.endswith("*"):
        return any(i.startswith(expected[:-1]) for i in ids)
    return expected in ids


def evaluate(kb: KnowledgeBase, cases: list[dict], today: dt.date = TODAY) -> Report:
    store = kb.store
    names: dict[str, list[str]] = {s.id: [s.name, *s.aliases] for s in store.summaries()}
    results: list[CaseResult] = []
    elapsed = 0.0
    for n, case in enumerate(cases):
        conversation = f"eval-{case['id']}-{n}"
        for earlier in case.get("before") or []:
            ask_traced(kb, earlier, case["asker"], conversation, today)
        t0 = time.perf_counter()
        answer, trace = ask_traced(kb, case["question"], case["asker"], conversation, today)
        elapsed += time.perf_counter() - t0
        text = answer.answer + "\n" + "\n".join(f"{s.account} {s.id}" for s in answer.sources)
        missing = [str(f) for f in case.get("facts") or [] if str(f) not in answer.answer]
        forbidden = [str(f) for f in case.get("forbidden") or [] if str(f) in text]
        ok = case["status"] in ("any", answer.status) and not missing and not forbidden
        if case.get("account") and answer.status != "denied":
            ok = ok and case["account"] in answer.account_ids
        person = store.person(case["asker"])
        visible = store.visible_account_ids(person) if person else set()
        leak = None
        if visible is not None:
            hidden_src = [s.id for s in answer.sources if s.id.split(":")[0] not in visible]
            hidden_names = [nm for aid, nms in names.items() if aid not in visible for nm in nms[:1]
                            if nm in answer.answer]
            if hidden_src or hidden_names:
                leak = f"sources {hidden_src} names {hidden_names}"
        if forbidden and case["category"] in ("access", "injection"):
            leak = (leak or "") + f" forbidden {forbidden}"
        chunk = case.get("chunk")
        results.append(CaseResult(
            case["id"], case["category"], ok, answer.status, case["status"], missing, forbidden,
            _chunk_matches(chunk, trace.evidence[:5]) if chunk else None,
            _chunk_matches(chunk, trace.hybrid[:5]) if chunk else None, leak, answer.answer))

    def share(values: list[bool]) -> float:
        return sum(values) / len(values) if values else 1.0

    cats: dict[str, list[bool]] = {}
    for r in results:
        cats.setdefault(r.category, []).append(r.ok)
    return Report(
        cases=len(results),
        recall_at_5=share([r.recall for r in results if r.recall is not None]),
        hybrid_recall_at_5=share([r.hybrid_recall for r in results if r.hybrid_recall is not None]),
        accuracy=share([r.ok for r in results]),
        unknown_correct=share([r.status == "unknown" for r in results if r.expected_status == "unknown"]),
        denied_correct=share([r.status == "denied" for r in results if r.expected_status == "denied"]),
        leaks=sum(1 for r in results if r.leak),
        by_category={c: round(share(v), 3) for c, v in sorted(cats.items())},
        mean_ms=1000 * elapsed / max(1, len(results)),
        failures=[r for r in results if not r.ok or r.leak or r.recall is False],
    )


def sample_kb(home: Path, profiles: Path = EXAMPLES, filings: list[tuple[Path, str | None]] = ()) -> KnowledgeBase:
    """Profiles (and filings) ingested, indexed and tiered once, in `home`."""
    from knowledge.importers.filing import import_filing
    from knowledge.importers.profiles import ingest_dir
    from knowledge.settings import Settings
    from skills.tiering.config import load_config
    from skills.tiering.history import review

    settings = Settings(_env_file=None, kam_home=home)  # type: ignore[call-arg]
    kb = KnowledgeBase.open(settings)
    report = ingest_dir(kb.store, profiles)
    assert not report.skipped, report.skipped
    for path, account in filings:
        import_filing(kb.store, path, account)
    kb.index.sync(kb.store)
    review(kb.store, load_config(), today=TODAY)
    return kb


def set_paths(name: str) -> tuple[Path, Path, list[tuple[Path, str | None]]]:
    """(questions, profiles directory, filings) of a named set."""
    if name == "dev":
        return QUESTIONS, EXAMPLES, []
    if name == "dev-extra":  # a second development set over the same samples, written by another hand
        return QUESTIONS.with_name("dev_extra.yaml"), EXAMPLES, []
    if name == "heldout":
        return HELDOUT / "questions.yaml", HELDOUT / "accounts", []
    base = {"filings-dev": FILINGS_DEV, "filings-dev2": FILINGS_DEV.with_name("filings_dev2")}.get(
        name, HELDOUT / "filings")
    setup = yaml.safe_load((base / "setup.yaml").read_text(encoding="utf-8"))
    filings = [(SHARED / "tenk" / "filings" / f["file"], f.get("account")) for f in setup["filings"]]
    return base / "questions.yaml", base / setup["profiles"], filings


def run_set(name: str) -> Report:
    questions, profiles, filings = set_paths(name)
    with tempfile.TemporaryDirectory(prefix=f"kam-ask-eval-{name}-") as tmp:
        kb = sample_kb(Path(tmp) / "kam", profiles, filings)
        try:
            return evaluate(kb, load_cases(questions))
        finally:
            kb.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print every failing answer")
    parser.add_argument("--set", default="dev", choices=[*SETS, "all"])
    parser.add_argument("--show-heldout-failures", action="store_true",
                        help="also list the held-out sets' failures (never tune on them)")
    args = parser.parse_args()
    names = SETS if args.set == "all" else (args.set,)
    reports = {name: run_set(name) for name in names}
    if args.json:
        print(json.dumps({n: asdict(r) for n, r in reports.items()}, ensure_ascii=False, indent=2, default=str))
        return
    for name, report in reports.items():
        print(f"[{name}] cases {report.cases}  recall@5 {report.recall_at_5:.3f} (hybrid alone "
              f"{report.hybrid_recall_at_5:.3f})  accuracy {report.accuracy:.3f}  unknown "
              f"{report.unknown_correct:.3f}  denied {report.denied_correct:.3f}  leaks {report.leaks}  "
              f"mean {report.mean_ms:.1f} ms/question")
        print("   by category: " + ", ".join(f"{c} {v:.2f}" for c, v in report.by_category.items()))
        if name in ("heldout", "filings") and not args.show_heldout_failures:
            continue
        for f in report.failures:
            print(f"FAIL {f.id} [{f.category}] status {f.status} (want {f.expected_status}) missing {f.missing} "
                  f"forbidden {f.forbidden_found} recall {f.recall} leak {f.leak}")
            if args.verbose:
                print("   " + f.answer.replace("\n", "\n   "))


if __name__ == "__main__":
    main()
