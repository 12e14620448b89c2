"""The database: schema, migrations, engine set-up and every statement campaignd issues."""
