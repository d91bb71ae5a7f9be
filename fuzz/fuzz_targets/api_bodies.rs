//! Any bytes as the JSON body of an API action (sync, rollback, approve): a value or an error,
//! never a panic; whatever parses serializes back and parses to the same value.
#![no_main]

use ferry_api::dto::{ApproveBody, RollbackBody, SyncBody};
use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let again = serde_json::to_vec(&value).expect("a parsed body serializes");
        let back: T = serde_json::from_slice(&again).expect("a serialized body parses");
        assert_eq!(back, value);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<SyncBody>(data);
    round_trip::<RollbackBody>(data);
    round_trip::<ApproveBody>(data);
});
