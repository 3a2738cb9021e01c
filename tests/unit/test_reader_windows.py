"""Windows: a centre sentence and the neighbours that fit the budget, previous one first."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spaceqa.reader.windows import window_range


def test_the_centre_alone_when_nothing_else_fits():
    assert window_range(1, [10, 50, 10], budget=55) == (1, 2)


def test_neighbours_are_added_previous_first():
    assert window_range(1, [10, 10, 10], budget=20) == (0, 2)
    assert window_range(1, [10, 10, 10], budget=30) == (0, 3)


def test_growth_continues_on_the_side_that_still_fits():
    assert window_range(2, [40, 5, 5, 5, 5, 5], budget=25) == (1, 6)


def test_a_centre_longer_than_the_budget_is_kept_whole():
    assert window_range(0, [500, 3], budget=100) == (0, 1)


def test_a_centre_outside_the_document_is_an_error():
    with pytest.raises(IndexError):
        window_range(3, [1, 2, 3], budget=10)


@given(st.lists(st.integers(1, 60), min_size=1, max_size=30), st.integers(1, 200), st.data())
def test_windows_hold_their_centre_and_fit_the_budget(counts, budget, data):
    centre = data.draw(st.integers(0, len(counts) - 1))
    first, last = window_range(centre, counts, budget)
    assert first <= centre < last
    assert sum(counts[first:last]) <= budget or (first, last) == (centre, centre + 1)
    # Maximal: neither neighbour outside could have been added.
    used = sum(counts[first:last])
    assert first == 0 or used + counts[first - 1] > budget
    assert last == len(counts) or used + counts[last] > budget
