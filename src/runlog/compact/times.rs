//! A column of execution times in a few bytes each, for the aggregates that need only their
//! sorted values (percentiles, sums, histograms), never their order.
//!
//! Times logged in whole thousandths of a millisecond (as every logger does) are kept as
//! integers: sorted in blocks of [`BLOCK`] and stored as LEB128 gaps in units of the block's
//! greatest common divisor, one or two bytes a time. A time that is not a whole number of thousandths (or is negative, or too large) turns
//! the column into plain `f64`s, so the values given back are always exactly the ones read.

/// Times sorted and packed together.
const BLOCK: usize = 4096;

/// The largest time kept as thousandths.
const MAX_THOUSANDTHS: f64 = u32::MAX as f64;

/// Execution times, in no particular order.
#[derive(Debug, Default)]
pub(super) struct Times {
    /// Whole blocks of sorted thousandths, in LEB128: their greatest common divisor `d`,
    /// then the first divided by `d`, then each gap divided by `d`.
    packed: Vec<u8>,
    /// Whole blocks in `packed`.
    blocks: usize,
    /// Thousandths not packed yet (fewer than [`BLOCK`]).
    tail: Vec<u32>,
    /// Every time, when one of them is not a whole number of thousandths.
    plain: Option<Vec<f64>>,
}

/// `t` as a whole number of thousandths, when it is one that gives `t` back exactly.
fn thousandths(t: f64) -> Option<u32> {
    if !(t.is_sign_positive() && t * 1000.0 <= MAX_THOUSANDTHS) {
        return None;
    }
    let q = (t * 1000.0).round();
    (q / 1000.0 == t).then_some(q as u32)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn leb128(out: &mut Vec<u8>, mut x: u32) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// The next LEB128 number (the column wrote them all: none is cut short).
fn read_leb128(bytes: &mut impl Iterator<Item = u8>) -> u32 {
    let (mut x, mut shift) = (0u32, 0);
    for b in bytes {
        x |= u32::from(b & 0x7f).wrapping_shl(shift);
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    x
}

fn time_of(q: u32) -> f64 {
    f64::from(q) / 1000.0
}

impl Times {
    /// How many times there are.
    pub(super) fn len(&self) -> usize {
        match &self.plain {
            Some(v) => v.len(),
            None => self.blocks * BLOCK + self.tail.len(),
        }
    }

    pub(super) fn push(&mut self, t: f64) {
        if let Some(v) = &mut self.plain {
            v.push(t);
            return;
        }
        match thousandths(t) {
            Some(q) => {
                self.tail.push(q);
                if self.tail.len() == BLOCK {
                    self.pack_tail();
                }
            }
            None => {
                let mut v = self.values();
                v.push(t);
                *self = Times {
                    plain: Some(v),
                    ..Times::default()
                };
            }
        }
    }

    /// Sort the tail (a whole block) and pack it.
    fn pack_tail(&mut self) {
        self.tail.sort_unstable();
        let mut d = 0u32;
        for &q in &self.tail {
            d = gcd(d, q);
            if d == 1 {
                break;
            }
        }
        let d = d.max(1);
        leb128(&mut self.packed, d);
        let mut last = 0u32;
        for &q in &self.tail {
            leb128(&mut self.packed, (q - last) / d);
            last = q;
        }
        self.blocks += 1;
        self.tail.clear();
    }

    /// Every thousandth, packed blocks first (each one sorted), then the tail.
    fn thousandths(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.len());
        let mut bytes = self.packed.iter().copied();
        for _ in 0..self.blocks {
            let d = read_leb128(&mut bytes);
            let mut last = 0u32;
            for _ in 0..BLOCK {
                last = last.wrapping_add(read_leb128(&mut bytes).wrapping_mul(d));
                out.push(last);
            }
        }
        out.extend_from_slice(&self.tail);
        out
    }

    /// Every time, in no particular order.
    fn values(&self) -> Vec<f64> {
        match &self.plain {
            Some(v) => v.clone(),
            None => self.thousandths().into_iter().map(time_of).collect(),
        }
    }

    /// Every time, ascending in `f64::total_cmp` order.
    pub(super) fn into_sorted(self) -> Vec<f64> {
        match self.plain {
            Some(mut v) => {
                v.sort_unstable_by(f64::total_cmp);
                v
            }
            None => {
                let mut q = self.thousandths();
                // Runs of sorted blocks: the stable sort merges them.
                q.sort();
                q.into_iter().map(time_of).collect()
            }
        }
    }

    /// Add `other`'s times.
    pub(super) fn append(&mut self, other: Times) {
        if self.plain.is_none() && other.plain.is_none() {
            self.packed.extend_from_slice(&other.packed);
            self.blocks += other.blocks;
            for q in other.tail {
                self.tail.push(q);
                if self.tail.len() == BLOCK {
                    self.pack_tail();
                }
            }
            return;
        }
        let mut v = match self.plain.take() {
            Some(v) => v,
            None => self.values(),
        };
        match other.plain {
            Some(o) => v.extend(o),
            None => v.extend(other.thousandths().into_iter().map(time_of)),
        }
        *self = Times {
            plain: Some(v),
            ..Times::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_unstable_by(f64::total_cmp);
        v
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|t| t.to_bits()).collect()
    }

    /// A deterministic spread of times with up to three decimals.
    fn spread(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) % 5_000_000) as f64 / 1000.0
            })
            .collect()
    }

    #[test]
    fn whole_thousandths_come_back_exactly_and_sorted() {
        let input = spread(3 * BLOCK + 17, 7);
        let mut t = Times::default();
        for &x in &input {
            t.push(x);
        }
        assert!(
            t.plain.is_none(),
            "every value is a whole number of thousandths"
        );
        assert_eq!(t.blocks, 3);
        assert_eq!(t.len(), input.len());
        // About two bytes a time, not eight.
        assert!(t.packed.len() < 3 * BLOCK * 3, "{} bytes", t.packed.len());
        assert_eq!(bits(&t.into_sorted()), bits(&sorted(input)));
    }

    #[test]
    fn times_in_tenths_pack_in_about_a_byte() {
        // Times logged to a tenth of a millisecond: every thousandth is a multiple of 100.
        let input: Vec<f64> = spread(4 * BLOCK, 11)
            .into_iter()
            .map(|t| (t * 10.0).round() / 10.0)
            .collect();
        let mut t = Times::default();
        input.iter().for_each(|&x| t.push(x));
        assert!(t.plain.is_none());
        assert!(
            t.packed.len() < 4 * BLOCK * 3 / 2,
            "{} bytes",
            t.packed.len()
        );
        assert_eq!(bits(&t.into_sorted()), bits(&sorted(input)));
        // All zeros, and one value repeated: a divisor of 0 is stored as 1.
        for x in [0.0, 42.5] {
            let mut t = Times::default();
            (0..BLOCK + 1).for_each(|_| t.push(x));
            assert_eq!(t.into_sorted(), vec![x; BLOCK + 1]);
        }
    }

    #[test]
    fn a_time_that_is_not_whole_thousandths_keeps_every_value_exact() {
        let mut input = spread(BLOCK + 5, 3);
        // 0.1 + 0.2 is not 0.3: it has no exact thousandths.
        input.insert(BLOCK + 2, 0.1 + 0.2);
        input.push(1e12);
        input.push(-0.0);
        let mut t = Times::default();
        for &x in &input {
            t.push(x);
        }
        assert!(t.plain.is_some());
        assert_eq!(t.len(), input.len());
        assert_eq!(bits(&t.into_sorted()), bits(&sorted(input)));
    }

    #[test]
    fn thousandths_are_only_taken_when_they_give_the_time_back() {
        for x in [0.0, 0.001, 1178.6, 4_294_967.295, 12.345] {
            assert_eq!(thousandths(x).map(time_of), Some(x), "{x}");
        }
        for x in [
            -0.0,
            -1.0,
            0.0001,
            4_294_967.296,
            0.1 + 0.2,
            f64::INFINITY,
            f64::NAN,
        ] {
            assert_eq!(thousandths(x), None, "{x}");
        }
    }

    #[test]
    fn appending_columns_keeps_every_value() {
        for (a_plain, b_plain) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut a_in = spread(BLOCK + 100, 1);
            let mut b_in = spread(2 * BLOCK - 50, 2);
            if a_plain {
                a_in.push(0.0001);
            }
            if b_plain {
                b_in.push(2.5e-7);
            }
            let (mut a, mut b) = (Times::default(), Times::default());
            a_in.iter().for_each(|&x| a.push(x));
            b_in.iter().for_each(|&x| b.push(x));
            a.append(b);
            assert_eq!(a.plain.is_some(), a_plain || b_plain);
            let all: Vec<f64> = a_in.into_iter().chain(b_in).collect();
            assert_eq!(a.len(), all.len());
            assert_eq!(bits(&a.into_sorted()), bits(&sorted(all)));
        }
    }
}
