//! Any bytes as a SOPS file in each format, decrypted with an age key ring: plain, decrypted or
//! refused with a reason, never a panic; and any YAML, JSON or dotenv file Ferry encrypts for
//! that key decrypts back to the same documents.
#![no_main]

use ferry_secrets::{EncryptOptions, Format, Keyring, decrypt, encrypt};
use libfuzzer_sys::fuzz_target;

/// An age identity made for this target only.
const IDENTITY: &str = "AGE-SECRET-KEY-14VVVAHZ4RLY5RU4PWFXWKZGZWG44MTSZGX3PLLDYP550KE049DWQFRR76D";

fn ring() -> Keyring {
    let mut ring = Keyring::new();
    ring.add_age(IDENTITY, "fuzz").expect("the target's identity parses");
    ring
}

fuzz_target!(|data: &[u8]| {
    let ring = ring();
    for format in [Format::Yaml, Format::Json, Format::Dotenv, Format::Binary] {
        if let Ok(Some(file)) = decrypt(format, data, &ring) {
            let _ = file.to_bytes();
        }
    }
    let opts = EncryptOptions { age: ring.age_recipients(), ..EncryptOptions::default() };
    for format in [Format::Yaml, Format::Json, Format::Dotenv] {
        let Ok(sealed) = encrypt(format, data, &opts) else { continue };
        let opened = decrypt(format, &sealed, &ring)
            .unwrap_or_else(|e| panic!("{format:?}: what Ferry encrypted does not decrypt: {e}"))
            .unwrap_or_else(|| panic!("{format:?}: what Ferry encrypted reads as plain"));
        let again = encrypt(format, &opened.to_bytes().expect("a decrypted file prints"), &opts)
            .expect("a decrypted file encrypts again");
        let twice = decrypt(format, &again, &ring).expect("decrypts").expect("encrypted");
        // Compared as printed: a whole float prints as an integer (as Go's encoders in sops
        // print it), so `0.0` read back is the integer `0`, the same text.
        assert_eq!(
            opened.to_bytes().expect("prints"),
            twice.to_bytes().expect("prints"),
            "{format:?}: a round trip changed the file"
        );
    }
});
