//! grpc-server on random ports, as its own tests and grpc-client's start it (grpc-client's
//! tests include this file).

use grpc_server::{app::Application, config::Config};
use notas_testkit::{ANY_PORT, GrpcServer, defaults, spawn_grpc_server};

/// grpc-server storing into `mysql_url`, with `adjust` applied to its configuration.
pub async fn start_grpc_server(mysql_url: String, adjust: impl FnOnce(&mut Config)) -> GrpcServer {
    let mut config: Config = defaults();
    config.listen_addr = ANY_PORT;
    config.admin_addr = ANY_PORT;
    config.mysql.mysql_url = mysql_url;
    config.mysql.store_timeout_ms = 3000;
    adjust(&mut config);
    let app = Application::build(config)
        .await
        .expect("grpc-server starts");
    let (grpc_addr, admin_addr) = (app.grpc_addr(), app.admin_addr());
    spawn_grpc_server(grpc_addr, admin_addr, |shutdown| {
        app.run_until_stopped(shutdown)
    })
}
