"""Relevance labellers behind one interface: lexicon, embedding (offline), openai, hf."""

from rexbert.curate.labellers.base import Label, LabelItem, Labeller, build_labeller

__all__ = ["Label", "LabelItem", "Labeller", "build_labeller"]
