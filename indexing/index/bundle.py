"""Index bundles: a self-describing, checksummed, immutable directory per build.

Layout (``docs/operations.md`` documents it for operators)::

    <build_id>/
      manifest.json            build id, created, counts, record-set hash, fingerprints,
                               configs, library versions, quality, sha256 of every file
      patents/  demands/       one side each, row-aligned files:
        ids.txt                row i -> record id
        facets.parquet         id, chains, ipc, applicant_type, region, legal_valid, date,
                               open_license, grade, trl, confidential, owner,
                               license_mode, fee_wan (patents: yearly licence fee; demands: budget, 万元)
        docs.parquet           display text and labels (never contact data)
        bm25_{data,indices,indptr}.npy  document x term BM25 weights (the arrays of a
                               scipy CSC matrix, fields summed), memory-mapped at load
                               (older bundles: bm25.npz, read into memory)
        bm25_vocab.json        term list + shape + BM25 config + field weights
        vectors.npy            float32 (n, d), L2-normalised, memory-mapped at load
        faiss.index            the FAISS index (flat, HNSW or compressed; see
                               indexing/index/dense.py), memory-mapped at load

The current bundle is named by the pointer file ``<bundles_dir>/CURRENT.json``, replaced
atomically by ``indexing.build.publish``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexing.index.dense import DenseConfig, DenseIndex
from indexing.index.filters import Filters, mask_for
from indexing.index.manifest import FORMAT_VERSION, BundleManifest
from indexing.index.sparse import SparseIndex
from patmatch.atomic_io import atomic_write_text
from patmatch.errors import BundleIntegrityError, ConfigError, NoBundleError

if TYPE_CHECKING:
    from patmatch.settings import Settings

MANIFEST = "manifest.json"
POINTER = "CURRENT.json"
SIDES = ("patents", "demands")
IDS_FILE = "ids.txt"
FACETS_FILE = "facets.parquet"
DOCS_FILE = "docs.parquet"


# --- files ----------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Manifest:
    """Reading, writing and checking ``manifest.json`` (typed: ``BundleManifest``)."""

    @staticmethod
    def checksums(root: Path) -> dict[str, str]:
        """sha256 of every file under ``root`` except the manifest, by relative path."""
        out = {}
        for p in sorted(root.rglob("*")):
            if p.is_file() and p.name != MANIFEST and not p.name.startswith("."):
                out[p.relative_to(root).as_posix()] = sha256_file(p)
        return out

    @staticmethod
    def read(root: Path) -> BundleManifest:
        path = Path(root) / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BundleIntegrityError(
                f"{path} is missing: {root} is not a complete bundle",
                details={"path": str(root)}) from None
        except (OSError, ValueError) as exc:
            raise BundleIntegrityError(f"{path} is unreadable or not JSON: {exc}",
                                       details={"path": str(path)}) from exc
        return BundleManifest.parse(data, where=str(path))

    @staticmethod
    def write(root: Path, manifest: BundleManifest | Mapping[str, Any]) -> BundleManifest:
        """Validate and write atomically; a malformed manifest is never written."""
        typed = (manifest if isinstance(manifest, BundleManifest)
                 else BundleManifest.parse(manifest, where=str(Path(root) / MANIFEST)))
        atomic_write_text(Path(root) / MANIFEST,
                          json.dumps(typed.to_dict(), ensure_ascii=False, indent=2, sort_keys=False))
        return typed

    @staticmethod
    def problems(root: Path, manifest: BundleManifest | None = None) -> list[str]:
        """Every integrity problem of a bundle directory (empty list = intact)."""
        root = Path(root)
        try:
            manifest = manifest or Manifest.read(root)
        except BundleIntegrityError as exc:
            return [exc.message]
        expected = manifest.files
        if not expected:
            return [f"{root}/{MANIFEST} lists no file checksums"]
        out = []
        for rel, digest in sorted(expected.items()):
            p = root / rel
            if not p.is_file():
                out.append(f"missing file {rel}")
            elif sha256_file(p) != digest:
                out.append(f"checksum mismatch for {rel} (file changed or corrupted)")
        present = Manifest.checksums(root)
        out += [f"unexpected file {rel} (not in the manifest)" for rel in present
                if rel not in expected]
        return out


def verify_bundle(path: Path) -> list[str]:
    return Manifest.problems(Path(path))


# --- one side -------------------------------------------------------------------------
class SideIndex:
    """One side (patents or demands) of a bundle: row-aligned ids, facets, docs, BM25,
    vectors. Rows are the shared coordinate system of every part."""

    MASK_CACHE = 64

    def __init__(self, name: str, ids: Sequence[str], facets: Any, docs: Any,
                 sparse: SparseIndex, dense: DenseIndex) -> None:
        n = len(ids)
        sizes = {"facets": facets.height, "docs": docs.height, "bm25": sparse.n_docs,
                 "vectors": dense.n_rows}
        bad = {k: v for k, v in sizes.items() if v != n}
        if bad:
            raise BundleIntegrityError(
                f"side {name!r} is not row-aligned: {n} ids but {bad}",
                details={"side": name})
        self.name = name
        self.ids: list[str] = list(ids)
        self._row = {rid: i for i, rid in enumerate(self.ids)}
        self.facets = facets
        self.docs = docs
        self.sparse = sparse
        self.dense = dense
        self._masks: OrderedDict[Filters, np.ndarray | None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def vectors(self) -> np.ndarray:
        return self.dense.vectors

    @property
    def dimension(self) -> int:
        return self.dense.dimension

    def row_of(self, id: str) -> int | None:
        return self._row.get(id)

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        """bool (n,) rows passing ``filters``; None = every row (cached per Filters)."""
        if filters is None:
            return None
        with self._lock:  # the API calls this from many threads
            if filters in self._masks:
                self._masks.move_to_end(filters)
                return self._masks[filters]
        m = mask_for(self.facets, filters, side=self.name)
        if m is not None:
            m.setflags(write=False)
        with self._lock:
            self._masks[filters] = m
            while len(self._masks) > self.MASK_CACHE:
                self._masks.popitem(last=False)
        return m

    def _as_mask(self, mask: np.ndarray | Filters | None) -> np.ndarray | None:
        return self.mask(mask) if isinstance(mask, Filters) else mask

    def search_lexical(self, tokens: list[str], k: int,
                       mask: np.ndarray | Filters | None = None,
                       weights: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """BM25 top-k; ``weights``: one per token (None = all 1, see SparseIndex.scores)."""
        return self.sparse.search(tokens, k, self._as_mask(mask), weights)

    def search_dense(self, vector: np.ndarray, k: int,
                     mask: np.ndarray | Filters | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.dense.search(vector, k, self._as_mask(mask))

    def lexical_scores(self, tokens: list[str]) -> np.ndarray:
        return self.sparse.scores(tokens)

    def lexical_matrix(self) -> Any:
        """(n_docs, V) document x term BM25 weights (CSC, shared pages); scores = Q @ D.T."""
        return self.sparse.doc_matrix()

    def query_matrix(self, tokens_list: Sequence[Sequence[str]]) -> Any:
        """(n_queries, V) CSR query term counts over this side's vocabulary."""
        return self.sparse.query_matrix(tokens_list)

    def doc(self, row: int) -> dict[str, Any]:
        return self.docs.row(row, named=True)

    @classmethod
    def load(cls, name: str, directory: Path, dense_config: DenseConfig) -> SideIndex:
        import polars as pl

        try:
            ids = (directory / IDS_FILE).read_text(encoding="utf-8").split("\n")
            ids = [] if ids == [""] else ids
            facets = pl.read_parquet(directory / FACETS_FILE)
            docs = pl.read_parquet(directory / DOCS_FILE)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise BundleIntegrityError(f"cannot read side {name!r} in {directory}: {exc}",
                                       details={"path": str(directory)}) from exc
        return cls(name, ids, facets, docs, SparseIndex.load(directory),
                   DenseIndex.load(directory, dense_config))


# --- the bundle -----------------------------------------------------------------------
BUNDLE_USER_DICT = "tokenizer_user_dict.txt"


def tokenizer_config_dict(manifest: BundleManifest, root: Path) -> dict[str, Any] | None:
    """The recorded tokenizer config, runnable: a user dictionary the build copied into
    the bundle (``user_dict: tokenizer_user_dict.txt``) is resolved against ``root``, so
    the bundle is tokenized with its own dictionary whatever the operator edits later."""
    cfg = manifest.tokenizer.config
    if not isinstance(cfg, Mapping):
        return None
    cfg = dict(cfg)
    if cfg.get("user_dict") == BUNDLE_USER_DICT and (Path(root) / BUNDLE_USER_DICT).is_file():
        cfg["user_dict"] = str(Path(root).resolve() / BUNDLE_USER_DICT)
    return cfg


def _config_obj(module: str, cls_name: str, data: Mapping[str, Any] | None) -> Any | None:
    """The typed config when its module is importable, else the raw dict."""
    import importlib

    if data is None:  # built with an encoder/tokenizer object that has no config
        return None
    data = dict(data)
    try:
        cls = getattr(importlib.import_module(module), cls_name)
        # a recorded config may predate newer keys: "recorded" says what they meant then
        return cls.recorded(data) if hasattr(cls, "recorded") else cls.from_dict(data)
    except (ImportError, AttributeError, TypeError, ConfigError):
        return data


class IndexBundle:
    def __init__(self, path: Path, manifest: BundleManifest, patents: SideIndex,
                 demands: SideIndex) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self.build_id: str = manifest.build_id
        self.patents = patents
        self.demands = demands
        self.tokenizer_config = _config_obj(
            "indexing.text.tokenizer", "TokenizerConfig", tokenizer_config_dict(manifest, self.path))
        self.encoder_config = _config_obj(
            "indexing.encoders.encoder", "EncoderConfig", manifest.encoder.config)

    def side(self, name: str) -> SideIndex:
        if name not in SIDES:
            raise ConfigError(f"side must be one of {SIDES}, got {name!r}")
        return self.patents if name == "patents" else self.demands

    @property
    def tokenizer_fingerprint(self) -> str | None:
        return self.manifest.tokenizer.fingerprint

    @property
    def encoder_fingerprint(self) -> str | None:
        return self.manifest.encoder.fingerprint

    @property
    def quality(self) -> dict[str, Any]:
        return dict(self.manifest.quality)

    def __repr__(self) -> str:
        return (f"IndexBundle({self.build_id!r}, patents={len(self.patents)}, "
                f"demands={len(self.demands)})")

    @classmethod
    def load(cls, path: Path | str, *, tokenizer_fingerprint: str | None = None,
             encoder_fingerprint: str | None = None, verify: bool = True) -> IndexBundle:
        """Open a bundle; refuse a corrupted one or one built for another tokenizer or
        encoder than the running one (pass their fingerprints)."""
        path = Path(path)
        if not path.is_dir():
            raise BundleIntegrityError(f"bundle directory {path} does not exist",
                                       details={"path": str(path)})
        manifest = Manifest.read(path)
        manifest.check_fingerprints(tokenizer=tokenizer_fingerprint, encoder=encoder_fingerprint)
        if verify:
            problems = Manifest.problems(path, manifest)
            if problems:
                raise BundleIntegrityError(
                    f"bundle {manifest.build_id} failed its checksum check: "
                    + "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else ""),
                    details={"path": str(path), "problems": len(problems)})
        dense_cfg = DenseConfig.from_dict(manifest.config.get("dense", {}))
        sides = [SideIndex.load(s, path / s, dense_cfg) for s in SIDES]
        return cls(path, manifest, *sides)


# --- the pointer ----------------------------------------------------------------------
def read_pointer(settings: Settings) -> dict[str, Any]:
    """``{"current": id | None, "history": [older ids ...]}`` (empty when unpublished)."""
    path = settings.bundles_dir / POINTER
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"current": None, "history": []}
    except (OSError, ValueError) as exc:
        raise BundleIntegrityError(f"pointer file {path} is unreadable: {exc}",
                                   details={"path": str(path)}) from exc
    return {"current": data.get("current"), "history": list(data.get("history") or []),
            "updated": data.get("updated")}


def current_build_id(settings: Settings) -> str:
    cur = read_pointer(settings)["current"]
    if not cur:
        raise NoBundleError(
            f"no bundle has been published in {settings.bundles_dir}; run `patmatch build` "
            "then `patmatch publish`", details={"bundles_dir": str(settings.bundles_dir)})
    return cur


def current_bundle_path(settings: Settings) -> Path:
    path = settings.bundles_dir / current_build_id(settings)
    if not (path / MANIFEST).is_file():
        raise NoBundleError(f"the current bundle {path} is missing its manifest",
                            details={"path": str(path)})
    return path


def load_current(settings: Settings, **kwargs: Any) -> IndexBundle:
    return IndexBundle.load(current_bundle_path(settings), **kwargs)


__all__ = [
    "FORMAT_VERSION", "MANIFEST", "POINTER", "SIDES", "BundleManifest", "IndexBundle",
    "Manifest", "SideIndex",
    "current_build_id", "current_bundle_path", "load_current",
    "read_pointer", "sha256_file", "verify_bundle",
]
