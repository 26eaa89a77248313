"""Realistic, deterministic demo data: patents, SME demands and graded judgements (qrels).

``generate(out_dir, n_patents=20000, n_demands=5000, seed=0) -> DemoFiles``. The
vocabulary (areas, subjects with consistent IPC codes, problems/effects in patent and in
plain SME wording, applicants, synonyms, title patterns) is data: ``vocab.yaml``,
``subjects_*.yaml`` and ``patterns.yaml`` beside this file, merged by ``load_vocab()``.
"""

from indexing.training.demo_data.generator import DemoFiles, generate, load_vocab

__all__ = ["DemoFiles", "generate", "load_vocab"]
