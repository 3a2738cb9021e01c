"""The LRU cache shared by the engine (query vectors, re-asked questions) and the reader."""

from __future__ import annotations

from spaceqa.cache import LruCache


def test_a_value_is_computed_once_and_the_least_recently_used_leaves_first():
    computed = []
    cache = LruCache(max_items=2)

    def value(key):
        return cache.get_or_compute(key, lambda: computed.append(key) or key.upper())

    assert [value("a"), value("b"), value("a")] == ["A", "B", "A"]
    value("c")  # "b" was used least recently
    assert computed == ["a", "b", "c"]
    value("a")
    value("b")
    assert computed == ["a", "b", "c", "b"]


def test_a_computation_may_use_the_cache_itself():
    cache = LruCache(max_items=10)
    outer = cache.get_or_compute("outer", lambda: cache.get_or_compute("inner", lambda: 1) + 1)
    assert (outer, cache.get_or_compute("inner", lambda: 99)) == (2, 1)
