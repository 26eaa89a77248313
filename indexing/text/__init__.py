"""Chinese text analysis for the lexical index: normalisation, jieba words, character n-grams."""
