"""Audio for the audio way: streamed reading, short-time spectra, a codebook and decoding.

Everything here is numpy/soundfile/soxr/librosa over arrays and files, no Django. Reading is
block by block (soundfile blocks, resampled with a streaming soxr resampler), so memory stays
flat however long a recording or a corpus is.
"""
