//! The generated code of every test `.x` file (`tests/corpus/`, and
//! `tests/extensions.x`): every sample value of every type round-trips,
//! every truncation of an encoding fails cleanly, and random bytes decode
//! to an error or a value without panicking.

use proptest::prelude::*;

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));

fn all_cases() -> Vec<(&'static str, Case)> {
    CORPUS
        .iter()
        .chain([&EXTENSIONS])
        .flat_map(|c| (c.cases)().into_iter().map(move |case| (c.file, case)))
        .collect()
}

/// One case per type (the first sample), for decoders of random input.
fn one_case_per_type() -> Vec<(&'static str, Case)> {
    all_cases()
        .into_iter()
        .filter(|(_, c)| c.name.ends_with("#0"))
        .collect()
}

#[test]
fn every_sample_round_trips() {
    let cases = all_cases();
    assert!(cases.len() > 1000, "{} cases", cases.len());
    for (file, case) in &cases {
        let bytes = (case.encode)().unwrap_or_else(|e| panic!("{file} {}: {e}", case.name));
        assert_eq!(
            bytes.len() % 4,
            0,
            "{file} {}: not a multiple of 4",
            case.name
        );
        let (same, again) =
            (case.decode)(&bytes).unwrap_or_else(|e| panic!("{file} {}: {e}", case.name));
        assert!(same, "{file} {}: decodes to another value", case.name);
        assert_eq!(again, bytes, "{file} {}", case.name);
    }
}

#[test]
fn every_truncation_fails_and_trailing_bytes_are_refused() {
    for (file, case) in all_cases() {
        let bytes = (case.encode)().unwrap();
        for cut in 0..bytes.len() {
            match (case.decode)(&bytes[..cut]) {
                Err(xdr::Error::Truncated { offset, .. }) => {
                    assert!(
                        offset <= cut,
                        "{file} {}: offset {offset} past {cut}",
                        case.name
                    )
                }
                other => panic!(
                    "{file} {}: {cut} of {} bytes gave {:?}",
                    case.name,
                    bytes.len(),
                    other.map(|(same, _)| same)
                ),
            }
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 4]);
        assert_eq!(
            (case.decode)(&longer).map(|(same, _)| same),
            Err(xdr::Error::TrailingBytes {
                offset: bytes.len(),
                remaining: 4
            }),
            "{file} {}",
            case.name
        );
    }
}

#[test]
fn a_flipped_byte_never_panics() {
    for (file, case) in all_cases().into_iter().step_by(7) {
        let bytes = (case.encode)().unwrap();
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                // An error or a value; what matters is no panic, and
                // that a value encodes again to what was read.
                if let Ok((_, again)) = (case.decode)(&b) {
                    assert_eq!(again, b, "{file} {}", case.name);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_never_panic_any_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for (_, case) in one_case_per_type() {
            let _ = (case.decode)(&bytes);
        }
    }

    #[test]
    fn mostly_small_words_never_panic_any_decoder(words in proptest::collection::vec(prop_oneof![0u32..4, Just(u32::MAX), any::<u32>()], 0..64)) {
        // Small words are valid lengths, discriminants and flags more often.
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        for (_, case) in one_case_per_type() {
            let _ = (case.decode)(&bytes);
        }
    }
}

#[test]
fn corpus_covers_what_the_brief_lists() {
    let files: Vec<&str> = CORPUS.iter().map(|c| c.file).collect();
    for f in [
        "primitives.x",
        "structs.x",
        "enums.x",
        "unions.x",
        "optional.x",
        "arrays.x",
        "strings.x",
        "typedefs.x",
        "constants.x",
        "program.x",
    ] {
        assert!(files.contains(&f), "{f} missing from tests/corpus");
    }
}
