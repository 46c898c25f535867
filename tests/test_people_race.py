"""Two importers writing the same people at the same moment (two `kam ingest` of one directory on PostgreSQL):
both succeed, neither reports the other's rows as a slack_id clash."""

from __future__ import annotations

import threading
from pathlib import Path

from knowledge.importers.sync import sync_people
from knowledge.profile import Person
from knowledge.store import Store
from tests.conftest import make_settings


def test_two_writers_of_the_same_new_people_both_succeed(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    for round_ in range(10):
        store = Store(make_settings(tmp_path / f"home{round_}"))  # an empty database each round: both insert
        people = [Person(email=f"p{round_}-{i}@example.com", name=f"P {i}", slack_id=f"U{round_:03d}{i:03d}",
                         role="rep") for i in range(8)]
        start = threading.Barrier(2)

        def write(people: list[Person] = people, start: threading.Barrier = start, store: Store = store) -> None:
            start.wait()
            try:
                sync_people(store, people, Path("/imports/people.yaml"))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=write) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(store.people()) == 8
        store.engine.dispose()
    assert errors == []
