"""SQL storage through SQLAlchemy Core (async): SQLite by default, PostgreSQL to scale out."""
