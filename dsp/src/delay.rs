//! A stereo delay line with a delay that may change from block to block.

/// Ring buffers for two channels, sized once off the audio thread.
pub struct StereoDelay {
    lines: [Vec<f32>; 2],
    write: usize,
}

impl StereoDelay {
    /// A line that delays by up to `max` samples.
    pub fn new(max: usize) -> Self {
        StereoDelay {
            lines: [vec![0.0; max + 1], vec![0.0; max + 1]],
            write: 0,
        }
    }

    /// Longest delay it holds.
    pub fn max(&self) -> usize {
        self.lines[0].len() - 1
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
}
