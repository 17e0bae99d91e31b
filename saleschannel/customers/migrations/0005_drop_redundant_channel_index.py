"""The channel foreign key loses its own index: cust_ch_pk_idx (channel, id) serves every lookup
by channel, and every write maintained both. Only the index is dropped (Django's AlterField would
re-create the foreign key, which re-checks every row, and rebuild the table on SQLite)."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "customers_customer_channel_id_adad8e65"


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0002_category_tree_text"),
        ("customers", "0004_channel_keyed_json_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="channel",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="customers",
                        to="channels.channel",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX};",
                    f"CREATE INDEX {INDEX} ON customers_customer (channel_id);",
                ),
            ],
        ),
    ]
