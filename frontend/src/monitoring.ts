// Pure pieces of the monitoring panels (the route comparison from Prometheus and the host
// monitors' samples), kept apart from React so Vitest can pin them.

import type { HostHistory, HostSample, Route, RouteComparison, SeriesPoint } from "./api";

/** The three ingestion routes, in the order and colors every chart uses. */
export const ROUTES: readonly { route: Route; label: string; color: string }[] = [
  { route: "grpc", label: "ruta 1 · gRPC", color: "#1565c0" },
  { route: "redis", label: "ruta 2 · Redis", color: "#e65100" },
  { route: "queue", label: "ruta 3 · Kafka", color: "#2e7d32" },
];

/** A line of a chart: the key of its values in the points, its legend and color. */
export interface ChartLine {
  key: string;
  name: string;
  color: string;
}

/** One instant of a chart: unix seconds and each line's value (null: a gap). */
export type ChartPoint = { t: number } & Record<string, number | null>;

/** One instant of a route chart: unix seconds and each route's value (null: a gap). */
export type RoutePoint = { t: number } & Record<Route, number | null>;

type PerRoute = Partial<Record<string, SeriesPoint[]>> | undefined;

/**
 * The points of one series for a chart: every time at which one of `routes` has a value,
 * with each route's value then (null where it has none, drawn as a gap), oldest first.
 * `zeroWhere`: another series at whose times a route without a value counts as 0 (errors
 * are only reported when there were some, so where a route accepted grades they were 0).
 */
export function routePoints(series: PerRoute, zeroWhere?: PerRoute, routes: readonly Route[] = ROUTES.map((r) => r.route)): RoutePoint[] {
  return linePoints(
    routes.map((route) => ({ key: route, points: series?.[route], zeroWhere: zeroWhere?.[route] })),
  ) as RoutePoint[];
}

/**
 * Several series in one chart, each under its line's `key`: every time at which one has a
 * value, oldest first; null where a line has none (a gap), or 0 at the times of its
 * `zeroWhere` points.
 */
export function linePoints(lines: readonly { key: string; points?: SeriesPoint[]; zeroWhere?: SeriesPoint[] }[]): ChartPoint[] {
  const byTime = new Map<number, ChartPoint>();
  const at = (t: number) => {
    let point = byTime.get(t);
    if (!point) {
      point = { t } as ChartPoint;
      for (const { key } of lines) point[key] = null;
      byTime.set(t, point);
    }
    return point;
  };
  for (const { key, points, zeroWhere } of lines) {
    for (const [t] of zeroWhere ?? []) at(t)[key] = 0;
    for (const [t, value] of points ?? []) at(t)[key] = value;
  }
  return [...byTime.values()].sort((a, b) => a.t - b.t);
}

/** The routes that have at least one value among `points`. */
export function routesWithData(points: RoutePoint[]): Route[] {
  return ROUTES.map((r) => r.route).filter((route) => points.some((p) => p[route] !== null && p[route] !== undefined));
}

/**
 * Whether route 3 had any traffic in the window: a grade accepted, stored or refused, or
 * records waiting. Its counters and gauges exist (at 0) as soon as its services run, so a
 * series alone does not say so.
 */
export function queueActive(comparison: RouteComparison | null): boolean {
  const series = comparison?.series ?? {};
  const names = ["accepted_per_second", "stored_per_second", "errors_per_second", "queue_lag_records"] as const;
  return names.some((name) => (series[name]?.queue ?? []).some(([, value]) => value > 0));
}

/** A chart of the comparison: its key (test ids), title, unit, lines and points. */
export interface ComparisonChart {
  key: string;
  title: string;
  unit: string;
  lines: ChartLine[];
  points: ChartPoint[];
}

/** The lines of route 3's time from 202 to stored. */
const QUANTILE_LINES: ChartLine[] = [
  { key: "p50", name: "p50", color: "#81c784" },
  { key: "p95", name: "p95", color: "#2e7d32" },
  { key: "p99", name: "p99", color: "#1b5e20" },
];

/**
 * The comparison's charts. `routes`: every route side by side (route 3 only when it had
 * traffic, so that the brief's two routes read as before without it): grades accepted per
 * second (a 201 is a grade stored, route 3's 202 one queued), errors per second and the
 * answer's latency. `queue`: route 3's own, empty without traffic: accepted against
 * stored per second, the consumers' lag in records and in seconds, and the time from 202
 * to stored.
 */
export function comparisonCharts(comparison: RouteComparison | null): { routes: ComparisonChart[]; queue: ComparisonChart[] } {
  const series = comparison?.series ?? {};
  const active = queueActive(comparison);
  const shown = ROUTES.filter((r) => active || r.route !== "queue");
  const lines = shown.map((r) => ({ key: r.route, name: r.label, color: r.color }));
  const routeChart = (key: string, title: string, unit: string, points: RoutePoint[]) => ({ key, title, unit, lines, points });
  const on = shown.map((r) => r.route);
  const routes = [
    routeChart("accepted", "Notas aceptadas por segundo (201 guardada · 202 en cola)", "/s", routePoints(series.accepted_per_second, undefined, on)),
    routeChart("errors", "Errores por segundo", "/s", routePoints(series.errors_per_second, series.accepted_per_second, on)),
    routeChart("p50", "Latencia de la respuesta p50 (ms)", "ms", routePoints(series.p50_ms, undefined, on)),
    routeChart("p95", "Latencia de la respuesta p95 (ms)", "ms", routePoints(series.p95_ms, undefined, on)),
    routeChart("p99", "Latencia de la respuesta p99 (ms)", "ms", routePoints(series.p99_ms, undefined, on)),
    routeChart("cpu", "CPU por nota guardada (µs, procesos propios de la ruta)", "µs", routePoints(series.cpu_us_per_record, undefined, on)),
    routeChart("memory", "Memoria residente de la ruta (MiB)", "MiB", routePoints(scaled(series.memory_bytes, 1 / MIB), undefined, on)),
  ];
  if (!active) return { routes, queue: [] };
  const queue = (name: keyof typeof series) => series[name]?.queue;
  const single = (key: string, name: string) => [{ key, name, color: "#2e7d32" }];
  return {
    routes,
    queue: [
      {
        key: "queue-flow",
        title: "Ruta 3: aceptadas (202) y guardadas por segundo",
        unit: "/s",
        lines: [
          { key: "accepted", name: "aceptadas", color: "#81c784" },
          { key: "stored", name: "guardadas", color: "#1b5e20" },
        ],
        points: linePoints([
          { key: "accepted", points: queue("accepted_per_second") },
          { key: "stored", points: queue("stored_per_second") },
        ]),
      },
      {
        key: "queue-lag-records",
        title: "Ruta 3: registros en la cola sin guardar",
        unit: "registros",
        lines: single("records", "registros"),
        points: linePoints([{ key: "records", points: queue("queue_lag_records") }]),
      },
      {
        key: "queue-lag-seconds",
        title: "Ruta 3: espera del registro más antiguo sin guardar (s)",
        unit: "s",
        lines: single("seconds", "espera"),
        points: linePoints([{ key: "seconds", points: queue("queue_lag_seconds") }]),
      },
      {
        key: "queue-time-to-stored",
        title: "Ruta 3: de 202 a guardada (s)",
        unit: "s",
        lines: QUANTILE_LINES,
        points: linePoints([
          { key: "p50", points: queue("time_to_stored_p50_seconds") },
          { key: "p95", points: queue("time_to_stored_p95_seconds") },
          { key: "p99", points: queue("time_to_stored_p99_seconds") },
        ]),
      },
    ],
  };
}

const MIB = 1024 * 1024;

/** Every value of `series` times `factor`. */
function scaled(series: PerRoute, factor: number): PerRoute {
  return series && Object.fromEntries(Object.entries(series).map(([key, points]) => [key, points?.map(([t, v]) => [t, v * factor] as SeriesPoint)]));
}

/** The colors of the shared stores' lines, in the order of their names. */
const STORE_COLORS = ["#6a1b9a", "#00838f", "#ad1457", "#5d4037", "#455a64", "#f9a825"];

/**
 * The shared stores' charts: CPU per grade stored by any route (µs) and resident memory
 * (MiB), a line per process (by name locally, by container in a cluster). Empty where the
 * environment does not see them.
 */
export function storeCharts(comparison: RouteComparison | null): ComparisonChart[] {
  const stores = comparison?.stores ?? {};
  const names = [...new Set([...Object.keys(stores.cpu_us_per_record ?? {}), ...Object.keys(stores.memory_bytes ?? {})])].sort();
  if (names.length === 0) return [];
  const lines = names.map((name, i) => ({ key: name, name, color: STORE_COLORS[i % STORE_COLORS.length] }));
  const points = (series: PerRoute) => linePoints(names.map((name) => ({ key: name, points: series?.[name] })));
  return [
    { key: "stores-cpu", title: "CPU por nota guardada de cualquier ruta (µs)", unit: "µs", lines, points: points(stores.cpu_us_per_record) },
    { key: "stores-memory", title: "Memoria residente (MiB)", unit: "MiB", lines, points: points(scaled(stores.memory_bytes, 1 / MIB)) },
  ];
}

/** What the comparison panel says when `GET /api/routes` failed (503: no Prometheus). */
export function comparisonProblem(status: number | null): string {
  return status === 503 ? "Sin Prometheus: no se puede comparar las rutas." : "No se pudo cargar la comparación de rutas.";
}

/** Unix seconds as the page's local time of day, "HH:MM:SS". */
export function clock(seconds: number): string {
  const d = new Date(seconds * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** A sample's `hora` (UTC "YYYY-MM-DD HH:MM:SS") in unix seconds; NaN if it is not one. */
export function sampleTime(hora: string): number {
  return /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(hora) ? Date.parse(`${hora.replace(" ", "T")}Z`) / 1000 : Number.NaN;
}

/** How many samples a host keeps (five minutes at one a second), and how far back. */
export const HOST_SAMPLES = 300;
export const HOST_WINDOW_SECONDS = 300;

/**
 * A host's samples after `incoming` arrived: oldest first, one per second (a later sample
 * of the same second replaces the earlier), the last `limit` within `windowSeconds` of the
 * newest. Samples without a valid time are dropped.
 */
export function addSamples(
  samples: HostSample[],
  incoming: HostSample[],
  limit = HOST_SAMPLES,
  windowSeconds = HOST_WINDOW_SECONDS,
): HostSample[] {
  const bySecond = new Map<number, HostSample>();
  for (const sample of [...samples, ...incoming]) {
    const t = sampleTime(sample.hora);
    if (Number.isFinite(t)) bySecond.set(t, sample);
  }
  const times = [...bySecond.keys()].sort((a, b) => a - b);
  const newest = times.at(-1) ?? 0;
  return times
    .filter((t) => t > newest - windowSeconds)
    .slice(-limit)
    .map((t) => bySecond.get(t)!);
}

/** Every host's samples after `incoming` (of any hosts) arrived, hosts by name. */
export function addHostSamples(hosts: HostHistory[], incoming: HostSample[]): HostHistory[] {
  const byHost = new Map(hosts.map((h) => [h.host, h]));
  const arrived = new Map<string, HostSample[]>();
  for (const sample of incoming) arrived.set(sample.host, [...(arrived.get(sample.host) ?? []), sample]);
  for (const [host, samples] of arrived) {
    byHost.set(host, { host, samples: addSamples(byHost.get(host)?.samples ?? [], samples) });
  }
  return [...byHost.values()].sort((a, b) => a.host.localeCompare(b.host));
}

/** A host chart's points: unix seconds, CPU and RAM use in percent. */
export function hostPoints(samples: HostSample[]): { t: number; cpu: number; ram: number }[] {
  return samples.map((s) => ({ t: sampleTime(s.hora), cpu: s.porcentaje_cpu_uso, ram: s.porcentaje_ram }));
}

/** The rows of a host's table from its newest sample: processes, then RAM in MB. */
export function hostFigures(sample: HostSample): { processes: [string, number][]; ram: [string, number][] } {
  return {
    processes: [
      ["Corriendo", sample.procesos_corriendo],
      ["Durmiendo", sample.procesos_durmiendo],
      ["Zombie", sample.procesos_zombie],
      ["Parados", sample.procesos_parados],
      ["Total", sample.total_procesos],
    ],
    ram: [
      ["Usada", sample.uso_ram],
      ["Libre", sample.ram_libre],
      ["Total", sample.total_ram],
    ],
  };
}

/** Ticks of a time axis from `start` to `end` (unix seconds): each whole `every` seconds. */
export function timeTicks(start: number, end: number, every = 60): number[] {
  const ticks = [];
  for (let t = Math.ceil(start / every) * every; t <= end; t += every) ticks.push(t);
  return ticks;
}

/** A chart value for people: fewer decimals the bigger it is. */
export function formatValue(value: number): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString("es-GT", { maximumFractionDigits: digits });
}
