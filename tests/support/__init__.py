"""Helpers shared by test packages (real services for tests: PostgreSQL, ...)."""
