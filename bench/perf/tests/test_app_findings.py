"""Defects of the app that the benchmark found, kept as regression tests.

The keyset cursor used to OR `id IS NULL` into its pk condition, so PostgreSQL could not seek the
primary key index and a deep cursor page scanned from the channel's first row (fixed in 3349393).
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_cursor_page_after_a_pk_is_a_plain_pk_range_without_an_is_null_branch(make_client, channel):
    customers = CustomerFactory.create_batch(3, channel=channel)
    client = make_client(superuser=True)
    first = client.get(f"/api/v1/channel/{channel.pk}/customers/?cursor=&limit=1")
    next_url = re.search(r'<([^>]*)>;\s*rel="next"', first["Link"]).group(1)

    with CaptureQueriesContext(connection) as queries:
        second = client.get(next_url)

    assert second.status_code == 200
    assert [row["pk"] for row in second.json()] == [customers[1].pk]
    page_queries = [
        q["sql"]
        for q in queries.captured_queries
        if '"customers_customer"' in q["sql"]
        and "LIMIT" in q["sql"].upper()
        and "COUNT(" not in q["sql"].upper()
    ]
    assert len(page_queries) == 1
    assert "IS NULL" not in page_queries[0].upper()
