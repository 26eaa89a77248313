"""From the store to a served bundle: build stages and pipeline, quality gate, publish, nightly."""
