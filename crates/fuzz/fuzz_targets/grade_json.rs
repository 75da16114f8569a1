//! Any body `POST /notas` may receive: the decoder never panics, refuses only with 400 or
//! 422, and a grade it accepts reads back the same from its own JSON.
#![no_main]

use axum::http::StatusCode;
use libfuzzer_sys::fuzz_target;
use notas_core::http::grade_json::decode;

fuzz_target!(|body: &[u8]| {
    match decode(body) {
        Ok(grade) => {
            let again = serde_json::to_vec(&grade).expect("a grade serializes");
            assert_eq!(decode(&again).expect("its own JSON is valid"), grade);
        }
        Err(e) => assert!(
            [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&e.status),
            "{e:?}"
        ),
    }
});
