//! Inputs the fuzz targets found (`fuzz/fuzz_targets`), kept as tests: each failed before its
//! fix.

use ferry_secrets::{EncryptOptions, Format, Keyring, decrypt, encrypt};

/// An age identity made for these tests only (the `sops_documents` target's).
const IDENTITY: &str = "AGE-SECRET-KEY-14VVVAHZ4RLY5RU4PWFXWKZGZWG44MTSZGX3PLLDYP550KE049DWQFRR76D";

fn ring() -> Keyring {
    let mut ring = Keyring::new();
    ring.add_age(IDENTITY, "tests").expect("the identity parses");
    ring
}

/// `sops_documents`, crash-60678e56e94d107e64ddf9fb889a9c58e71694c9: a dotenv variable named
/// `sops_…` was encrypted, then read back as metadata, and the file never decrypted again.
#[test]
fn a_dotenv_variable_named_like_sops_metadata_is_refused_before_encrypting_and_names_it() {
    let opts = EncryptOptions { age: ring().age_recipients(), ..EncryptOptions::default() };
    let err = encrypt(Format::Dotenv, b"sops_ve=0ion=\x06\x91: ", &opts).expect_err("refused");
    assert!(err.to_string().contains("variable sops_ve"), "{err}");

    // Any other name goes through and back.
    let sealed = encrypt(Format::Dotenv, b"DB_PASSWORD=0ion=\x06: \n", &opts).expect("encrypts");
    let opened = decrypt(Format::Dotenv, &sealed, &ring()).expect("decrypts").expect("sealed");
    let text = String::from_utf8(opened.to_bytes().expect("prints")).expect("UTF-8");
    assert_eq!(text, "DB_PASSWORD=0ion=\x06: \n");
}

/// `sops_documents`, crash-b084e1df7831e2314fc4944ac40e01c254d832b4: `00` reads as the float 0,
/// which prints as `0` (as sops prints whole floats) and reads back as an integer; the printed
/// file is the same after any number of round trips.
#[test]
fn a_whole_float_prints_the_same_after_a_round_trip() {
    let opts = EncryptOptions { age: ring().age_recipients(), ..EncryptOptions::default() };
    let once = |plain: &[u8]| {
        let sealed = encrypt(Format::Yaml, plain, &opts).expect("encrypts");
        let opened = decrypt(Format::Yaml, &sealed, &ring()).expect("decrypts").expect("sealed");
        opened.to_bytes().expect("prints")
    };
    let first = once(b"550:\n 00");
    assert_eq!(String::from_utf8_lossy(&first), "\"550\": 0\n");
    assert_eq!(once(&first), first);
}
