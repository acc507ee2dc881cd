"""The photos the notebooks use, installed with course_utils as course_utils.images (see README.md)."""
