"""Maintenance scripts of the course (not part of the installed package)."""
