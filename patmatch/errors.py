"""The one exception hierarchy of patmatch.

Every error says what was expected and what arrived. ``code`` is a stable machine-readable
identifier; ``details`` carries structured context (field names, paths, counts). The HTTP
status of each class is decided in one place only: ``api/errors.py``. The CLI exit code
of each class is ``exit_code``.
"""

from __future__ import annotations

from typing import Any


class PatmatchError(Exception):
    """Base class. Subclasses set ``code`` and ``exit_code``."""

    code: str = "patmatch.error"
    exit_code: int = 1

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class StorageFullError(PatmatchError):
    """The disk (or the database's size limit) is full: nothing of the write was kept."""

    code = "storage.full"


class BusyError(PatmatchError):
    """The request waited its whole time budget for a ranking slot; retry shortly."""

    code = "service.busy"


# --- bad input -----------------------------------------------------------------------
class InputError(PatmatchError):
    """The caller's input is wrong; nothing was changed."""

    code = "input.invalid"
    exit_code = 2


class PageDepthError(InputError):
    """A page reaching past the depth a ranked list is computed to (offset + limit > depth)."""

    code = "input.page_depth"


class FileFormatError(InputError):
    code = "input.file_format"


class EncodingError(InputError):
    code = "input.encoding"


class MissingColumnError(InputError):
    code = "input.missing_column"


class RecordValidationError(InputError):
    code = "input.record"


class SpecError(InputError):
    """A labeling spec / taxonomy file is malformed."""

    code = "spec.invalid"


# --- lookups and state ---------------------------------------------------------------
class NotFoundError(PatmatchError):
    code = "not_found"
    exit_code = 3


class ConflictError(PatmatchError):
    code = "conflict"
    exit_code = 4


class LockHeldError(ConflictError):
    """Another process holds the rebuild lock."""

    code = "lock.held"


# --- index bundles -------------------------------------------------------------------
class BundleError(PatmatchError):
    code = "bundle.error"
    exit_code = 5


class NoBundleError(BundleError):
    """No bundle has been published yet."""

    code = "bundle.none"


class BundleIntegrityError(BundleError):
    """A bundle file is missing or its checksum differs from the manifest."""

    code = "bundle.integrity"


class BundleMismatchError(BundleError):
    """The bundle was built with another tokenizer/encoder than the running one."""

    code = "bundle.mismatch"


class QualityGateError(BundleError):
    """Publishing refused: quality dropped more than the tolerance."""

    code = "bundle.quality_gate"
    exit_code = 6


# --- access --------------------------------------------------------------------------
class AuthenticationError(PatmatchError):
    code = "auth.required"
    exit_code = 7


class PermissionDeniedError(PatmatchError):
    code = "auth.forbidden"
    exit_code = 7


# --- configuration -------------------------------------------------------------------
class ConfigError(PatmatchError):
    """The operator's configuration is wrong (settings, build config, keys, files it names).

    Not the caller's fault: the service answers 500 with the message, the CLI exits 9.
    A request that overrides a configuration value is checked as input instead.
    """

    code = "config.invalid"
    exit_code = 9


# --- dependencies / environment ------------------------------------------------------
class DependencyError(PatmatchError):
    """A model, package or data file that the operation needs is not available."""

    code = "dependency.missing"
    exit_code = 8
