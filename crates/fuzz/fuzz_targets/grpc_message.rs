//! Any bytes grpc-server may receive as a `RegisterGrade` request: what decodes as the
//! message converts without panicking, and is refused only with `INVALID_ARGUMENT`.
#![no_main]

use grpc_server::service::to_submission;
use libfuzzer_sys::fuzz_target;
use notas_proto::v1::RegisterGradeRequest;
use prost::Message;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(request) = RegisterGradeRequest::decode(bytes) {
        if let Err(status) = to_submission(request) {
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        }
    }
});
