"""Writes a demo mix with the problems a mastering engineer reports, and a
cleaner reference, for `scripts/report-picture`.

Usage: demo_mix.py MIX.wav REFERENCE.wav

The mix (40 s, 48 kHz, 24-bit stereo): 1.2 s of hiss before the first
note, the low end flipped on the right from 0:14 to 0:22, a chorus driven
into a clipper at 0:24, and 16-bit values in the 24-bit file. The
reference: the same song without those problems, 3 dB less bass.
"""

import sys

import numpy as np

FS = 48_000
SECS = 40.0


def song(bass_gain, rng):
    n = int(FS * SECS)
    t = np.arange(n) / FS
    beat = 0.5
    phase = (t % beat) / beat
    kick_t = t % beat
    kick = np.sin(2 * np.pi * (50 * kick_t + 35 * (1 - np.exp(-kick_t * 30)) / 30)) * np.exp(-kick_t * 9)
    bar = (t // (4 * beat)).astype(int) % 4
    roots = np.array([55.0, 43.65, 65.41, 49.0])[bar]
    bass = sum(np.sin(2 * np.pi * k * roots * t) / k for k in (1, 2, 3, 4)) * (0.55 + 0.45 * np.exp(-phase * 4))
    chord = sum(np.sin(2 * np.pi * f * t + k) for k, f in enumerate((220.0, 261.63, 329.63, 392.0)))
    snare_on = ((t // beat).astype(int) % 2 == 1) & (kick_t < 0.12)
    snare = rng.standard_normal(n) * np.exp(-kick_t * 30) * snare_on
    hats = rng.standard_normal((2, n)) * ((t % (beat / 2)) < 0.025)
    section = np.where(t < 8, 0.45, np.where(t < 24, 0.75, 1.0))
    mid = section * (0.35 * kick + 0.22 * bass_gain * bass + 0.05 * chord + 0.18 * snare)
    left = mid + section * (0.06 * hats[0] + 0.02 * np.sin(2 * np.pi * 587.3 * t))
    right = mid + section * (0.06 * hats[1] + 0.02 * np.sin(2 * np.pi * 493.9 * t))
    return t, kick, bass * bass_gain * 0.22 * section, left, right


def write(path, left, right, bits):
    scale = float(1 << (bits - 1))
    x = np.stack([left, right], axis=1).reshape(-1)
    v = np.clip(np.round(x * scale), -scale, scale - 1).astype(np.int32)
    b = v.astype("<i4").view(np.uint8).reshape(-1, 4)[:, : bits // 8].reshape(-1)
    data = b.tobytes()
    width = bits // 8
    header = b"RIFF" + (36 + len(data)).to_bytes(4, "little") + b"WAVEfmt "
    header += (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (2).to_bytes(2, "little")
    header += FS.to_bytes(4, "little") + (FS * 2 * width).to_bytes(4, "little")
    header += (2 * width).to_bytes(2, "little") + bits.to_bytes(2, "little")
    header += b"data" + len(data).to_bytes(4, "little")
    with open(path, "wb") as f:
        f.write(header + data)


def main():
    mix_path, ref_path = sys.argv[1:3]
    rng = np.random.default_rng(11)
    t, kick, bass, left, right = song(1.0, rng)
    # Low end flipped on the right from 0:14 to 0:22.
    flip = (t >= 14) & (t < 22)
    right = right - 2 * flip * (0.35 * kick * 0.75 + bass)
    # The chorus driven into a clipper.
    chorus = t >= 24
    left = np.where(chorus, np.clip(left * 1.6, -0.98, 0.98), left)
    right = np.where(chorus, np.clip(right * 1.6, -0.98, 0.98), right)
    # Hiss before the first note.
    head = int(1.2 * FS)
    hiss = rng.standard_normal((2, head)) * 10 ** (-62 / 20)
    left = np.concatenate([hiss[0], left])[: len(t)]
    right = np.concatenate([hiss[1], right])[: len(t)]
    # 16-bit values in a 24-bit file.
    left = np.round(left * 32768) / 32768
    right = np.round(right * 32768) / 32768
    write(mix_path, left, right, 24)

    rng = np.random.default_rng(12)
    _, _, _, left, right = song(10 ** (-3 / 20), rng)
    write(ref_path, 0.8 * left, 0.8 * right, 24)


if __name__ == "__main__":
    main()
