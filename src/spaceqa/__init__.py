"""SpaceQA: offline extractive question answering over a folder of documents."""

from .app import create_app

__all__ = ["create_app"]
__version__ = "0.1.0"
