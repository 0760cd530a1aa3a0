"""Persistence: SQLAlchemy models, idempotent writes and Alembic migrations.

A top-level package because the database is shared by three edges that have no other common
home: the activities that write it, the CLI that reads it (``tidegate status``) and the intake
consumers that record rejected input.
"""
