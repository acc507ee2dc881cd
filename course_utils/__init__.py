"""Helpers for the CNN course notebooks: devices, plots and, as the course grows, data, models and loops.

Each module says which notebook teaches what it holds.
"""

__version__ = "0.1.0"
