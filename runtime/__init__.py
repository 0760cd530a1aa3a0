"""Composition shared by every entry point: the services, the worker wiring, deployment steps."""
