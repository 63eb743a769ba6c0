"""Novelty and style metrics for generated melodies: "is the model just copying?".

Pure Python/numpy, no Django: notes (reading ABC / music21 into `list[Note]`), index
(transposition-invariant copy index), calibration (what human tunes borrow), features
(MGEval-style descriptors and set comparison). Importing runs nothing.
"""
