//! Secrets never print, in a test binary of its own: tracing caches which callsites are
//! enabled across threads, so a test that captures every event must not share its process
//! with tests that log without a subscriber.

mod common;

use common::{connect, grade};
use notas_core::route::Route;
use notas_testkit::TestDb;

/// Everything logged, at every level, while `work` runs on this thread.
fn logs_of(work: impl std::future::Future<Output = ()>) -> String {
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || runtime.block_on(work));
    String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn no_log_line_at_any_level_carries_a_password() {
    let (password, logs) = {
        let password = std::sync::Mutex::new(String::new());
        let logs = logs_of(async {
            // The migration step makes the services' user with its password; the store then
            // connects as that user and writes a batch.
            let db = TestDb::new().await;
            let (credentials, _) = db.url.rsplit_once('@').unwrap();
            *password.lock().unwrap() = credentials.rsplit_once(':').unwrap().1.to_owned();
            let store = connect(&db.url).await.unwrap();
            store.insert(Route::Grpc, &[grade(1).into()]).await.unwrap();
        });
        (password.into_inner().unwrap(), logs)
    };
    assert!(password.len() >= 16, "no password in the test's URL");
    assert!(
        logs.contains("application user granted"),
        "nothing logged:\n{logs}"
    );
    assert!(
        !logs.contains(&password),
        "a log line carries the password:\n{logs}"
    );
}
