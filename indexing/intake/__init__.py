"""Intake: raw files and API posts -> validated, normalised records (nothing lost)."""
