//! A stereo delay line with a delay that may change from block to block.

/// Ring buffers for two channels, sized once off the audio thread.
pub struct StereoDelay {
    lines: [Vec<f32>; 2],
    write: usize,
}

impl StereoDelay {
    /// A line that delays by up to `max` samples, sample by sample.
    pub fn new(max: usize) -> Self {
        Self::with_block(max, 0)
    }

    /// A line that delays by up to `max` samples, also in blocks of up to
    /// `max_block` frames ([`StereoDelay::push`], [`StereoDelay::delay_block`]).
    pub fn with_block(max: usize, max_block: usize) -> Self {
        let len = max + max_block + 1;
        StereoDelay {
            lines: [vec![0.0; len], vec![0.0; len]],
            write: 0,
        }
    }

    /// Longest delay it holds (sample by sample).
    pub fn max(&self) -> usize {
        self.lines[0].len() - 1
    }

    /// Writes a block without reading: keeps the line full while its output
    /// is not needed. Blocks longer than the line keep only their end.
    pub fn push(&mut self, left: &[f32], right: &[f32]) {
        let len = self.lines[0].len();
        for (line, x) in self.lines.iter_mut().zip([left, right]) {
            let x = &x[x.len().saturating_sub(len)..];
            let first = x.len().min(len - self.write);
            line[self.write..self.write + first].copy_from_slice(&x[..first]);
            line[..x.len() - first].copy_from_slice(&x[first..]);
        }
        self.write = (self.write + left.len().min(len)) % len;
    }

    /// Delays a block in place by `delay` samples (at most the `max` given
    /// to [`StereoDelay::with_block`]; the block at most its `max_block`).
    pub fn delay_block(&mut self, left: &mut [f32], right: &mut [f32], delay: usize) {
        let len = self.lines[0].len();
        let n = left.len();
        let start = (self.write + len - delay.min(len - 1 - n.min(len - 1))) % len;
        self.push(left, right);
        for (line, x) in self.lines.iter().zip([left, right]) {
            let first = n.min(len - start);
            x[..first].copy_from_slice(&line[start..start + first]);
            x[first..].copy_from_slice(&line[..n - first]);
        }
    }

    /// Puts one frame in and returns the frame from `delay` samples ago
    /// (`delay` is clamped to [`StereoDelay::max`]).
    #[inline]
    pub fn tick(&mut self, x: [f32; 2], delay: usize) -> [f32; 2] {
        let len = self.lines[0].len();
        let read = (self.write + len - delay.min(len - 1)) % len;
        self.lines[0][self.write] = x[0];
        self.lines[1][self.write] = x[1];
        let out = [self.lines[0][read], self.lines[1][read]];
        self.write = (self.write + 1) % len;
        out
    }

    /// Forgets what it holds.
    pub fn clear(&mut self) {
        for l in &mut self.lines {
            l.fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_exactly_and_zero_is_a_wire() {
        let mut d = StereoDelay::new(8);
        let out: Vec<f32> = (0..20)
            .map(|i| d.tick([i as f32, -(i as f32)], 5)[0])
            .collect();
        assert_eq!(
            &out[5..],
            &(0..15).map(|i| i as f32).collect::<Vec<_>>()[..]
        );
        assert_eq!(d.tick([7.0, 8.0], 0), [7.0, 8.0]);
        assert_eq!(d.max(), 8);
    }

    #[test]
    fn blocks_delay_like_samples() {
        // Odd block sizes that wrap the ring at every position.
        let x: Vec<f32> = (0..997).map(|i| i as f32 + 1.0).collect();
        for delay in [0, 1, 5, 37, 64] {
            let mut d = StereoDelay::with_block(64, 48);
            let mut out = Vec::new();
            let mut at = 0;
            for (k, n) in [1usize, 48, 7, 30, 48, 13].iter().cycle().enumerate() {
                if at >= x.len() {
                    break;
                }
                let end = (at + n).min(x.len());
                let mut l = x[at..end].to_vec();
                let mut r = l.clone();
                if k % 5 == 4 {
                    // A block only pushed keeps the line full.
                    d.push(&l, &r);
                    out.extend(
                        x[at..end]
                            .iter()
                            .enumerate()
                            .map(|(i, _)| (at + i).checked_sub(delay).map_or(0.0, |j| x[j])),
                    );
                } else {
                    d.delay_block(&mut l, &mut r, delay);
                    assert_eq!(l, r);
                    out.extend_from_slice(&l);
                }
                at = end;
            }
            for (i, y) in out.iter().enumerate() {
                let want = i.checked_sub(delay).map_or(0.0, |j| x[j]);
                assert_eq!(*y, want, "delay {delay} at {i}");
            }
        }
    }
}
