"""Typed settings for tidegate (see :mod:`config.settings`)."""
