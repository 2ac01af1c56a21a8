from app.db import new_id


def test_ids_made_in_a_burst_sort_in_creation_order():
    ids = [new_id() for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 for i in ids)
