"""Offline generation, never run while serving: encoder distillation, demo data, the domain dictionary."""
