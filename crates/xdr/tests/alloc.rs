//! The allocation bound: decoding n bytes allocates O(n) bytes, whatever
//! the bytes claim. Counted with `allocation-counter`, which wraps the
//! system allocator in this test binary.

use xdr::{Decoder, Xdr};

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));

/// Bytes allocated per input byte, at most, for the test types (the
/// largest ratio of a type's size in memory to its smallest encoding).
const PER_INPUT_BYTE: u64 = 16;

fn allocated(f: impl FnOnce()) -> u64 {
    allocation_counter::measure(f).bytes_total
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn the_counter_counts() {
    assert!(allocated(|| drop(std::hint::black_box(vec![1u8; 16]))) >= 16);
}

#[test]
fn lying_lengths_allocate_nothing() {
    let lie = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    assert_eq!(
        allocated(|| assert!(Vec::<u64>::from_bytes(&lie).is_err())),
        0
    );
    assert_eq!(
        allocated(|| assert!(Vec::<u8>::from_bytes(&lie).is_err())),
        0
    );
    assert_eq!(allocated(|| assert!(String::from_bytes(&lie).is_err())), 0);
    assert_eq!(
        allocated(|| assert!(<[u64; 4096]>::from_bytes(&lie).is_err())),
        0
    );
    // An honest length allocates exactly what it holds.
    let honest: Vec<u8> = [3u32, 1, 2, 3]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect();
    let mut d = Decoder::new(&honest);
    assert_eq!(
        allocated(|| assert_eq!(d.read_array::<u32>(3).unwrap(), [1, 2, 3])),
        12
    );
}

#[test]
fn every_generated_type_allocates_in_proportion_to_its_input() {
    let cases: Vec<Case> = CORPUS
        .iter()
        .chain([&EXTENSIONS])
        .flat_map(|c| (c.cases)())
        .collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut worst = (0.0_f64, String::new());
    let mut inputs = 0;
    for case in &cases {
        let valid = (case.encode)().unwrap();
        let mut tries: Vec<Vec<u8>> = vec![valid.clone()];
        // Truncations, and valid prefixes followed by large words.
        for cut in (0..valid.len()).step_by(4) {
            tries.push(valid[..cut].to_vec());
            let mut lie = valid[..cut].to_vec();
            lie.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
            lie.extend_from_slice(&valid[cut..]);
            tries.push(lie);
        }
        // Random words, mostly small, so lengths and flags look plausible.
        if case.name.ends_with("#0") {
            for _ in 0..200 {
                let len = (rng.next() % 64) as usize;
                let bytes: Vec<u8> = (0..len)
                    .flat_map(|_| {
                        let r = rng.next();
                        let w = if r.is_multiple_of(4) {
                            r as u32
                        } else {
                            (r % 4) as u32
                        };
                        w.to_be_bytes()
                    })
                    .collect();
                tries.push(bytes);
            }
        }
        for bytes in &tries {
            let n = bytes.len() as u64;
            let used = allocated(|| {
                std::hint::black_box((case.decode_only)(bytes));
            });
            assert!(
                used <= PER_INPUT_BYTE * n,
                "{}: {used} bytes allocated for {n} input bytes",
                case.name
            );
            if n > 0 && used as f64 / n as f64 > worst.0 {
                worst = (used as f64 / n as f64, case.name.to_string());
            }
            inputs += 1;
        }
    }
    eprintln!(
        "allocation bound: {inputs} inputs, worst {:.2} bytes per input byte ({})",
        worst.0, worst.1
    );
}
