//! A small deterministic PRNG (xorshift64*), so every run measures the same bytes.

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True `percent` times in a hundred.
    #[allow(dead_code)] // not every bench draws chances
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
