"""The knowledge base end to end: ingest the samples, incremental re-index, access rule, hybrid retrieval."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import update

from knowledge.importers.profiles import ingest_dir
from knowledge.index import Index, IndexBusy
from knowledge.lexical import ChunkVectorRow
from knowledge.retrieval import hybrid_search
from tests.conftest import EXAMPLES


def test_samples_load_completely(sample_kb):
    settings, store, index = sample_kb
    assert store.count_accounts() == 16
    assert {p.role for p in store.people()} == {"rep", "manager", "admin"}
    hanshan = store.load_profile(store.find_account("寒山包装"))
    assert hanshan.account == "Hanshan Packaging Co."
    assert {s.name for s in hanshan.suppliers.items} >= {"Tetra Pak"}
    assert any(c.role == "decision_maker" for c in hanshan.contacts)
    assert store.find_account("HANSHAN") == store.find_account("Hanshan Packaging Co.")
    assert index.count() == len(index.lexical.hashes()) > 16 * 6


def test_reingest_unchanged_embeds_nothing(sample_kb):
    settings, store, index = sample_kb
    report = ingest_dir(store, EXAMPLES)
    assert report.imported == [] and len(report.unchanged) == 16
    sync = index.sync(store)
    assert sync.embedded == 0 and sync.deleted == 0
    assert sync.kept == index.count() > 100  # every chunk is reported unchanged, also of accounts not looked at
    again = index.sync(store, full=True)
    assert again.embedded == 0 and again.kept == again.unchanged == index.count()  # even a full pass embeds nothing


def _copy_examples(tmp_path: Path) -> Path:
    data = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, data)
    return data


def test_changing_one_dimension_reembeds_only_its_chunk(sample_kb, tmp_path):
    settings, store, index = sample_kb
    data = _copy_examples(tmp_path)
    path = data / "hanshan-packaging.yaml"
    text = path.read_text()
    assert "Dual-source every critical component" in text
    path.write_text(text.replace("Dual-source every critical component", "Single-source critical components"))
    report = ingest_dir(store, data)
    assert len(report.imported) == 1
    sync = index.sync(store)
    assert sync.embedded == 1 and sync.deleted == 0
    hits = hybrid_search(index, "single-source critical components", {store.find_account("Hanshan")}, k=3)
    assert hits[0].chunk_id.endswith(":dim:suppliers") and "Single-source" in hits[0].text


def test_removed_data_disappears_from_index(sample_kb, tmp_path):
    settings, store, index = sample_kb
    data = _copy_examples(tmp_path)
    path = data / "hanshan-packaging.yaml"
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == "- name: Zhou Gang")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("- name:")
               or not lines[i].startswith("  "))
    path.write_text("".join(lines[:start] + lines[end:]))
    ingest_dir(store, data)
    sync = index.sync(store)
    assert sync.deleted == 1
    hanshan = store.find_account("Hanshan")
    assert not any("Zhou Gang" in h.text for h in hybrid_search(index, "Zhou Gang plant manager", {hanshan}, k=10))


def test_notes_captured_elsewhere_survive_reingest(sample_kb, tmp_path):
    settings, store, index = sample_kb
    hanshan = store.find_account("Hanshan")
    store.add_note(hanshan, "competitors", "Yangtze Cartons opened a plant in Suzhou", by="bob@example.com")
    data = _copy_examples(tmp_path)
    path = data / "hanshan-packaging.yaml"
    path.write_text(path.read_text().replace("region: East China", "region: East China (Jiangsu)"))
    ingest_dir(store, data)
    notes = store.load_profile(hanshan).notes
    assert any("Yangtze Cartons opened" in n.text for n in notes)
    index.sync(store)
    hits = hybrid_search(index, "Yangtze Cartons new plant Suzhou", {hanshan}, k=3)
    assert any("Yangtze Cartons opened" in h.text for h in hits)


def test_access_rule(sample_kb):
    settings, store, index = sample_kb
    alice, bob = store.person("alice@example.com"), store.person("U0BOB00001")
    noah, mia, ada = (store.person(e) for e in ("noah@example.com", "mia@example.com", "ada@example.com"))
    names = {s.id: s.name for s in store.summaries()}
    alice_sees = {names[i] for i in store.visible_account_ids(alice)}
    assert "Hanshan Packaging Co." in alice_sees and "Northwind Foods" not in alice_sees
    bob_sees = {names[i] for i in store.visible_account_ids(bob)}
    assert "Cascade Labels & Print" in bob_sees  # owner given as bob's Slack id
    noah_sees = {names[i] for i in store.visible_account_ids(noah)}
    assert "Northwind Foods" in noah_sees and "Hanshan Packaging Co." not in noah_sees
    assert store.visible_account_ids(mia) >= store.visible_account_ids(noah)  # transitive: noah reports to mia
    assert store.visible_account_ids(ada) is None


def test_search_respects_scope_and_crosses_languages(sample_kb):
    settings, store, index = sample_kb
    alice = store.person("alice@example.com")
    scope = store.visible_account_ids(alice)
    for query in ("Tetra Pak share of spend", "budget", "寒山包装的采购决策人是谁"):
        hits = hybrid_search(index, query, scope, k=8)
        assert hits and all(h.account_id in scope for h in hits)
    hits = hybrid_search(index, "寒山包装的采购决策人是谁", scope, k=3)
    assert any("Li Wei" in h.text for h in hits)  # Chinese question, English contact record
    assert hybrid_search(index, "anything", set(), k=3) == []


@pytest.mark.embedded_only
def test_second_process_is_refused_clearly(sample_kb):
    settings, store, index = sample_kb
    with pytest.raises(IndexBusy, match="another kam process"):
        Index(settings, embedder=index.embedder)


def test_a_note_recorded_twice_is_indexed_once(sample_kb):
    settings, store, index = sample_kb
    hanshan = store.find_account("Hanshan")
    for _ in range(2):  # e.g. the same intelligence captured twice from chat on one day
        store.add_note(hanshan, "suppliers", "Tetra Pak offered a 5% rebate for 2027", by="bob@example.com")
    report = index.sync(store)
    assert report.embedded == 1
    hits = hybrid_search(index, "Tetra Pak rebate 2027", {hanshan}, k=5)
    assert sum("5% rebate" in h.text for h in hits) == 1


def test_scoped_vector_search_is_exact_and_matches_chroma(sample_kb):
    settings, store, index = sample_kb
    hanshan = store.find_account("Hanshan")
    scoped = index.lexical.scoped_vectors(index.model_id, {hanshan})
    assert scoped is not None and len(scoped[0]) == len(index.lexical.chunk_ids(hanshan))
    for question in ("who decides on packaging suppliers?", "寒山包装的预算是多少", "Tetra Pak share"):
        ours = index.vector_search(question, {hanshan}, k=4)
        vector = index.embedder.embed([question])
        theirs = index.collection.query(query_embeddings=vector, n_results=4, where={"account_id": hanshan},
                                        include=["distances"])
        assert [cid for cid, _ in ours] == theirs["ids"][0]
        assert [round(s, 4) for _, s in ours] == [round(1 - d, 4) for d in theirs["distances"][0]]


def test_scoped_search_falls_back_to_chroma_without_kept_vectors(sample_kb):
    settings, store, index = sample_kb
    hanshan = store.find_account("Hanshan")
    before = index.vector_search("Tetra Pak share", {hanshan}, k=3)
    with index.engine.begin() as c:  # a ledger written before vectors were kept
        c.execute(update(ChunkVectorRow).values(vector=None))
    assert index.lexical.scoped_vectors(index.model_id, {hanshan}) is None
    assert [c for c, _ in index.vector_search("Tetra Pak share", {hanshan}, k=3)] == [c for c, _ in before]


def test_reingest_of_unchanged_files_and_a_new_file_claiming_an_unchanged_name(sample_kb, tmp_path):
    settings, store, index = sample_kb
    data = _copy_examples(tmp_path)
    first = ingest_dir(store, data)  # from the copy: these paths are now the accounts' sources
    again = ingest_dir(store, data)  # bytes unchanged: not parsed again, all unchanged
    assert sorted(again.unchanged) == sorted(first.imported + first.unchanged) and not again.imported
    assert not again.skipped
    hanshan = store.find_account("Hanshan")
    (data / "zz-copy.yaml").write_text((data / "hanshan-packaging.yaml").read_text())
    clash = ingest_dir(store, data)
    skipped = {Path(p).name: why for p, why in clash.skipped}
    assert set(skipped) == {"zz-copy.yaml", "hanshan-packaging.yaml"}
    assert "duplicate account name" in skipped["hanshan-packaging.yaml"]
    assert store.load_profile(hanshan).account == "Hanshan Packaging Co."  # nothing stored was lost
    (data / "zz-copy.yaml").unlink()
    path = data / "hanshan-packaging.yaml"
    path.write_text(path.read_text().replace("region: East China", "region: [unclosed"))
    broken = ingest_dir(store, data)  # changed bytes are parsed again, and a bad edit is reported
    assert [Path(p).name for p, _ in broken.skipped] == ["hanshan-packaging.yaml"]
    assert "hanshan-packaging.yaml:" in broken.skipped[0][1]


def test_lexical_statistics_stay_exact_through_changes(sample_kb):
    """BM25's inputs (chunk count, total length, per-term document frequency) are kept incrementally: after
    updates and deletions they equal a recount."""
    from sqlalchemy import func, select

    from knowledge.lexical import ChunkRow, ChunkTermRow, LexicalStatsRow, TermRow

    settings, store, index = sample_kb
    hanshan = store.find_account("Hanshan")
    store.add_note(hanshan, "suppliers", "Tetra Pak raised prices; SMC offered a discount", by="alice@example.com")
    index.sync(store)
    with store.session() as s:  # an account removed from the store disappears from the index too
        from knowledge.db import AccountRow

        s.delete(s.get(AccountRow, store.find_account("Acme")))
    index.sync(store)
    with index.engine.connect() as c:
        docs, tokens = c.execute(select(LexicalStatsRow.docs, LexicalStatsRow.tokens)).one()
        assert (docs, tokens) == c.execute(select(func.count(), func.sum(ChunkRow.length))).one()
        kept = dict(c.execute(select(TermRow.term, TermRow.df).where(TermRow.df > 0)).tuples().all())
        recount = dict(c.execute(select(ChunkTermRow.term, func.count()).group_by(ChunkTermRow.term)).tuples().all())
        assert kept == recount
        assert c.scalar(select(func.count()).select_from(TermRow).where(TermRow.df < 0)) == 0
