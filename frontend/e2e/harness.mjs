// Starts the whole stack for a browser or socket.io test: grpc-server, grpc-client,
// redis-api, dashboard-api (serving frontend/dist) and the host monitor as real processes
// on free ports, with their own MySQL database and Redis key prefix, on the servers of
// TEST_MYSQL_URL and TEST_REDIS_URL (the migration step first, as TEST_MYSQL_URL's user; the
// services then connect as a user of their own with exactly their privileges, as in the
// clusters), and a Prometheus (PROMETHEUS_PATH, by default
// Debian's /usr/bin/prometheus) scraping every service each second for dashboard-api's
// route comparison. Needs `cargo build --bins` and `npm run build` first (`just e2e`).

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";

const repo = path.resolve(fileURLToPath(import.meta.url), "../../..");
const bin = (name) => path.join(process.env.CARGO_TARGET_DIR ?? path.join(repo, "target"), "debug", name);

/** How often dashboard-api pushes in these tests, in milliseconds. */
export const PUSH_INTERVAL_MS = 100;
/** How often the host monitor samples in these tests, in milliseconds. */
export const MONITOR_INTERVAL_MS = 500;
const PROMETHEUS = process.env.PROMETHEUS_PATH ?? "/usr/bin/prometheus";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function waitReady(url, processes, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = processes.find((p) => p.exitCode !== null || p.spawnError);
    if (dead) throw new Error(`${dead.name} exited with ${dead.spawnError ?? dead.exitCode}:\n${dead.log.join("")}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} was not ready within ${timeoutMs} ms`);
}

/**
 * Starts the stack; `dashboards` replicas of dashboard-api share the database and Redis.
 * `prometheus: false` leaves Prometheus out (dashboard-api is pointed at a closed port),
 * `monitor: false` the host monitor.
 */
export async function startStack({ dashboards = 1, prometheus = true, monitor = true } = {}) {
  const id = randomBytes(6).toString("hex");
  const mysqlServer = (process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306").replace(/\/+$/, "");
  const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  const database = `notas_e2e_${id}`;
  const prefix = `notas_e2e_${id}:`;
  const [grpc, admin, client, redisApi, monitorPort, prometheusPort, ...dashboardPorts] = await Promise.all(
    Array.from({ length: 6 + dashboards }, freePort),
  );
  const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
  const appUser = `nt_e2e_${id}`;
  const appUrl = new URL(`${mysqlServer}/${database}`);
  appUrl.username = appUser;
  appUrl.password = randomBytes(12).toString("hex");
  const migration = spawnSync(bin("grpc-server"), ["--migrate-only"], {
    env: { ...process.env, MYSQL_URL: `${mysqlServer}/${database}`, APP_MYSQL_URL: appUrl.href },
    encoding: "utf8",
  });
  if (migration.status !== 0) throw new Error(`the migration step failed:\n${migration.stdout}${migration.stderr}`);
  const common = {
    MYSQL_URL: appUrl.href,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    RUST_LOG: process.env.RUST_LOG ?? "warn",
  };
  const services = [
    ["grpc-server", { LISTEN_ADDR: `127.0.0.1:${grpc}`, ADMIN_ADDR: `127.0.0.1:${admin}` }],
    ["grpc-client", { LISTEN_ADDR: `127.0.0.1:${client}`, GRPC_SERVER_URL: `http://127.0.0.1:${grpc}` }],
    ["redis-api", { LISTEN_ADDR: `127.0.0.1:${redisApi}` }],
    ...dashboardPorts.map((port) => [
      "dashboard-api",
      {
        LISTEN_ADDR: `127.0.0.1:${port}`,
        FRONTEND_DIR: path.join(repo, "frontend", "dist"),
        PUSH_INTERVAL_MS: String(PUSH_INTERVAL_MS),
        // Without Prometheus, a port nothing listens on: the comparison must say so.
        PROMETHEUS_URL: prometheusUrl,
      },
    ]),
    ...(monitor
      ? [["monitor", { LISTEN_ADDR: `127.0.0.1:${monitorPort}`, MONITOR_INTERVAL_MS: String(MONITOR_INTERVAL_MS) }]]
      : []),
  ];
  const run = (name, command, args, env) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    child.name = name;
    child.log = [];
    child.stdout.on("data", (d) => child.log.push(String(d)));
    child.stderr.on("data", (d) => child.log.push(String(d)));
    child.on("error", (e) => (child.spawnError = e.message));
    return child;
  };
  const processes = services.map(([name, env]) => run(name, bin(name), [], { ...process.env, ...common, ...env }));
  let prometheusDir = null;
  if (prometheus) {
    // Every service's /metrics each second: grpc-server's on its admin address.
    const jobs = [
      ["grpc-server", [admin]],
      ["grpc-client", [client]],
      ["redis-api", [redisApi]],
      ["dashboard-api", dashboardPorts],
      ...(monitor ? [["monitor", [monitorPort]]] : []),
    ];
    const scrapes = jobs.map(
      ([job, ports]) => `  - job_name: ${job}\n    static_configs:\n      - targets: [${ports.map((p) => `"127.0.0.1:${p}"`).join(", ")}]`,
    );
    prometheusDir = mkdtempSync(path.join(tmpdir(), "notas-e2e-prometheus-"));
    const configFile = path.join(prometheusDir, "prometheus.yml");
    writeFileSync(configFile, `global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n${scrapes.join("\n")}\n`);
    const args = [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(prometheusDir, "data")}`, `--web.listen-address=127.0.0.1:${prometheusPort}`];
    processes.push(run("prometheus", PROMETHEUS, args, process.env));
  }
  const dashboardUrls = dashboardPorts.map((port) => `http://127.0.0.1:${port}`);
  const urls = {
    route1: `http://127.0.0.1:${client}`,
    route2: `http://127.0.0.1:${redisApi}`,
    dashboard: dashboardUrls[0],
    prometheus: prometheus ? prometheusUrl : null,
    monitor: monitor ? `http://127.0.0.1:${monitorPort}` : null,
  };
  const stop = async () => {
    await Promise.all(
      processes.map((p) => (p.exitCode !== null || p.spawnError ? null : new Promise((resolve) => (p.on("exit", resolve), p.kill("SIGTERM"))))),
    );
    dropDatabase(mysqlServer, database, appUser);
    deleteKeys(redisUrl, prefix);
    if (prometheusDir) rmSync(prometheusDir, { recursive: true, force: true });
  };
  try {
    await waitReady(`http://127.0.0.1:${admin}/readyz`, processes);
    for (const url of [urls.route1, urls.route2, ...dashboardUrls]) await waitReady(`${url}/readyz`, processes);
    if (urls.monitor) await waitReady(`${urls.monitor}/readyz`, processes);
    if (urls.prometheus) await waitReady(`${urls.prometheus}/-/ready`, processes);
  } catch (e) {
    await stop();
    throw e;
  }
  return { urls, dashboards: dashboardUrls, stop, logs: () => processes.map((p) => `--- ${p.name}\n${p.log.join("")}`).join("\n") };
}

function dropDatabase(server, database, user) {
  const url = new URL(server);
  const args = ["--protocol=tcp", "-h", url.hostname, "-P", url.port || "3306", "-u", decodeURIComponent(url.username || "root")];
  if (url.password) args.push(`-p${decodeURIComponent(url.password)}`);
  spawnSync("mysql", [...args, "-e", `DROP DATABASE IF EXISTS \`${database}\`; DROP USER IF EXISTS '${user}'@'%'`]);
}

function deleteKeys(redisUrl, prefix) {
  const keys = spawnSync("redis-cli", ["-u", redisUrl, "--scan", "--pattern", `${prefix}*`], { encoding: "utf8" });
  const names = (keys.stdout ?? "").split("\n").filter(Boolean);
  if (names.length) spawnSync("redis-cli", ["-u", redisUrl, "del", ...names]);
}

/** POST a grade to a route; the answer's status, route header and body. */
export async function postGrade(routeUrl, grade) {
  const response = await fetch(`${routeUrl}/notas`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ nombre: `Alumno ${grade.carnet}`, curso: "SO1", nota: 90, semestre: "2S", year: 2023, ...grade }),
  });
  return { status: response.status, route: response.headers.get("x-notas-route"), body: await response.json() };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor(check, timeoutMs = 10_000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
