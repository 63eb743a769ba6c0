"""A trigram index on piece and tune titles, so the gallery's title search stays fast at
100,000 pieces on PostgreSQL. SQLite (development) has no such index and needs none."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS generator_piece_title_upper_trgm "
        "ON generator_piece USING gin (UPPER(title::text) gin_trgm_ops)"
    )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS generator_tune_title_upper_trgm "
        "ON generator_tune USING gin (UPPER(title::text) gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS generator_piece_title_upper_trgm")
    schema_editor.execute("DROP INDEX IF EXISTS generator_tune_title_upper_trgm")


class Migration(migrations.Migration):
    dependencies = [("generator", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
