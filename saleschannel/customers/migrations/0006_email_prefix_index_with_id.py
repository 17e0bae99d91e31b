"""`email__startswith` in pk order: the prefix index ends with the id, so the page's ids come
from an index-only scan of the prefix's entries (core.pagination.RangeOrderHint) instead of
fetching every matching row to sort them by id."""

from django.db import migrations

from saleschannel.core.migration_operations import PostgreSQLOnly

INDEX = "cust_ch_email_prefix_idx"


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_drop_redundant_channel_index")]

    operations = [
        PostgreSQLOnly(
            f"DROP INDEX IF EXISTS {INDEX}; CREATE INDEX {INDEX} ON customers_customer "
            "(channel_id, email varchar_pattern_ops, id);",
            f"DROP INDEX IF EXISTS {INDEX}; CREATE INDEX {INDEX} ON customers_customer "
            "(channel_id, email varchar_pattern_ops);",
        ),
    ]
