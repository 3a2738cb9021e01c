"""The extractive reader: a small transformer trained by SpaceQA to find answer spans.

Public surface: ``load_reader`` (the shipped reader, or one trained by ``spaceqa
train-reader``), ``ExtractiveReader.read`` and the settings stored in its model card.
Training lives in ``training.py`` and is imported only by the command that trains.
"""

from .loading import SHIPPED_READER, ReaderCard, load_reader
from .reading import ExtractiveReader, InputSettings, SpanReading

__all__ = ["SHIPPED_READER", "ExtractiveReader", "InputSettings", "ReaderCard", "SpanReading", "load_reader"]
