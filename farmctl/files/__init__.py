"""The uploads folder: safe names, streamed atomic uploads, and G-code analysis."""

from farmctl.files.analysis import Analysis, Box, GcodeAnalyzer, LayerSource, TimeSource
from farmctl.files.paths import ALLOWED_EXTENSIONS, resolve_in, safe_relative_path
from farmctl.files.store import FileInfo, FileType, UploadFolder

__all__ = [
    "ALLOWED_EXTENSIONS", "Analysis", "Box", "FileInfo", "FileType", "GcodeAnalyzer", "LayerSource",
    "TimeSource", "UploadFolder", "resolve_in", "safe_relative_path",
]
