"""Encrypted database, key wrapping, journal, clock, fold, writer thread, audit log."""
