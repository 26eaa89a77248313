"""Reports: documents for people (statistics, charts), archived in the data home."""
