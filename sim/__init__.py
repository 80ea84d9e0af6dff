"""retailsim: an agent-based model of a retail market (Mesa)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("retailsim")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
