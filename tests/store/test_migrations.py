from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from store.models import Base


def test_the_migrations_produce_exactly_the_models_schema(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_the_unique_guards_of_the_spec_exist_in_the_database(engine):
    inspector = inspect(engine)

    def unique_columns(table):
        constraints = inspector.get_unique_constraints(table)
        indexes = [i for i in inspector.get_indexes(table) if i["unique"]]
        return {tuple(c["column_names"]) for c in constraints + indexes}

    assert ("sid",) in unique_columns("messages")
    assert ("whatsapp_number",) in unique_columns("restaurants")
    assert ("restaurant_id", "year", "month") in unique_columns("monthly_usage")
    assert ("restaurant_id", "date") in unique_columns("daily_usage")
    assert ("restaurant_id", "address") in unique_columns("customers")
    assert ("token_hash",) in unique_columns("personal_access_tokens")
    assert ("token_hash",) in unique_columns("api_keys")
