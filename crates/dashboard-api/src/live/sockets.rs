//! The socket.io handlers: a new socket gets the `live` event at once; `select` moves it
//! into its selection's room and answers that selection's `count` (or `select_error`).

use super::{LiveReader, Selection, SelectionInput};
use notas_core::http::ApiError;
use socketioxide::{
    SocketIo,
    extract::{Data, SocketRef},
    handler::ConnectHandler,
};
use std::convert::Infallible;

/// Registers the socket.io handlers on `io`.
pub fn serve_sockets(io: &SocketIo, live: LiveReader) {
    // Event handlers are registered in a connect middleware, which socketioxide awaits
    // before it sends the client its CONNECT; the connect handler itself runs later in a
    // spawned task, and a `select` sent right after connecting could arrive before it.
    let on_select = live.clone();
    let listen = move |socket: SocketRef| {
        let live = on_select.clone();
        async move {
            metrics::gauge!("notas_dashboard_sockets").increment(1.0);
            socket.on(
                "select",
                move |socket: SocketRef, Data(input): Data<SelectionInput>| {
                    let live = live.clone();
                    async move { select(&socket, &live, input).await }
                },
            );
            socket
                .on_disconnect(async || metrics::gauge!("notas_dashboard_sockets").decrement(1.0));
            Ok::<(), Infallible>(())
        }
    };
    let greet = move |socket: SocketRef| {
        let live = live.clone();
        async move {
            if let Ok(latest) = live.latest().await {
                let _ = socket.emit("live", &latest);
            }
        }
    };
    io.ns("/", greet.with(listen));
}

async fn select(socket: &SocketRef, live: &LiveReader, input: SelectionInput) {
    let selection = match Selection::parse(input) {
        Ok(selection) => selection,
        Err(e) => {
            let _ = socket.emit("select_error", &ApiError::invalid(e));
            return;
        }
    };
    for room in socket.rooms() {
        if Selection::of_room(&room).is_some() {
            socket.leave(room);
        }
    }
    socket.join(selection.room());
    if let Ok(count) = live.count(&selection).await {
        let _ = socket.emit("count", &count);
    }
}
