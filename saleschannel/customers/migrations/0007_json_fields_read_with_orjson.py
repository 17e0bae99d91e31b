"""The customer's JSON columns use core.model_fields.JSONField (reads decoded with orjson).

The column type is unchanged (jsonb; text on SQLite), so only Django's state changes: a plain
AlterField would rebuild the table on SQLite for nothing."""

from django.db import migrations

import saleschannel.core.model_fields

FIELDS = [
    "attribute_kwargs",
    "attributes",
    "extra_field",
    "localized_attribute_kwargs",
    "localized_attributes",
]


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_email_prefix_index_with_id")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name=name,
                    field=saleschannel.core.model_fields.JSONField(blank=True, default=dict),
                )
                for name in FIELDS
            ],
        ),
    ]
