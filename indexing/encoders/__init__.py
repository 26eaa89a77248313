"""Text encoders (the semantic view), the static-embedding fast path and the embedding cache."""
