"""JSON-key filter indexes keyed by channel: GIN on `{"<channel_id>": attributes}`.

The GIN indexes of migration 0002 were `(channel_id, attributes jsonb_path_ops)`: PostgreSQL
intersects the channel's entries with the key's, and the key's posting list holds every channel's
rows (counting a 10,000-customer channel's `segment=gold` read 109,000 entries of a million-row
table). jsonb_path_ops hashes a value with its whole key path, so with the channel id as the top
key each posting list holds one channel's rows. Queries use the same expression
(saleschannel.core.json_filters.ChannelKeyedJSON).
"""

from django.db import migrations

from saleschannel.core.migration_operations import PostgreSQLOnly


def _keyed(column: str) -> PostgreSQLOnly:
    name = f"cust_ch_{column}_gin_idx"
    return PostgreSQLOnly(
        f"DROP INDEX IF EXISTS {name}; CREATE INDEX {name} ON customers_customer USING gin "
        f"((jsonb_set('{{}}'::jsonb, ARRAY[(channel_id)::text], {column})) jsonb_path_ops);",
        f"DROP INDEX IF EXISTS {name}; CREATE INDEX {name} ON customers_customer "
        f"USING gin (channel_id, {column} jsonb_path_ops);",
    )


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_version_and_history")]

    operations = [_keyed("attributes"), _keyed("extra_field")]
