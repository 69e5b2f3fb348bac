"""Screening services, by concern: stage settings, assignment (next), votes, conflicts,
pilot rounds."""
