// Data hooks: reports reloaded on a period, the Redis live view over socket.io, and the
// host monitors' samples over the same socket.

import { useEffect, useRef, useState } from "react";
import { io, type Socket } from "socket.io-client";
import { ApiError, apiUrl, getJson, type GradeRecord, type HostHistory, type HostSample, type Selection } from "./api";
import { isSelected, type Connection } from "./logic";
import { addHostSamples } from "./monitoring";

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  /** The HTTP status of the failed answer, when there was one (null on a network error). */
  status: number | null;
  loading: boolean;
}

/** Fetches `url` now, whenever it changes, and every `refreshMs`. Keeps the last data on error. */
export function useReport<T>(url: string, refreshMs: number): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: null, error: null, status: null, loading: true });
  useEffect(() => {
    let controller = new AbortController();
    setState({ data: null, error: null, status: null, loading: true });
    const load = () => {
      controller.abort();
      controller = new AbortController();
      getJson<T>(url, controller.signal)
        .then((data) => setState({ data, error: null, status: null, loading: false }))
        .catch((e: unknown) => {
          if (e instanceof DOMException && e.name === "AbortError") return;
          const error = e instanceof Error ? e.message : String(e);
          setState((s) => ({ ...s, error, status: e instanceof ApiError ? e.status : null, loading: false }));
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
 * only, as the server requires (no sticky sessions needed across replicas). `socket` is
 * the page's one connection, for other live panels to listen on (null until it exists).
 */
export function useLive(apiOrigin: string, selection: Selection): LiveState & { socket: Socket | null } {
  const [state, setState] = useState<LiveState>({ connection: "connecting", total: null, recent: [], count: null });
  const [socket, setSocket] = useState<Socket | null>(null);
  const socketRef = useRef<Socket | null>(null);
  const selectionRef = useRef(selection);
  selectionRef.current = selection;

  useEffect(() => {
    // The handlers of this hook's events are on before the connection opens, so the
    // snapshot pushed on connect is never missed.
    const socket = io(apiOrigin || undefined, { transports: ["websocket"] });
    socketRef.current = socket;
    setSocket(socket);
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
      setSocket(null);
    };
  }, [apiOrigin]);

  useEffect(() => {
    setState((s) => ({ ...s, count: null }));
    socketRef.current?.emit("select", selection);
  }, [selection.curso, selection.semestre, selection.year]); // eslint-disable-line react-hooks/exhaustive-deps

  return { ...state, socket };
}

export interface HostsState {
  /** Each host's recent samples (oldest first, at most five minutes), hosts by name. */
  hosts: HostHistory[];
  /** Whether the history has been asked for and answered (or failed) at least once. */
  loaded: boolean;
  error: string | null;
}

/**
 * The host monitors' samples: the history of `GET /api/hosts` (again after each
 * reconnection, to fill what was missed) merged with the `host` pushes of `socket`.
 */
export function useHosts(apiOrigin: string, socket: Socket | null): HostsState {
  const [state, setState] = useState<HostsState>({ hosts: [], loaded: false, error: null });
  useEffect(() => {
    if (!socket) return;
    const controller = new AbortController();
    const onSample = (sample: HostSample) => setState((s) => ({ ...s, hosts: addHostSamples(s.hosts, [sample]) }));
    const load = () =>
      getJson<{ hosts: HostHistory[] }>(apiUrl(apiOrigin, "/api/hosts"), controller.signal)
        .then(({ hosts }) =>
          setState((s) => ({ hosts: addHostSamples(s.hosts, hosts.flatMap((h) => h.samples)), loaded: true, error: null })),
        )
        .catch((e: unknown) => {
          if (e instanceof DOMException && e.name === "AbortError") return;
          setState((s) => ({ ...s, loaded: true, error: e instanceof Error ? e.message : String(e) }));
        });
    socket.on("host", onSample);
    socket.io.on("reconnect", load);
    load();
    return () => {
      controller.abort();
      socket.off("host", onSample);
      socket.io.off("reconnect", load);
    };
  }, [apiOrigin, socket]);
  return state;
}
