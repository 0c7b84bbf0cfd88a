"""Tests of the central hub on SQLite and on a real PostgreSQL (a fresh schema per test; skipped,
with the reason, where none runs, unless FIELDKIT_REQUIRE_POSTGRES is set as CI sets it)."""
