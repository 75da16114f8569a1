// Data hooks: MySQL reports reloaded on a period, and the Redis live view over socket.io.

import { useEffect, useRef, useState } from "react";
import { io, type Socket } from "socket.io-client";
import { getJson, type GradeRecord, type Selection } from "./api";
import { isSelected, type Connection } from "./logic";

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
}

/** Fetches `url` now, whenever it changes, and every `refreshMs`. Keeps the last data on error. */
export function useReport<T>(url: string, refreshMs: number): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: null, error: null, loading: true });
  useEffect(() => {
    let controller = new AbortController();
    setState({ data: null, error: null, loading: true });
    const load = () => {
      controller.abort();
      controller = new AbortController();
      getJson<T>(url, controller.signal)
        .then((data) => setState({ data, error: null, loading: false }))
        .catch((e: unknown) => {
          if (e instanceof DOMException && e.name === "AbortError") return;
          setState((s) => ({ ...s, error: e instanceof Error ? e.message : String(e), loading: false }));
        });
    };
    load();
    const timer = setInterval(load, refreshMs);
    return () => {
      clearInterval(timer);
      controller.abort();
    };
  }, [url, refreshMs]);
  return state;
}

export interface LiveState {
  connection: Connection;
  total: number | null;
  recent: GradeRecord[];
  count: number | null;
}

/**
 * The live view from dashboard-api's socket.io: total and newest records for everyone,
 * the count of the selected course+semester+year for this page. Websocket transport
 * only, as the server requires (no sticky sessions needed across replicas).
 */
export function useLive(apiOrigin: string, selection: Selection): LiveState {
  const [state, setState] = useState<LiveState>({ connection: "connecting", total: null, recent: [], count: null });
  const socketRef = useRef<Socket | null>(null);
  const selectionRef = useRef(selection);
  selectionRef.current = selection;

  useEffect(() => {
    const socket = io(apiOrigin || undefined, { transports: ["websocket"] });
    socketRef.current = socket;
    socket.on("connect", () => {
      setState((s) => ({ ...s, connection: "connected" }));
      socket.emit("select", selectionRef.current);
    });
    socket.on("disconnect", () => setState((s) => ({ ...s, connection: "disconnected" })));
    socket.io.on("reconnect_attempt", () => setState((s) => ({ ...s, connection: "connecting" })));
    // Each push carries the whole newest list (Redis' recent list), so it replaces ours.
    socket.on("live", (push: { total: number; recent: GradeRecord[] }) =>
      setState((s) => ({ ...s, total: push.total, recent: push.recent })),
    );
    socket.on("count", (push: { curso: string; semestre: string; year: number; count: number }) => {
      if (isSelected(push, selectionRef.current)) setState((s) => ({ ...s, count: push.count }));
    });
    return () => {
      socket.disconnect();
      socketRef.current = null;
    };
  }, [apiOrigin]);

  useEffect(() => {
    setState((s) => ({ ...s, count: null }));
    socketRef.current?.emit("select", selection);
  }, [selection.curso, selection.semestre, selection.year]); // eslint-disable-line react-hooks/exhaustive-deps

  return state;
}
