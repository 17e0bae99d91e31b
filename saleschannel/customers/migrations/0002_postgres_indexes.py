"""PostgreSQL-only indexes for the filters a B-tree on (channel, column, id) cannot serve.

- `email__startswith`: LIKE 'prefix%' needs a pattern_ops index (the database collation is not C).
- `erp_code` (case-insensitive substring): trigram GIN on UPPER(erp_code), led by channel_id.
- `attributes__<key>` / `extra_field__<key>`: jsonb containment (@>) GIN, led by channel_id.
pg_trgm and btree_gin are trusted extensions (PostgreSQL 13+): a database owner may create them.
"""

from django.db import migrations

from saleschannel.core.migration_operations import PostgreSQLOnly


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        PostgreSQLOnly(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE EXTENSION IF NOT EXISTS btree_gin;",
            migrations.RunSQL.noop,
        ),
        PostgreSQLOnly(
            "CREATE INDEX cust_ch_email_prefix_idx ON customers_customer "
            "(channel_id, email varchar_pattern_ops);",
            "DROP INDEX IF EXISTS cust_ch_email_prefix_idx;",
        ),
        PostgreSQLOnly(
            "CREATE INDEX cust_ch_erp_trgm_idx ON customers_customer "
            "USING gin (channel_id, UPPER(erp_code) gin_trgm_ops);",
            "DROP INDEX IF EXISTS cust_ch_erp_trgm_idx;",
        ),
        PostgreSQLOnly(
            "CREATE INDEX cust_ch_attributes_gin_idx ON customers_customer "
            "USING gin (channel_id, attributes jsonb_path_ops);",
            "DROP INDEX IF EXISTS cust_ch_attributes_gin_idx;",
        ),
        PostgreSQLOnly(
            "CREATE INDEX cust_ch_extra_field_gin_idx ON customers_customer "
            "USING gin (channel_id, extra_field jsonb_path_ops);",
            "DROP INDEX IF EXISTS cust_ch_extra_field_gin_idx;",
        ),
    ]
