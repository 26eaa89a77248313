"""The real engine: store, bundle, ranker and admin from indexing/, matcher/, labeling_spec/.

Imports are lazy so that ``import api.main`` stays cheap and tests with a fake engine
never load torch or faiss. The tokenizer and encoder are cached by fingerprint across
bundle swaps: a nightly rebuild with the same encoder swaps in milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from patmatch.errors import InputError
from patmatch.settings import Settings

from api.engine import Engine
from api.services.contracts import ChainInfo, Snapshot

log = logging.getLogger("patmatch.api.live")


class LiveEngine(Engine):
    def __init__(self, settings: Settings, build_config: Any = None) -> None:
        super().__init__(settings)
        # rebuild and publish over HTTP use this (judged set for the gate included):
        # the given one, else PATMATCH_BUILD_CONFIG, as `patmatch build` and `publish` use
        if build_config is None and settings.build_config is not None:
            from indexing.build.build_config import BuildConfig

            build_config = BuildConfig.from_file(settings.build_config)
        self._build_config = build_config
        self._tokenizers: dict[Any, Any] = {}
        self._encoders: dict[Any, Any] = {}
        self._chains: list[ChainInfo] | None = None
        self._snapshots: dict[tuple, Snapshot] = {}  # refresh() holds the refresh lock

    def open_store(self) -> Any:
        from indexing.store.record_store import open_store

        return open_store(self.settings)

    def locate_current(self) -> Path:
        from indexing.index.bundle import current_build_id

        # the pointer's bundle even when its directory or manifest is gone: loading it then
        # fails like any bundle that does not verify, and the engine falls back
        return Path(self.settings.bundles_dir) / current_build_id(self.settings)

    def fallback_paths(self) -> list[Path]:
        from indexing.index.bundle import MANIFEST, read_pointer

        history = read_pointer(self.settings)["history"]  # oldest first
        base = Path(self.settings.bundles_dir)
        return [base / h for h in reversed(history) if (base / h / MANIFEST).is_file()]

    # Keyed by the bundle's recorded fingerprint as well as its config: a user-dictionary
    # edit (or a retrained encoder in the same directory) keeps the config but changes the
    # fingerprint, and the new bundle must get a runtime built from its own files.
    def _tokenizer(self, config: Any, fingerprint: str | None = None) -> Any:
        from indexing.text.tokenizer import ChineseTokenizer

        key = (fingerprint or repr(config),)
        if key not in self._tokenizers:
            if len(self._tokenizers) >= 4:
                self._tokenizers.pop(next(iter(self._tokenizers)))
            self._tokenizers[key] = ChineseTokenizer(config)
        return self._tokenizers[key]

    def _encoder(self, config: Any, fingerprint: str | None = None) -> Any:
        from indexing.encoders.encoder import load_encoder

        key = (repr(config), fingerprint)
        if key not in self._encoders:
            if len(self._encoders) >= 3:
                self._encoders.pop(next(iter(self._encoders)))
            self._encoders[key] = load_encoder(config, self.settings)
        return self._encoders[key]

    # the served and the previous bundle stay loaded: a rollback (or a publish back to
    # the bundle just left) swaps in milliseconds instead of re-reading, re-verifying and
    # re-preparing ~40 MB per worker. Published bundle directories are read-only, and the
    # key includes the manifest's identity, so a changed directory is loaded afresh.
    KEEP_SNAPSHOTS = 2

    def load_snapshot(self, path: Path) -> Snapshot:
        import dataclasses
        from datetime import datetime, timezone

        try:
            st = (Path(path) / "manifest.json").stat()
            key: tuple | None = (str(Path(path).resolve()), st.st_mtime_ns, st.st_size,
                                 st.st_ino)
        except OSError:
            key = None
        if key is not None and key in self._snapshots:
            snap = self._snapshots.pop(key)
            self._snapshots[key] = snap  # most recent last
            return dataclasses.replace(snap, loaded_at=datetime.now(timezone.utc).isoformat(
                timespec="seconds"))
        snap = self._load_snapshot(path)
        if key is not None:
            self._snapshots[key] = snap
            while len(self._snapshots) > self.KEEP_SNAPSHOTS:
                self._snapshots.pop(next(iter(self._snapshots)))
        return snap

    def forget_snapshots(self) -> None:
        self._snapshots.clear()

    def _load_snapshot(self, path: Path) -> Snapshot:
        from indexing.index.bundle import IndexBundle
        from matcher.ranker import HybridRanker

        # verify=True: checksums are checked before any request can see the bundle; the
        # tokenizer/encoder are built from the bundle's own recorded configuration
        bundle = IndexBundle.load(path, verify=True)
        tokenizer = self._tokenizer(bundle.tokenizer_config, bundle.tokenizer_fingerprint)
        encoder = self._encoder(bundle.encoder_config, bundle.encoder_fingerprint)
        # a mismatch is never served
        bundle.manifest.check_fingerprints(tokenizer=tokenizer.fingerprint,
                                           encoder=encoder.fingerprint)
        # ranks with the fusion recorded at build time; a request's overrides apply on top
        ranker = HybridRanker(bundle, tokenizer, encoder)
        return Snapshot(build_id=bundle.build_id, path=Path(path), ranker=ranker, bundle=bundle,
                        manifest=bundle.manifest.to_dict())

    def chains(self) -> list[ChainInfo]:
        if self._chains is None:
            from labeling_spec import load_taxonomy

            tax = load_taxonomy()
            self._chains = [ChainInfo(c.id, c.name_zh, getattr(c, "name_en", None))
                            for c in tax.chains]
        return self._chains

    def make_filters(self, **kwargs: Any) -> Any:
        from indexing.index.filters import Filters

        return Filters(**kwargs)

    def make_fusion(self, overrides: dict[str, Any] | None) -> Any:
        """The served ranker's fusion with the request's overrides (None = unchanged)."""
        if not overrides:
            return None
        from matcher.config import FusionConfig

        base = getattr(self.snapshot().ranker, "config", None) or FusionConfig()
        return base.with_overrides(overrides)

    def run_batch(self, input_path: Path, output_path: Path, *, top_k: int,
                  chains: tuple[str, ...], direction: str,
                  progress: Callable[[float], None]) -> int:
        from indexing.intake.ingest import read_records
        from matcher.batch import run_batch
        from matcher.queries import Queries, queries_from_records

        snap = self.snapshot()
        kind = "demands" if direction == "demand-to-patent" else "patents"
        records, rejects = read_records(kind, input_path)
        if not records:
            raise InputError(f"no valid {kind} in the uploaded file ({len(rejects)} rejected)",
                             details={"rejected": len(rejects)})
        if kind == "demands":
            queries = queries_from_records(records)
        else:
            queries = Queries([r.id for r in records], [r.text for r in records],
                              [r.title for r in records], [[] for _ in records], None)
        progress(0.05)
        report = run_batch(snap.bundle, snap.ranker.tokenizer, snap.ranker.encoder, queries,
                           out=output_path, direction=direction, top_k=top_k,
                           filters=self.make_filters(chains=chains), progress=False,
                           on_block=lambda done, total: progress(0.05 + 0.9 * done / max(total, 1)))
        return int(report.rows)

    def rebuild(self) -> str:
        from indexing.build.build_config import BuildConfig
        from indexing.build.pipeline import build
        from matcher.config import with_recorded_fusion

        config = with_recorded_fusion(self._build_config or BuildConfig())
        return str(build(self.store, self.settings, config))

    def publish(self, build_id: str | None, *, force: bool) -> str:
        from indexing.build.publish import publish

        from indexing.build.build_config import BuildConfig
        from matcher.evaluate import quality_gate

        # the gate `patmatch publish` runs: the build config's judged set, else the default
        gate = quality_gate(self.settings, config=self._build_config or BuildConfig(),
                            warn=log.warning)
        evaluator: Callable[[Path], dict[str, float]] | None = None
        if gate is not None:
            def gated(path: Path) -> dict[str, float]:
                # publishing back a bundle that was gated when first published (a roll
                # forward after a rollback) reuses its recorded figures: evaluating the
                # judged set again costs a core for tens of seconds in the serving process
                recorded = _recorded_quality(Path(path), self.settings.bundles_dir)
                return recorded if recorded else gate(path)

            evaluator = gated
        return str(publish(self.settings, build_id, force=force, evaluator=evaluator))

    def rollback(self) -> str:
        from indexing.build.publish import rollback

        return str(rollback(self.settings))


def _recorded_quality(path: Path, bundles_dir: Path) -> dict[str, float] | None:
    """The numeric quality figures a published bundle's manifest recorded at its gate."""
    from indexing.index.bundle import Manifest

    try:
        if path.resolve().parent != Path(bundles_dir).resolve():
            return None  # still staged: never evaluated
        q = Manifest.read(path).quality
    except Exception:  # unreadable: evaluate as usual
        return None
    if q.get("gate") not in ("passed", "forced"):
        return None
    nums = {k: float(v) for k, v in q.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in ("tolerance", "baseline")}
    return nums or None
