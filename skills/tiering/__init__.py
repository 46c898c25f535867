"""Tiering: explainable two-axis scoring of accounts into key / strategic / maintenance / opportunity, with history."""
