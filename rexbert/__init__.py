"""rexbert: domain-specialized ModernBERT-style encoders from open data, end to end."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rexbert")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
