import { describe, expect, it } from "vitest";
import { ROUTE_NAMES, type HostSample, type RouteComparison } from "./api";
import {
  ROUTES,
  addHostSamples,
  addSamples,
  clock,
  comparisonCharts,
  comparisonProblem,
  formatValue,
  hostFigures,
  hostPoints,
  linePoints,
  queueActive,
  routePoints,
  routesWithData,
  sampleTime,
  storeCharts,
  timeTicks,
} from "./monitoring";

function sample(hora: string, change: Partial<HostSample> = {}): HostSample {
  return {
    host: "node-1",
    hora,
    total_ram: 24000,
    ram_libre: 12000,
    uso_ram: 12000,
    porcentaje_ram: 50.0,
    porcentaje_cpu_uso: 22.5,
    porcentaje_cpu_libre: 77.5,
    procesos_corriendo: 3,
    total_procesos: 233,
    procesos_durmiendo: 229,
    procesos_zombie: 0,
    procesos_parados: 1,
    ...change,
  };
}

/** The sample `seconds` after 2026-11-23 23:10:00 UTC. */
function at(seconds: number, change: Partial<HostSample> = {}): HostSample {
  const hora = new Date(Date.UTC(2026, 10, 23, 23, 10, seconds)).toISOString().slice(0, 19).replace("T", " ");
  return sample(hora, change);
}

describe("route points", () => {
  it("merge the routes by time, leaving a gap where one has no value", () => {
    const points = routePoints({ grpc: [[10, 1], [15, 2]], redis: [[15, 3], [20, 4]] });
    expect(points).toEqual([
      { t: 10, grpc: 1, redis: null, queue: null },
      { t: 15, grpc: 2, redis: 3, queue: null },
      { t: 20, grpc: null, redis: 4, queue: null },
    ]);
    expect(routesWithData(points)).toEqual(["grpc", "redis"]);
    expect(routePoints({ grpc: [[10, 1]], queue: [[15, 2]] }, undefined, ["grpc"])).toEqual([{ t: 10, grpc: 1 }]);
  });
  it("are empty without series, and name no route", () => {
    expect(routePoints(undefined)).toEqual([]);
    expect(routesWithData(routePoints({}))).toEqual([]);
  });
  it("count absent errors as 0 where the route accepted grades", () => {
    const accepted = { grpc: [[10, 50], [15, 52]] as [number, number][], redis: [[15, 40]] as [number, number][] };
    expect(routePoints({ grpc: [[15, 0.5]] }, accepted)).toEqual([
      { t: 10, grpc: 0, redis: null, queue: null },
      { t: 15, grpc: 0.5, redis: 0, queue: null },
    ]);
  });
  it("merge several series of one chart under their own keys", () => {
    expect(linePoints([{ key: "a", points: [[10, 1]] }, { key: "b", points: [[15, 2]] }, { key: "c" }])).toEqual([
      { t: 10, a: 1, b: null, c: null },
      { t: 15, a: null, b: 2, c: null },
    ]);
  });
  it("without route 3 traffic draw the brief's two routes as before, and no queue charts", () => {
    const comparison = {
      window_seconds: 300,
      step_seconds: 5,
      series: {
        accepted_per_second: { grpc: [[10, 50]], redis: [[10, 40]], queue: [[10, 0]] },
        stored_per_second: { grpc: [[10, 50]], redis: [[10, 40]], queue: [[10, 0]] },
        errors_per_second: {},
        p50_ms: { grpc: [[10, 1.8]], redis: [[10, 1.2]] },
        p95_ms: { grpc: [[10, 3.5]] },
        p99_ms: { redis: [[10, 9]] },
        queue_lag_records: { queue: [[10, 0]] },
        queue_lag_seconds: { queue: [[10, 0]] },
      },
    } satisfies RouteComparison;
    expect(queueActive(comparison)).toBe(false);
    const { routes, queue } = comparisonCharts(comparison);
    expect(routes.map((c) => c.key)).toEqual(["accepted", "errors", "p50", "p95", "p99", "cpu", "memory"]);
    for (const chart of routes) expect(chart.lines.map((l) => l.name)).toEqual(["ruta 1 · gRPC", "ruta 2 · Redis"]);
    expect(routes[0].points).toEqual([{ t: 10, grpc: 50, redis: 40 }]);
    expect(routes[1].points).toEqual([{ t: 10, grpc: 0, redis: 0 }]);
    expect(routes[2].points).toEqual([{ t: 10, grpc: 1.8, redis: 1.2 }]);
    expect(routes[3].points).toEqual([{ t: 10, grpc: 3.5, redis: null }]);
    expect(queue).toEqual([]);
    const empty = comparisonCharts(null);
    expect(empty.routes.every((c) => c.points.length === 0) && empty.queue.length === 0).toBe(true);
  });
  it("with route 3 traffic draw it beside the others and its queue's own charts", () => {
    const comparison = {
      window_seconds: 300,
      step_seconds: 5,
      series: {
        accepted_per_second: { grpc: [[10, 50]], queue: [[10, 90], [15, 95]] },
        stored_per_second: { grpc: [[10, 50]], queue: [[10, 30], [15, 0]] },
        queue_lag_records: { queue: [[10, 300], [15, 775]] },
        queue_lag_seconds: { queue: [[10, 2.5], [15, 7.5]] },
        time_to_stored_p50_seconds: { queue: [[10, 0.05]] },
        time_to_stored_p95_seconds: { queue: [[10, 0.2]] },
        time_to_stored_p99_seconds: { queue: [[10, 1.5]] },
      },
    } satisfies RouteComparison;
    expect(queueActive(comparison)).toBe(true);
    expect(queueActive({ ...comparison, series: { queue_lag_records: { queue: [[10, 3]] } } })).toBe(true);
    const { routes, queue } = comparisonCharts(comparison);
    expect(routes[0].lines.map((l) => l.key)).toEqual(["grpc", "redis", "queue"]);
    expect(routes[0].points).toEqual([
      { t: 10, grpc: 50, redis: null, queue: 90 },
      { t: 15, grpc: null, redis: null, queue: 95 },
    ]);
    expect(queue.map((c) => c.key)).toEqual(["queue-flow", "queue-lag-records", "queue-lag-seconds", "queue-time-to-stored"]);
    expect(queue[0].points).toEqual([
      { t: 10, accepted: 90, stored: 30 },
      { t: 15, accepted: 95, stored: 0 },
    ]);
    expect(queue[1].points.map((p) => p.records)).toEqual([300, 775]);
    expect(queue[2].points.map((p) => p.seconds)).toEqual([2.5, 7.5]);
    expect(queue[3].points).toEqual([{ t: 10, p50: 0.05, p95: 0.2, p99: 1.5 }]);
    expect(queue[3].lines.map((l) => l.key)).toEqual(["p50", "p95", "p99"]);
  });
  it("show each route's CPU per record and its memory in MiB", () => {
    const comparison = {
      window_seconds: 300,
      step_seconds: 5,
      series: {
        cpu_us_per_record: { grpc: [[10, 88]], redis: [[10, 41.5]] },
        memory_bytes: { grpc: [[10, 48 * 1024 * 1024]], redis: [[10, 3 * 1024 * 1024]] },
      },
    } satisfies RouteComparison;
    const charts = Object.fromEntries(comparisonCharts(comparison).routes.map((c) => [c.key, c]));
    expect(charts.cpu.points).toEqual([{ t: 10, grpc: 88, redis: 41.5 }]);
    expect(charts.cpu.unit).toBe("µs");
    expect(charts.memory.points).toEqual([{ t: 10, grpc: 48, redis: 3 }]);
  });
  it("chart the shared stores by process, memory in MiB", () => {
    const comparison = {
      window_seconds: 300,
      step_seconds: 5,
      series: {},
      stores: {
        cpu_us_per_record: { nginx: [[15, 27]], mariadbd: [[10, 60], [15, 48]] },
        memory_bytes: { mariadbd: [[15, 200 * 1024 * 1024]] },
      },
    } satisfies RouteComparison;
    const [cpu, memory] = storeCharts(comparison);
    expect(cpu.lines.map((l) => l.key)).toEqual(["mariadbd", "nginx"]);
    expect(cpu.points).toEqual([
      { t: 10, mariadbd: 60, nginx: null },
      { t: 15, mariadbd: 48, nginx: 27 },
    ]);
    expect(memory.points).toEqual([{ t: 15, mariadbd: 200, nginx: null }]);
    expect(storeCharts(null)).toEqual([]);
  });
  it("name and color the routes the same everywhere", () => {
    expect(ROUTES.map((r) => r.label)).toEqual(["ruta 1 · gRPC", "ruta 2 · Redis", "ruta 3 · Kafka"]);
    expect(ROUTES.map((r) => r.route)).toEqual([...ROUTE_NAMES]);
    expect(new Set(ROUTES.map((r) => r.color)).size).toBe(3);
  });
  it("say in words that Prometheus is missing", () => {
    expect(comparisonProblem(503)).toBe("Sin Prometheus: no se puede comparar las rutas.");
    expect(comparisonProblem(null)).toBe("No se pudo cargar la comparación de rutas.");
  });
});

describe("time axis", () => {
  it("shows the local time of day", () => {
    expect(clock(new Date(2026, 10, 23, 9, 5, 7).getTime() / 1000)).toBe("09:05:07");
  });
  it("ticks every whole minute of the window", () => {
    expect(timeTicks(1000, 1300)).toEqual([1020, 1080, 1140, 1200, 1260]);
    expect(timeTicks(1020, 1080)).toEqual([1020, 1080]);
  });
  it("rounds values to what matters", () => {
    expect(formatValue(123.456)).toBe("123");
    expect(formatValue(52.34)).toBe("52.3");
    expect(formatValue(0.456)).toBe("0.46");
    expect(formatValue(0)).toBe("0");
  });
});

describe("host samples", () => {
  it("read the UTC time of a sample", () => {
    expect(sampleTime("2026-11-23 23:10:00")).toBe(Date.UTC(2026, 10, 23, 23, 10, 0) / 1000);
    expect(sampleTime("yesterday")).toBeNaN();
  });
  it("append pushes after the history, oldest first", () => {
    const samples = addSamples([at(0), at(1)], [at(2)]);
    expect(samples.map((s) => s.hora)).toEqual([at(0).hora, at(1).hora, at(2).hora]);
  });
  it("keep one sample per second, the latest to arrive", () => {
    const samples = addSamples([at(0), at(1, { porcentaje_cpu_uso: 10 })], [at(1, { porcentaje_cpu_uso: 90 }), at(0)]);
    expect(samples.map((s) => s.porcentaje_cpu_uso)).toEqual([22.5, 90]);
  });
  it("put a late history in order with the pushes already shown", () => {
    const samples = addSamples([at(5), at(6)], [at(3), at(4), at(5)]);
    expect(samples.map((s) => s.hora)).toEqual([3, 4, 5, 6].map((s) => at(s).hora));
  });
  it("are bounded in number and to the window of the newest", () => {
    const many = Array.from({ length: 400 }, (_, i) => at(i));
    const kept = addSamples([], many);
    expect(kept).toHaveLength(300);
    expect(kept[0].hora).toBe(at(100).hora);
    expect(addSamples([], many, 10).map((s) => s.hora)).toEqual(many.slice(-10).map((s) => s.hora));
    // An old sample is dropped once a sample five minutes newer arrives.
    expect(addSamples([at(0), at(1)], [at(301)]).map((s) => s.hora)).toEqual([at(301).hora]);
  });
  it("drop samples without a valid time", () => {
    expect(addSamples([], [sample("now")])).toEqual([]);
  });
  it("go to their own host, hosts by name", () => {
    const hosts = addHostSamples([{ host: "node-2", samples: [at(0, { host: "node-2" })] }], [at(0), at(1, { host: "node-2" })]);
    expect(hosts.map((h) => [h.host, h.samples.length])).toEqual([
      ["node-1", 1],
      ["node-2", 2],
    ]);
  });
  it("leave the other hosts untouched", () => {
    const node2 = { host: "node-2", samples: [at(0, { host: "node-2" })] };
    expect(addHostSamples([node2], [at(0)]).find((h) => h.host === "node-2")).toBe(node2);
  });
  it("chart CPU and RAM use over time", () => {
    expect(hostPoints([at(0, { porcentaje_cpu_uso: 12.5, porcentaje_ram: 48.1 })])).toEqual([
      { t: sampleTime(at(0).hora), cpu: 12.5, ram: 48.1 },
    ]);
  });
  it("show process counts and RAM from a sample", () => {
    expect(hostFigures(sample("2026-11-23 23:10:00"))).toEqual({
      processes: [
        ["Corriendo", 3],
        ["Durmiendo", 229],
        ["Zombie", 0],
        ["Parados", 1],
        ["Total", 233],
      ],
      ram: [
        ["Usada", 12000],
        ["Libre", 12000],
        ["Total", 24000],
      ],
    });
  });
});
