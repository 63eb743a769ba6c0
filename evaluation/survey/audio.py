"""Survey clips: any piece's MIDI made into a blind, uniform clip.

Every clip, generated or human, goes through the same steps: the way's own MIDI (the same
`Way.to_midi` the site plays), then `normalise_midi` (one fixed tempo, one instrument, every
name, text, lyric and tempo event dropped, cut at a bar line of the first time signature,
a fixed release tail), then `musiclib.render.midi_to_audio` (FluidSynth, the site's
soundfont, ffmpeg to Ogg Vorbis) with the output's metadata stripped. What a listener gets
depends on the notes and the meter only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from musiclib.render import RenderError, midi_to_audio, wav_to_ogg
from musiclib.ways.midi_notes import MidiError, read_varlen

TAIL_SECONDS = 1.0  # release after the cut, faded out
END_TOLERANCE_QUARTERS = 0.25  # a last bar this short of full still counts as played


@dataclass(frozen=True)
class Clip:
    midi: bytes
    bars: int
    seconds: float  # the cut, without the tail


def _vlq(data: bytes, pos: int) -> tuple[int, int]:
    """The MIDI way's variable-length reader, its MidiError told as a RenderError here."""
    try:
        return read_varlen(data, pos, len(data))
    except MidiError as exc:
        raise RenderError(f"the MIDI file cannot be read: {exc}") from exc


def _write_vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def parse_midi(data: bytes) -> tuple[int, list[tuple[int, bytes]], tuple[int, int]]:
    """(ticks per quarter, channel events as (absolute tick, message bytes), first time
    signature as (numerator, denominator), 4/4 when there is none)."""
    if len(data) < 14 or not data.startswith(b"MThd"):
        raise RenderError("not a Standard MIDI File (no MThd header)")
    division = int.from_bytes(data[12:14], "big")
    if division & 0x8000 or division == 0:
        raise RenderError("MIDI files timed in SMPTE frames are not supported")
    pos = 8 + int.from_bytes(data[4:8], "big")
    events: list[tuple[int, bytes]] = []
    signature: tuple[int, int, int] | None = None  # (tick, num, den)
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        body, pos = data[pos + 8 : pos + 8 + size], pos + 8 + size
        if kind != b"MTrk":
            continue
        tick, i, status = 0, 0, 0
        while i < len(body):
            delta, i = _vlq(body, i)
            tick += delta
            if i >= len(body):
                break
            if body[i] & 0x80:
                status = body[i]
                i += 1
            elif not status:
                raise RenderError("the MIDI file has data before any status byte")
            if status == 0xFF:  # meta: keep only the first time signature
                meta = body[i]
                length, i = _vlq(body, i + 1)
                payload = body[i : i + length]
                i += length
                if meta == 0x58 and len(payload) >= 2 and signature is None:
                    signature = (tick, payload[0], 2 ** payload[1])
                status = 0  # meta and sysex events cancel running status
            elif status in (0xF0, 0xF7):
                length, i = _vlq(body, i)
                i += length
                status = 0
            else:
                width = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
                events.append((tick, bytes([status]) + body[i : i + width]))
                i += width
    num, den = (signature[1], signature[2]) if signature else (4, 4)
    if num <= 0 or den <= 0:
        num, den = 4, 4
    return division, events, (num, den)


def normalise_midi(
    data: bytes, *, tempo_qpm: float, target_seconds: float, program: int = 0
) -> Clip:
    """The piece at `tempo_qpm`, cut at the last bar line at or before `target_seconds` (or
    the end of its last bar when it is shorter), every note still sounding at the cut
    released there, all melodic channels on General MIDI `program`, then TAIL_SECONDS of
    silence for the release. Raises RenderError when no whole bar is played."""
    division, events, (num, den) = parse_midi(data)
    bar_ticks = division * 4 * num / den
    seconds_per_tick = 60.0 / (tempo_qpm * division)
    notes_end = 0
    for tick, message in events:
        if message[0] & 0xF0 in (0x80, 0x90):
            notes_end = max(notes_end, tick)
    target_bars = math.floor(target_seconds / (bar_ticks * seconds_per_tick))
    played_bars = math.floor((notes_end + END_TOLERANCE_QUARTERS * division) / bar_ticks)
    bars = min(target_bars, played_bars)
    if bars < 1:
        raise RenderError("the piece is shorter than one bar at the survey's tempo")
    cut = round(bars * bar_ticks)
    tail = round(TAIL_SECONDS / seconds_per_tick)

    kept: list[tuple[int, int, bytes]] = []  # (tick, order, message); note-offs first
    sounding: dict[tuple[int, int], int] = {}
    channels: set[int] = set()
    for tick, message in sorted(events, key=lambda e: e[0]):
        kind, channel = message[0] & 0xF0, message[0] & 0x0F
        if kind == 0xC0:  # programs are set once below
            continue
        if kind == 0xB0 and len(message) > 1 and message[1] in (0, 32):  # bank select
            continue
        is_on = kind == 0x90 and len(message) > 2 and message[2] > 0
        is_off = kind == 0x80 or (kind == 0x90 and not is_on)
        if tick >= cut:
            continue
        channels.add(channel)
        if is_on:
            sounding[(channel, message[1])] = sounding.get((channel, message[1]), 0) + 1
        elif is_off and (channel, message[1]) in sounding:
            sounding[(channel, message[1])] -= 1
            if not sounding[(channel, message[1])]:
                del sounding[(channel, message[1])]
        kept.append((tick, 0 if is_off else 1, message))
    for (channel, pitch), count in sounding.items():
        kept.extend((cut, 0, bytes([0x80 | channel, pitch, 0])) for _ in range(count))
    kept.sort(key=lambda e: (e[0], e[1]))

    tempo_us = round(60_000_000 / tempo_qpm)
    head = [
        (0, b"\xff\x51\x03" + tempo_us.to_bytes(3, "big")),
        (0, b"\xff\x58\x04" + bytes([num, int(math.log2(den)), 24, 8])),
    ]
    head += [(0, bytes([0xC0 | ch, program])) for ch in sorted(channels) if ch != 9]
    track = bytearray()
    last = 0
    for tick, message in head + [(t, m) for t, _, m in kept]:
        track += _write_vlq(tick - last) + message
        last = tick
    track += _write_vlq(cut + tail - last) + b"\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
    header += division.to_bytes(2, "big")
    midi = header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track)
    return Clip(midi=midi, bars=bars, seconds=cut * seconds_per_tick)


def clip_audio(clip: Clip) -> bytes:
    """Ogg Vorbis of the clip: exactly cut + tail seconds long, faded over the tail, with no
    metadata tags beyond the encoder's fixed vendor string."""
    audio = midi_to_audio(
        midi=clip.midi,
        fmt="wav",
        max_seconds=clip.seconds + TAIL_SECONDS,
        fade_seconds=TAIL_SECONDS,
    )
    # Padded to the exact length (FluidSynth ends at the last event), so every clip of a bar
    # count and meter lasts exactly as long; bare: no tags, no encoder version in the stream.
    return wav_to_ogg(wav=audio, seconds=clip.seconds + TAIL_SECONDS, bare=True)
