"""The site's pages, one module per area: gallery, pieces, generation, runs, corpora and
tunes, accounts; `helpers` holds what several of them share.

Pages read through `selectors` and change things only through `services`; files made on
demand (scores, MusicXML, MIDI and audio) come from `services.files`, the client's address
and ranged file answers from `common.http`. Nothing here imports TensorFlow.
"""
