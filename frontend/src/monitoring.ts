// Pure pieces of the monitoring panels (the route comparison from Prometheus and the host
// monitors' samples), kept apart from React so Vitest can pin them.

import type { HostHistory, HostSample, Route, RouteComparison, SeriesPoint } from "./api";

/** The two ingestion routes, in the order and colors every chart uses. */
export const ROUTES: readonly { route: Route; label: string; color: string }[] = [
  { route: "grpc", label: "ruta 1 · gRPC", color: "#1565c0" },
  { route: "redis", label: "ruta 2 · Redis", color: "#e65100" },
];

/** One instant of a route chart: unix seconds and each route's value (null: a gap). */
export type RoutePoint = { t: number } & Record<Route, number | null>;

type PerRoute = Partial<Record<string, SeriesPoint[]>> | undefined;

/**
 * The points of one series for a chart: every time at which some route has a value, with
 * each route's value then (null where it has none, drawn as a gap), oldest first.
 * `zeroWhere`: another series at whose times a route without a value counts as 0 (errors
 * are only reported when there were some, so where a route created records they were 0).
 */
export function routePoints(series: PerRoute, zeroWhere?: PerRoute): RoutePoint[] {
  const byTime = new Map<number, RoutePoint>();
  const at = (t: number) => {
    let point = byTime.get(t);
    if (!point) byTime.set(t, (point = { t, grpc: null, redis: null }));
    return point;
  };
  for (const { route } of ROUTES) {
    for (const [t] of zeroWhere?.[route] ?? []) at(t)[route] = 0;
    for (const [t, value] of series?.[route] ?? []) at(t)[route] = value;
  }
  return [...byTime.values()].sort((a, b) => a.t - b.t);
}

/** The routes that have at least one value among `points`. */
export function routesWithData(points: RoutePoint[]): Route[] {
  return ROUTES.map((r) => r.route).filter((route) => points.some((p) => p[route] !== null));
}

/** The five charts of the comparison, each a title and its points. */
export function comparisonCharts(comparison: RouteComparison | null): { key: string; title: string; points: RoutePoint[] }[] {
  const series = comparison?.series ?? {};
  return [
    { key: "created", title: "Notas guardadas por segundo (201/s)", points: routePoints(series.created_per_second) },
    { key: "errors", title: "Errores por segundo", points: routePoints(series.errors_per_second, series.created_per_second) },
    { key: "p50", title: "Latencia p50 (ms)", points: routePoints(series.p50_ms) },
    { key: "p95", title: "Latencia p95 (ms)", points: routePoints(series.p95_ms) },
    { key: "p99", title: "Latencia p99 (ms)", points: routePoints(series.p99_ms) },
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
