"""Small utilities shared by ember's training tools."""

from ember.utils.progress import ProgressBar, format_duration

__all__ = ["ProgressBar", "format_duration"]
