"""labeling_spec package."""
