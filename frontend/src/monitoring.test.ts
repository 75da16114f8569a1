import { describe, expect, it } from "vitest";
import type { HostSample } from "./api";
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
  routePoints,
  routesWithData,
  sampleTime,
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
  it("merge both routes by time, leaving a gap where one has no value", () => {
    const points = routePoints({ grpc: [[10, 1], [15, 2]], redis: [[15, 3], [20, 4]] });
    expect(points).toEqual([
      { t: 10, grpc: 1, redis: null },
      { t: 15, grpc: 2, redis: 3 },
      { t: 20, grpc: null, redis: 4 },
    ]);
    expect(routesWithData(points)).toEqual(["grpc", "redis"]);
  });
  it("are empty without series, and name no route", () => {
    expect(routePoints(undefined)).toEqual([]);
    expect(routesWithData(routePoints({}))).toEqual([]);
  });
  it("count absent errors as 0 where the route stored records", () => {
    const created = { grpc: [[10, 50], [15, 52]] as [number, number][], redis: [[15, 40]] as [number, number][] };
    expect(routePoints({ grpc: [[15, 0.5]] }, created)).toEqual([
      { t: 10, grpc: 0, redis: null },
      { t: 15, grpc: 0.5, redis: 0 },
    ]);
  });
  it("fill the five charts of the comparison", () => {
    const charts = comparisonCharts({
      window_seconds: 300,
      step_seconds: 5,
      series: {
        created_per_second: { grpc: [[10, 50]], redis: [[10, 40]] },
        errors_per_second: {},
        p50_ms: { grpc: [[10, 1.8]], redis: [[10, 1.2]] },
        p95_ms: { grpc: [[10, 3.5]] },
        p99_ms: { redis: [[10, 9]] },
      },
    });
    expect(charts.map((c) => c.key)).toEqual(["created", "errors", "p50", "p95", "p99"]);
    expect(charts[1].points).toEqual([{ t: 10, grpc: 0, redis: 0 }]);
    expect(charts[2].points).toEqual([{ t: 10, grpc: 1.8, redis: 1.2 }]);
    expect(charts[3].points).toEqual([{ t: 10, grpc: 3.5, redis: null }]);
    expect(comparisonCharts(null).every((c) => c.points.length === 0)).toBe(true);
  });
  it("name and color the routes the same everywhere", () => {
    expect(ROUTES.map((r) => r.label)).toEqual(["ruta 1 · gRPC", "ruta 2 · Redis"]);
    expect(new Set(ROUTES.map((r) => r.color)).size).toBe(2);
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
