"""A trained (or zero-shot) model on ordinary video: faces tracked, windows labelled, outputs, live input, export, saliency.

May import fervid.checkpoint, fervid.models, fervid.data, fervid.hub and the base modules; never fervid.results or fervid.train.
"""
