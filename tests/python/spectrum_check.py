"""An independent long-term spectrum for `rackd analyze`'s curves.

Usage: spectrum_check.py FILE.wav ANALYZE.json CURVE FROM_HZ TO_HZ

Reads the WAV, takes one unwindowed FFT of the whole file with numpy (not
rackd's frames), sums the energy of the bins in
the 1/6-octave band around each of the JSON's frequencies, and prints JSON:
for every frequency from FROM_HZ to TO_HZ, numpy's level and rackd's
(curve CURVE: L, R, M, S or mono).
"""

import json
import sys
import numpy as np


def read(path):
    """PCM WAV (plain or WAVE_FORMAT_EXTENSIBLE, as sox writes 24 bit) as
    (rate, channels x samples in -1..1)."""
    data = open(path, "rb").read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", "not a WAV file"
    pos, fmt, body = 12, None, None
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        chunk = data[pos + 8 : pos + 8 + size]
        if kind == b"fmt ":
            fmt = chunk
        elif kind == b"data":
            body = chunk
        pos += 8 + size + (size & 1)
    tag = int.from_bytes(fmt[0:2], "little")
    chans = int.from_bytes(fmt[2:4], "little")
    rate = int.from_bytes(fmt[4:8], "little")
    width = int.from_bytes(fmt[14:16], "little") // 8
    assert tag in (1, 0xFFFE), f"format tag {tag}"
    b = np.frombuffer(body[: len(body) // (width * chans) * width * chans], dtype=np.uint8).reshape(-1, width)
    if width == 3:
        v = b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (b[:, 2].astype(np.int32) << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)
    elif width == 2:
        v = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8)).astype(np.int16) / 32768.0
    else:
        raise SystemExit(f"{width * 8}-bit WAV not handled")
    return rate, v.reshape(-1, chans).T


def main():
    path, doc_path, curve, lo, hi = sys.argv[1:6]
    lo, hi = float(lo), float(hi)
    rate, x = read(path)
    series = {"L": x[0], "mono": x[0]}
    if len(x) == 2:
        series.update(R=x[1], M=(x[0] + x[1]) / 2, S=(x[0] - x[1]) / 2)
    sig = series[curve]
    n = len(sig)
    # No window: every sample weighs the same, as in rackd's 50 % overlapped
    # Hann frames, and by Parseval the bins sum to the file's mean square.
    spec = np.fft.rfft(sig)
    power = np.abs(spec) ** 2 / (n * n)
    power[1:-1] *= 2.0
    freqs = np.arange(len(power)) * rate / n
    doc = json.load(open(doc_path))
    sp = doc["files"][0]["plots"]["spectrum"]
    half = 2 ** (1 / 12)
    out = []
    for f, got in zip(sp["frequencies_hz"], sp["curves_db"][curve]):
        if f < lo or f > hi:
            continue
        band = (freqs >= f / half) & (freqs < f * half)
        want = 10 * np.log10(2 * power[band].sum())
        out.append({"hz": f, "numpy": float(want), "rackd": got})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
