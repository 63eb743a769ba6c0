"""Real folk tunes (and some that are not) shared by the render tests."""

# A jig: chord symbols, two repeated parts, each with first and second endings.
JIG = """X:1
T:The Kesh
R:jig
M:6/8
L:1/8
Q:3/8=120
K:G
|:"G"GAG GAB|"D"ABA ABd|"G"edd gdd|"C"edB "D"dBA|
"G"GAG GAB|"D"ABA ABd|"C"edd gdB|1"D"AGF "G"G3:|2"D"AGF "G"GBd||
|:"G"g2g gfg|"D"a2a agf|"G"gfg "C"eag|"D"fed "G"d2B|
"G"g2g gfg|"D"a2a agf|"C"gfe "D"dBA|1"G"BAG G2B:|2"G"BAG G3|]
"""

# A reel of about 350 characters (a typical generated tune): triplets, chords, endings.
REEL = """X:1
T:The Silver Spear
R:reel
M:4/4
L:1/8
Q:1/4=120
K:D
|:"D"FA (3AAA BAFA|"D"dfed "G"BddB|"D"FA (3AAA BAFA|"G"dBAF "A"EFGE|
"D"FA (3AAA BAFA|"D"dfed "G"BddB|"D"FAAB AFA2|"G"dBAF "A"EFGE:|
|:"D"fa (3aaa bafa|"D"faaf "A"efge|"D"fa (3aaa bafa|"Em"gfeg "A"fdde|
"D"fa (3aaa bafa|"D"faaf "A"efge|"G"fgaf "A"gfed|1"G"dBAF "A"EFGE:|2"G"dBAF "A"E2D2|]
"""

# Drowsy Maggie, 16 bars of 4/4 once the repeats are played, at 240 quarters a minute:
# 16 bars x 4 beats / 4 beats a second = 16 s of music.
SHORT_REEL = """X:2
T:Drowsy Maggie
R:reel
M:4/4
L:1/8
Q:1/4=240
K:Edor
|:"Em"E2BE dEBE|E2BE "D"AFDF|"Em"E2BE dEBE|"D"dBAF "Em"E2 E2:|
|:"Em"Bc dB "D"A3 B|"Em"Bc dB "D"A2 FA|"Em"Bc dB "D"A2 ag|1"D"fdec "Em"dBAF:|2"D"fdec "Em"dBBA||
"""

# A hornpipe-style tune with pickups into each part; the bar before each :| is short.
PICKUP_HORNPIPE = """X:3
T:Pickup Practice
M:4/4
L:1/8
K:D
A|"D"d2fd A2FA|"G"B2dB "A"A2FA|"D"d2fd "G"B2AB|"A"cdec "D"d3:|
|:f|"D"a2fd faba|"G"gfga "A"e3f|"D"abaf "G"gfed|"A"cdec "D"d3:|
"""

# A reel-time A part, then a waltz-time B part after a field line.
METER_CHANGE = """X:4
T:Two Meters
M:4/4
L:1/8
K:G
|:"G"GABc dedB|"C"c2e2 "G"d2B2|"D"ABcd efge|"G"d2B2 G4:|
M:3/4
|:"G"B2d2 g2|"C"e2c2 A2|"D"F2A2 d2|"G"G6:|
"""

# Notes that music21 can read, but an unclosed chord abc2midi reports as an error.
BROKEN_CHORD = """X:5
T:Broken Chord
M:4/4
L:1/8
K:G
GABc dedB|c2 A2 d2 Bd|gfed cB[AG|A8|]
"""

GARBAGE = "X:9\nhello world, this is not music at all }}} :: ][\n"

# User-uploaded title text that must never become markup.
SCRIPT_TITLE = """X:6
T:<script>alert(1)</script>
C:<img src=x onerror=alert(2)>
M:6/8
L:1/8
K:G
|:GAG GAB|ABA ABd|edd gdd|edB dBA|
GAG GAB|ABA ABd|edd gdB|AGF G3:|
"""


# The opening of what a model's first epoch wrote without the grammar: music21 re-bars it
# (`bestTimeSignature`) for more than 4 s, and the whole piece for more than 2 minutes.
MUSIC21_LOOPS = """X:1
T:The Crooked Hillside (Air)
M: 2/4|\\eA3DGz=D=
L:1/2
K: A M
.z\\
~G2cd_e |(G.^f3~G{GAdA6/2}Ea  =ddcz
f  (  g-  )  |  gCCeeCB|d d24dc~c-
"""
