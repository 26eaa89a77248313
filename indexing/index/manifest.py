"""The bundle manifest, typed: what a build recorded about itself.

``BundleManifest`` is frozen and validated on read and on write, so a bundle with a
malformed manifest is refused at the door (``BundleIntegrityError``) instead of failing
later on a missing key. Unknown keys are kept (``extra="allow"``): a newer build's
additions still load in older code.

Older bundles: the creation time was written as ``created`` (read as ``created_at``), and
bundles built before the fusion was recorded have ``fusion = None``; the matcher then
ranks with its default ``FusionConfig`` (``matcher.config.recorded_fusion``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from patmatch.errors import BundleIntegrityError, BundleMismatchError

FORMAT_VERSION = 1


class ComponentInfo(BaseModel):
    """The tokenizer or encoder a bundle was built with."""

    model_config = ConfigDict(frozen=True, extra="allow")

    fingerprint: str | None = None
    config: dict[str, Any] | None = None


class BundleManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    format_version: int
    build_id: str = Field(min_length=1)
    created_at: str | None = Field(None, validation_alias=AliasChoices("created_at", "created"))
    counts: dict[str, Any] = Field(default_factory=dict)
    chains: dict[str, dict[str, int]] = Field(default_factory=dict)
    labelled: dict[str, int] = Field(default_factory=dict)
    record_set_hash: str | None = None
    tokenizer: ComponentInfo = Field(default_factory=ComponentInfo)
    encoder: ComponentInfo = Field(default_factory=ComponentInfo)
    labeler: dict[str, Any] | None = None
    libraries: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)  # the BuildConfig, as a dict
    # the FusionConfig (as a dict) the bundle is served with; None = recorded before
    # fusion was part of the manifest (the matcher's default then applies)
    fusion: dict[str, Any] | None = None
    sides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    peak_rss_mb: float | None = None
    quality: dict[str, Any] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)  # relative path -> sha256

    @classmethod
    def parse(cls, data: Any, *, where: str) -> BundleManifest:
        """Validate a decoded manifest; ``where`` names it in the error."""
        if not isinstance(data, Mapping) or data.get("format_version") != FORMAT_VERSION:
            got = data.get("format_version") if isinstance(data, Mapping) else type(data).__name__
            raise BundleIntegrityError(
                f"{where}: expected bundle format_version {FORMAT_VERSION}, got {got!r}",
                details={"path": where})
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors()[:5])
            raise BundleIntegrityError(f"{where}: malformed bundle manifest ({problems})",
                                       details={"path": where}) from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what ``manifest.json`` holds)."""
        return self.model_dump(mode="json")

    def fingerprints(self) -> dict[str, str | None]:
        return {"tokenizer": self.tokenizer.fingerprint, "encoder": self.encoder.fingerprint}

    def check_fingerprints(self, *, tokenizer: str | None = None,
                           encoder: str | None = None) -> None:
        """The one fingerprint check: refuse to serve a bundle with a tokenizer or encoder
        other than the one it was built with (a query would be tokenized or embedded
        unlike the indexed documents). ``None`` = that side is not checked."""
        diffs = []
        for what, running in (("tokenizer", tokenizer), ("encoder", encoder)):
            info: ComponentInfo = getattr(self, what)
            if running is not None and info.fingerprint is not None and info.fingerprint != running:
                diffs.append(f"{what}: bundle built with {info.fingerprint}"
                             + (f" (config {info.config})" if info.config else "")
                             + f", running {running}")
        if diffs:
            raise BundleMismatchError(
                f"bundle {self.build_id} does not match the running configuration: "
                + "; ".join(diffs) + ". Rebuild with `patmatch build` or configure the same "
                "tokenizer/encoder.", details={"build_id": self.build_id})


__all__ = ["FORMAT_VERSION", "BundleManifest", "ComponentInfo"]
