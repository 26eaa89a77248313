"""Maintenance scripts: regenerate the vendored official tables (not used at run time)."""
