"""PostgreSQL plans: no list filter or sort reads the customers table sequentially.

A generated table (two channels, 40,000 customers) is ANALYZEd, then each list query the API
would run (the selector's queryset, page 1 of 10 + 1 rows) is EXPLAINed.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from saleschannel.channels.models import Channel
from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.customers.representation import customer_values
from saleschannel.customers.selectors import customer_list

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ROWS = 40_000

FILTERS = [
    "",
    "email=u777@example.com",
    "email__startswith=u777",
    "channel_code=C777",
    "phone_number=%2B90555777",
    "first_name=First7",
    "last_name=Last7",
    "erp_code=rp-0777",
    "pk__in=1,2,3",
    "created_date__gte=2025-06-01T00:00:00Z",
    "created_date__date=2025-06-01",
    "modified_date__lt=2020-01-01T00:00:00Z",
    "date_joined__gt=2024-01-01T00:00:00Z",
    "date_of_birth=1990-01-01",
    "is_active=false",
    "email_allowed=true",
    "sms_allowed=true",
    "call_allowed=true",
    "gender=female",
    "user_type=guest",
    "attributes__segment=gold",
    "extra_field__source=import",
    "sort=-email",
    "sort=first_name",
    "sort=-created_date",
    "sort=date_joined",
]


@pytest.fixture(scope="module")
def big_channel(django_db_setup, django_db_blocker):
    """Committed for the module's tests (one insert instead of one per test), removed after."""
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.skip("query plans are checked on PostgreSQL only")
        channel = ChannelFactory()
        small = ChannelFactory()
        _fill(channel, small)
        channel.small_channel = small  # a tenth of the table (the count test's case)
        yield channel
        with connection.cursor() as cursor:  # raw: the ORM would load 40,000 rows to delete them
            cursor.execute(
                "DELETE FROM customers_customer WHERE channel_id IN (%s, %s)",
                [channel.pk, small.pk],
            )
        Channel.objects.filter(pk__in=[channel.pk, small.pk]).delete()


def _fill(channel, small) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_customer (
                channel_id, email, first_name, last_name, phone_number, is_active, channel_code,
                erp_code, attributes, attribute_kwargs, localized_attributes,
                localized_attribute_kwargs, extra_field, email_allowed, sms_allowed, call_allowed,
                date_joined, gender, user_type, date_of_birth, created_date, modified_date, version
            )
            SELECT CASE WHEN g %% 10 = 0 THEN %s ELSE %s END,
                   'u' || g || '@example.com', 'First' || (g %% 500), 'Last' || (g %% 700),
                   '+90555' || g, g %% 3 <> 0, 'C' || g, 'ERP-' || lpad(g::text, 6, '0'),
                   jsonb_build_object('segment', (ARRAY['gold','silver','bronze'])[g %% 3 + 1],
                                      'visits', g %% 50),
                   '{}', '{}', '{}', jsonb_build_object('source', CASE WHEN g %% 97 = 0
                                                       THEN 'import' ELSE 'api' END),
                   g %% 2 = 0, g %% 5 = 0, g %% 7 = 0,
                   now() - (g %% 2000) * interval '1 day',
                   (ARRAY['male','female',NULL])[g %% 3 + 1],
                   (ARRAY['guest','registered',NULL])[g %% 3 + 1],
                   date '1950-01-01' + (g %% 20000),
                   now() - (g %% 1000) * interval '1 day', now(), 1
            FROM generate_series(1, %s) AS g
            """,
            [small.pk, channel.pk, ROWS],
        )
        cursor.execute("ANALYZE customers_customer")


def _explain(sql: str, params=()) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("query", FILTERS)
def test_bounded_count_uses_an_index(big_channel, settings, query):
    """The paginator's count (at most LIST_EXACT_COUNT_CAP + 1 rows) of each filter, on the
    channel with a tenth of the table (on the big one, 90 % of this small table, reading the
    table is legitimately the cheapest way to count 10,001 rows)."""
    small = big_channel.small_channel
    queryset = customer_list(channel=small, params=QueryDict(query)).order_by()
    with CaptureQueriesContext(connection) as captured:
        queryset[: settings.LIST_EXACT_COUNT_CAP + 1].count()
    # The captured SQL has its parameters inlined: a LIKE pattern's % must not be a placeholder.
    plan = _explain(captured.captured_queries[-1]["sql"].replace("%", "%%"))

    assert "Seq Scan on customers_customer" not in plan, plan


@pytest.mark.parametrize(
    ("field", "query"),
    [("attributes", "attributes__segment=gold"), ("extra_field", "extra_field__source=import")],
)
def test_json_key_filters_read_the_channel_keyed_gin_index(big_channel, field, query):
    """The containment test is written exactly as the index expression (migration 0004), so the
    planner can use the GIN whose posting lists hold one channel's rows."""
    queryset = customer_list(channel=big_channel, params=QueryDict(query))
    sql, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = _explain(sql, params)

    lines = [line.strip() for line in plan.splitlines()]
    scan = lines.index(
        next(line for line in lines if f"Index Scan on cust_ch_{field}_gin_idx" in line)
    )
    assert lines[scan + 1].startswith("Index Cond: (jsonb_set('{}'::jsonb, ARRAY[("), plan


@pytest.mark.parametrize("query", FILTERS)
def test_list_query_uses_an_index(big_channel, query):
    queryset = customer_values(customer_list(channel=big_channel, params=QueryDict(query)))[:11]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Seq Scan on customers_customer" not in plan, plan
    assert "customers_customer" in plan
