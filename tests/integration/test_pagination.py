"""Cursor pagination over 1,000 objects: no duplicates, no gaps, in order,
for every sort; filters; cursors bound to their query."""
import concurrent.futures

import pytest


@pytest.fixture
def thousand_groups(daemon):
    def make(i):
        return daemon.ok("POST", "/api/v1/host-groups",
                         {"name": "hg-%04d" % i, "description": "group %d" % (i % 7)}, status=201)["id"]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        ids = list(ex.map(make, range(1000)))
    return daemon, ids


def test_all_pages_no_duplicates_no_gaps(thousand_groups):
    daemon, ids = thousand_groups
    for limit in (1000, 37, 100):
        items = daemon.all_items("/api/v1/host-groups", limit=limit)
        got = [i["id"] for i in items]
        assert len(got) == len(set(got)) == 1000
        assert set(got) == set(ids)
        names = [i["name"] for i in items]
        assert names == sorted(names)


def test_descending_and_by_id(thousand_groups):
    daemon, ids = thousand_groups
    items = daemon.all_items("/api/v1/host-groups", limit=64, sort="-name")
    names = [i["name"] for i in items]
    assert names == sorted(names, reverse=True) and len(names) == 1000
    items = daemon.all_items("/api/v1/host-groups", limit=250, sort="id")
    assert [i["id"] for i in items] == sorted(ids)


def test_pages_stable_while_inserting(thousand_groups):
    daemon, ids = thousand_groups
    first = daemon.ok("GET", "/api/v1/host-groups?limit=300")
    # objects added before the cursor's position must not shift later pages
    daemon.ok("POST", "/api/v1/host-groups", {"name": "aaa-new"}, status=201)
    rest = daemon.all_items("/api/v1/host-groups", limit=300,
                            cursor=first["next_cursor"]) if first["next_cursor"] else []
    got = [i["id"] for i in first["items"]] + [i["id"] for i in rest]
    assert len(got) == len(set(got)) == 1000
    assert set(got) == set(ids)


def test_filter_with_pages(thousand_groups):
    daemon, _ = thousand_groups
    items = daemon.all_items("/api/v1/host-groups", limit=10,
                             filter="description eq 'group 3' and name ge 'hg-0500'")
    assert items and all(i["description"] == "group 3" and i["name"] >= "hg-0500" for i in items)
    expect = [n for n in range(500, 1000) if n % 7 == 3]
    assert sorted(int(i["name"][3:]) for i in items) == expect


def test_fields_selection(thousand_groups):
    daemon, _ = thousand_groups
    page = daemon.ok("GET", "/api/v1/host-groups?limit=5&fields=name")
    assert all(set(i) == {"id", "name"} for i in page["items"])
    items = daemon.all_items("/api/v1/host-groups", limit=400, fields="description", sort="name")
    assert len(items) == 1000


def test_cursor_bound_to_query(thousand_groups):
    daemon, _ = thousand_groups
    page = daemon.ok("GET", "/api/v1/host-groups?limit=10")
    r = daemon.get("/api/v1/host-groups", params={"limit": 10, "cursor": page["next_cursor"],
                                                  "sort": "-name"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"
    r = daemon.get("/api/v1/host-groups", params={"cursor": "garbage!!"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"
