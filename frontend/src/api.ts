// dashboard-api's REST answers and how to ask for them.

// The services' own facts (notas_core::grade), held to them by crates/deploy-checks/tests/contract.rs.
export const COURSES = ["SO1", "BD1", "LFP", "SA", "AYD1"] as const;
export const SEMESTERS = ["1S", "2S"] as const;
/** USAC's passing grade: a grade at or above it is a pass. */
export const PASS_MARK = 61;
export type Course = (typeof COURSES)[number];
export type Semester = (typeof SEMESTERS)[number];

export interface Selection {
  curso: Course;
  semestre: Semester;
  year: number;
}

/**
 * The ingestion routes by the names the services give them (`notas_core::route::Route`, held
 * to it by crates/deploy-checks/tests/contract.rs): 1 (gRPC → MySQL), 2 (Redis → MySQL and
 * the live view) and 3 (queue-api → Kafka → grade-consumer → MySQL and the live view).
 */
export const ROUTE_NAMES = ["grpc", "redis", "queue"] as const;
/** The route that stored a record. */
export type Route = (typeof ROUTE_NAMES)[number];

/** A grade as the API shows it; stored ones (MySQL) carry their time, live ones (Redis) do not. */
export interface GradeRecord {
  id: number;
  carnet: number;
  nombre: string;
  curso: Course;
  nota: number;
  semestre: Semester;
  year: number;
  route: Route;
  created_at_ms?: number;
}

export interface Page {
  items: GradeRecord[];
  next_before: number | null;
}

export interface PassFail {
  curso: Course;
  semestre: Semester;
  year: number;
  passed: number;
  failed: number;
}

export interface TopCourses {
  courses: { curso: Course; nombre: string; students: number }[];
}

export interface TopStudents {
  students: { carnet: number; nombre: string; average: number; grades: number }[];
}

/** An answer other than 2xx, with the API's `{"error", "field"}` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

type Params = Record<string, string | number | null | undefined>;

/** `origin + path + ?query`, leaving out empty parameters. */
export function apiUrl(origin: string, path: string, params: Params = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, String(value));
  }
  const qs = query.toString();
  return `${origin}${path}${qs ? `?${qs}` : ""}`;
}

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(url, { signal });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = typeof body?.error === "string" ? body.error : `HTTP ${response.status}`;
    throw new ApiError(response.status, error, typeof body?.field === "string" ? body.field : null);
  }
  return body as T;
}

/**
 * The series of the route comparison, as Prometheus computed them (dashboard-api's
 * comparison.rs): every route's accepted/s (201, or 202 on route 3), stored/s, errors/s
 * and answer latency; route 3's consumer lag and time from 202 to stored; each route's own
 * processes' CPU per stored record (µs) and resident memory (bytes).
 */
export const ROUTE_SERIES = [
  "accepted_per_second",
  "stored_per_second",
  "errors_per_second",
  "p50_ms",
  "p95_ms",
  "p99_ms",
  "queue_lag_records",
  "queue_lag_seconds",
  "time_to_stored_p50_seconds",
  "time_to_stored_p95_seconds",
  "time_to_stored_p99_seconds",
  "cpu_us_per_record",
  "memory_bytes",
] as const;
export type RouteSeries = (typeof ROUTE_SERIES)[number];

/** The shared stores' series, by process: CPU per record of any route (µs), memory (bytes). */
export type StoreSeries = "cpu_us_per_record" | "memory_bytes";

/** A point of a Prometheus series: [unix seconds, value]. */
export type SeriesPoint = [number, number];

/**
 * `GET /api/routes`: per series, per route (`grpc`, `redis`, `queue`), the points of the
 * last `window_seconds` every `step_seconds`; a route without requests in the window is
 * absent, and the queue's series have route `queue` only. `stores`: the same per shared
 * store's process (`mariadbd`, `redis-server`, ... locally; containers in a cluster).
 */
export interface RouteComparison {
  window_seconds: number;
  step_seconds: number;
  series: Partial<Record<RouteSeries, Partial<Record<string, SeriesPoint[]>>>>;
  stores?: Partial<Record<StoreSeries, Partial<Record<string, SeriesPoint[]>>>>;
}

/**
 * One sample of a host monitor, with the VM-monitoring brief's field names: RAM in MB,
 * percentages with one decimal, `hora` in UTC ("YYYY-MM-DD HH:MM:SS").
 */
export interface HostSample {
  host: string;
  hora: string;
  total_ram: number;
  ram_libre: number;
  uso_ram: number;
  porcentaje_ram: number;
  porcentaje_cpu_uso: number;
  porcentaje_cpu_libre: number;
  procesos_corriendo: number;
  total_procesos: number;
  procesos_durmiendo: number;
  procesos_zombie: number;
  procesos_parados: number;
}

/** `GET /api/hosts`: each host seen in the last minute with its recent samples, oldest first. */
export interface HostHistory {
  host: string;
  samples: HostSample[];
}
