"""The books' table: every retailer's accounts in one array, and the 52-week revenue history."""

from __future__ import annotations

import numpy as np

from sim.retailers import ACCOUNT_FIELDS, Accounts, Books


def test_a_retailers_accounts_are_its_column_of_the_table():
    books = Books(3)
    acc = Accounts(books, 1)
    acc.rewards += 2.5
    acc.rewards += 0.25
    books.row("rent")[:] += np.array([1.0, 4.0, 9.0])
    assert books.row("rewards").tolist() == [0.0, 2.75, 0.0]
    assert acc.rent == 4.0 and acc.operating_costs == 4.0 and acc.gross_profit == -2.75
    acc.clear()
    assert books.table[:, 1].tolist() == [0.0] * len(ACCOUNT_FIELDS)
    assert books.row("rent").tolist() == [1.0, 0.0, 9.0]  # a retailer's clear leaves the others' books
    books.clear()
    assert books.table.tolist() == [[0.0] * 3] * len(ACCOUNT_FIELDS)
    assert acc.rewards == 0.0 and acc.rent == 0.0  # the view reads the cleared table


def test_the_revenue_history_holds_the_last_52_weeks_oldest_first_and_restarts_when_forgotten():
    books = Books(2)
    for week in range(60):
        books.book_revenue(np.array([week, 10.0 * week]), np.array([0.5 * week, 0.0]))
    held = books.revenue_history(0)
    assert len(held) == 52
    assert held[0] == (8.0, 4.0) and held[-1] == (59.0, 29.5)
    books.forget_revenue(0)
    assert books.revenue_history(0) == []
    assert len(books.revenue_history(1)) == 52  # the other retailer's history is kept
    books.book_revenue(np.array([100.0, 1.0]), np.array([1.0, 2.0]))
    assert books.revenue_history(0) == [(100.0, 1.0)]
    assert books.revenue_history(1)[-1] == (1.0, 2.0) and books.revenue_history(1)[0] == (90.0, 0.0)
