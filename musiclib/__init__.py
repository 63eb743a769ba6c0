"""musiclib: the music library under the site, with no Django in it.

- `ways`: one module per way (ABC text, MIDI notes, audio frames) behind `ways.base.Way`;
- `ml`: data → model → trainer → sampler (only `model` and `trainer` import TensorFlow);
- `render`: abc2midi, music21 conversion, FluidSynth + ffmpeg audio, verovio scores;
- `audio`: audio DSP (frames, codebooks, decoders, spectrogram images);
- `metrics`: notes, the corpus copy index, calibration, features and their statistics;
- `config`: the few values the site decides (media root, soundfont), set at start-up.

It imports nothing of the site (an import-linter contract checks it), so it is tested and
benchmarked without settings or servers.
"""
