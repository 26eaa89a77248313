"""The searchable index: BM25, FAISS, facet tables, filters, and the bundle directory holding them."""
