"""Tests of the `fieldkit` command as a user runs it: real processes on real data directories."""
