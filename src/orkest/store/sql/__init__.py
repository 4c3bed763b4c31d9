"""The RunStore on SQL databases (SQLite, PostgreSQL); imported only when one is opened."""
