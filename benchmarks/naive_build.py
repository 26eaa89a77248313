"""Build benchmark: `patmatch build` stage by stage vs a naive script doing the same work.

The naive script is what one would write first: ``jieba.lcut`` per text, one bm25s index
per field, sentence-transformers ``encode``, a faiss ``IndexFlatIP``, for both sides,
saving everything. It runs twice: ``naive_same_work`` indexes the same fields as
``patmatch build`` (BM25 words of title/abstract/claims/labels and their character
bigram/char fields, embedded title/abstract/first claim: the issue's "doing the same
work"), ``naive`` the minimal "title。abstract" text per record (much less work than
patmatch: a floor for any script). patmatch additionally
writes facets, docs, labels and checksums, and is timed cold and after a 1 % change.

    .venv/bin/python -m benchmarks.naive_build --patents 20000 --demands 5000 \
        [--encoder default|tiny|<model dir>] [--out benchmarks/results/build.json]

``tiny`` (the default when no distilled model is installed) is a deterministic
StaticEmbedding over the corpus vocabulary from ``make_tiny_encoder``: the same
architecture as the distilled default encoder, so the costs compare, built in seconds.
Both pipelines always use the same encoder directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any


def _dir_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def naive_build(sides: dict[str, dict[str, list[str]]], bm25_fields: dict[str, list[str]],
                embed_fields: dict[str, dict[str, float]], model_dir: Path,
                out: Path) -> dict[str, float]:
    """What one would write first: ``jieba.lcut`` per text, one ``bm25s.BM25`` per field,
    ``SentenceTransformer.encode`` per embedded field (weighted sum, renormalised), a faiss
    ``IndexFlatIP``, for both sides, saving everything. ``sides``: side -> field -> texts."""
    import bm25s
    import faiss
    import jieba
    import numpy as np
    from sentence_transformers import SentenceTransformer

    t: dict[str, float] = {}

    def add(stage: str, t0: float) -> None:
        t[stage] = t.get(stage, 0.0) + time.perf_counter() - t0

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model = SentenceTransformer(str(model_dir), device="cpu")
    jieba.initialize()
    add("load_model", t0)
    for side, fields in sides.items():
        for f in bm25_fields[side]:
            t0 = time.perf_counter()
            base, _, fam = f.rpartition("_")
            if fam in ("bigram", "char") and base in fields:
                # the obvious n-gram code: bigrams/characters of the Chinese runs
                runs = [re.findall("[\u4e00-\u9fff]+", x) for x in fields[base]]
                tokens = [[r[i:i + 2] for r in rs for i in range(max(1, len(r) - 1))]
                          if fam == "bigram" else [c for r in rs for c in r] for rs in runs]
            else:
                tokens = [jieba.lcut(x) for x in fields[f]]
            add("tokenize", t0)
            t0 = time.perf_counter()
            bm = bm25s.BM25()
            bm.index(tokens, show_progress=False)
            bm.save(str(out / f"{side}_{f}_bm25"))
            add("bm25", t0)
        t0 = time.perf_counter()
        vec = None
        for f, w in embed_fields[side].items():
            v = w * model.encode(fields[f], batch_size=256, normalize_embeddings=True,
                                 convert_to_numpy=True).astype(np.float32)
            vec = v if vec is None else vec + v
        vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
        add("encode", t0)
        t0 = time.perf_counter()
        index = faiss.IndexFlatIP(vec.shape[1])
        index.add(vec)
        faiss.write_index(index, str(out / f"{side}.faiss"))
        np.save(out / f"{side}_vectors.npy", vec)
        add("faiss", t0)
    return {k: round(v, 2) for k, v in t.items()}


def naive_inputs(patents: list[Any], demands: list[Any], labels: dict[str, dict[str, Any]],
                 same_work: bool) -> tuple[dict, dict, dict]:
    """The naive script's texts. ``same_work``: the fields ``patmatch build`` indexes
    (BM25 title/abstract/claims/labels, embedded title/abstract/first claim) with its
    weights; otherwise the minimal script: one "title。abstract" text per record."""
    from indexing.build.stages import field_texts
    from indexing.build.build_config import BuildConfig
    cfg = BuildConfig()
    if not same_work:
        sides = {"patents": {"text": [f"{p.title}。{p.abstract}" for p in patents]},
                 "demands": {"text": [d.query_text for d in demands]}}
        return sides, {"patents": ["text"], "demands": ["text"]}, \
            {"patents": {"text": 1.0}, "demands": {"text": 1.0}}
    sides = {"patents": field_texts("patents", patents, labels["patents"], cfg),
             "demands": field_texts("demands", demands, labels["demands"], cfg)}
    return (sides, {"patents": [f for f, w in cfg.patent_fields.items() if w > 0],
                    "demands": [f for f, w in cfg.demand_fields.items() if w > 0]},
            {"patents": dict(cfg.patent_embed), "demands": dict(cfg.demand_embed)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patents", type=int, default=20000)
    ap.add_argument("--demands", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--encoder", default=None, help="default | tiny | model dir")
    ap.add_argument("--work", type=Path, default=None, help="scratch dir (default: temp)")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    args = ap.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="patmatch-buildbench-"))
    os.environ["PATMATCH_HOME"] = str(work / "home")
    from indexing.build.build_config import BuildConfig
    from indexing.build.pipeline import build
    from indexing.training.demo_data import generate
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.intake.ingest import ingest_files
    from indexing.store.record_store import open_store
    from indexing.text.tokenizer import ChineseTokenizer
    from patmatch.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    res: dict[str, Any] = {"patents_in": args.patents, "demands_in": args.demands,
                           "cpu_count": os.cpu_count(), "load_avg_start": os.getloadavg()[0]}
    t0 = time.perf_counter()
    demo = generate(work / "demo", args.patents, args.demands, seed=args.seed)
    store = open_store(settings)
    ingest_files("patents", demo.patent_files, store, rejects_dir=work / "rejects")
    ingest_files("demands", demo.demand_files, store, rejects_dir=work / "rejects")
    res["prepare_s"] = round(time.perf_counter() - t0, 1)
    patents, demands = list(store.iter_patents()), list(store.iter_demands())

    tok = ChineseTokenizer()
    enc_name = args.encoder
    if enc_name in (None, "tiny"):
        try:
            from indexing.encoders.encoder import default_model_dir

            model_dir = default_model_dir(settings)
            enc_name = enc_name or "default"
        except Exception:  # noqa: BLE001 - no distilled model installed
            enc_name = "tiny"
    if enc_name == "tiny":
        vocab = sorted({w for p in random.Random(0).sample(patents, min(3000, len(patents)))
                        for w in tok.tokenize(p.text)})
        model_dir = work / "tiny-encoder"
        make_tiny_encoder(model_dir, vocab, dim=256)
    elif enc_name == "default":
        from indexing.encoders.encoder import default_model_dir

        model_dir = default_model_dir(settings)
    else:
        model_dir = Path(enc_name)
    res["encoder"] = {"name": enc_name, "dir": str(model_dir)}
    cfg = BuildConfig(encoder=str(model_dir))
    # labelling is its own step (nightly relabels before building; the naive script has
    # no labels at all), so it is timed apart from the build
    from indexing.build.relabel import relabel
    from labeling_spec import Labeler

    t0 = time.perf_counter()
    relabel(store, Labeler.load(tokenize=tok.tokenize))
    res["label_s"] = round(time.perf_counter() - t0, 2)

    # Import the heavy libraries before either pipeline is timed: the naive script runs
    # second in this process and would otherwise get them for free (torch +
    # sentence-transformers alone take seconds to import on a busy 2-core machine).
    t0 = time.perf_counter()
    import bm25s  # noqa: F401
    import faiss  # noqa: F401
    import jieba  # noqa: F401
    import polars  # noqa: F401
    import scipy.sparse  # noqa: F401
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401

    res["imports_s"] = round(time.perf_counter() - t0, 2)

    def timed_build() -> tuple[str, float, dict[str, Any]]:
        t = time.perf_counter()
        bid = build(store, settings, cfg, tokenizer=ChineseTokenizer(),
                    encoder=load_encoder(EncoderConfig(name=str(model_dir)), settings))
        wall = round(time.perf_counter() - t, 2)
        m = json.loads((settings.staging_dir / bid / "manifest.json").read_text())
        return bid, wall, m

    bid, wall, m = timed_build()
    res["patmatch_cold"] = {"wall_s": wall, "stages_s": m["timings"], "counts": m["counts"],
                            "peak_rss_mb": m["peak_rss_mb"],
                            "bundle_mb": _dir_mb(settings.staging_dir / bid)}
    changed = patents[: max(1, len(patents) // 100)]
    store.upsert_patents([dataclasses.replace(p, abstract=p.abstract + "（修订）") for p in changed])
    bid2, wall2, m2 = timed_build()
    res["patmatch_rebuild_1pct"] = {"wall_s": wall2, "stages_s": m2["timings"],
                                    "changed_patents": len(changed)}
    if not args.skip_naive:
        from indexing.records import patent_is_valid

        # the same records as the bundle: a naive script must drop lapsed patents too
        valid = [p for p in patents if patent_is_valid(p)]
        labels = {"patents": store.load_labels("patents"), "demands": store.load_labels("demands")}
        for key, same in (("naive_same_work", True), ("naive", False)):
            t = time.perf_counter()
            stages = naive_build(*naive_inputs(valid, demands, labels, same), model_dir,
                                 work / key)
            res[key] = {"wall_s": round(time.perf_counter() - t, 2), "stages_s": stages,
                        "output_mb": _dir_mb(work / key)}
            res[f"ratio_cold_vs_{key}"] = round(wall / res[key]["wall_s"], 2)
            res[f"ratio_rebuild_vs_{key}"] = round(wall2 / res[key]["wall_s"], 2)
    store.close()
    res["load_avg_end"] = os.getloadavg()[0]
    text = json.dumps(res, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        from patmatch.atomic_io import atomic_write_text

        atomic_write_text(args.out, text + "\n")


if __name__ == "__main__":
    main()
