// The dashboard in headless Chromium against the running stack: grades posted through
// both routes appear in the table and the charts, and the live values move; under
// traffic the route comparison (Prometheus) and the host monitor's panel move too; a
// phone-wide screen shows every record without sideways scrolling and every chart inside
// its card, even before the charts measure their new width; without Prometheus and
// without a monitor the page says so.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { test } from "node:test";
import { chromium } from "playwright-core";
import { postGrade, startStack, waitFor } from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const OUTPUT = new URL("../e2e-output/", import.meta.url);

async function launch(t) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  t.after(() => browser.close());
  return browser;
}

/** A chart's `data-points` (instants drawn) and `data-lines` (lines with a value). */
async function chart(locator) {
  const [points, lines] = await Promise.all([locator.getAttribute("data-points"), locator.getAttribute("data-lines")]);
  return { points: Number(points), lines: (lines ?? "").split(" ").filter(Boolean) };
}

/**
 * What sticks out at the page's current width: the page's width beyond the screen, and the
 * charts (by test id) whose box or drawing is not inside their card's padding.
 */
function overflowing(page) {
  return page.evaluate(() => {
    const inCard = (chart) => {
      const card = chart.closest(".panel");
      const style = getComputedStyle(card);
      const box = card.getBoundingClientRect();
      const [left, right] = [box.left + parseFloat(style.paddingLeft), box.right - parseFloat(style.paddingRight)];
      return [chart, chart.querySelector(":scope > svg")].every((e) => {
        const r = e.getBoundingClientRect();
        return r.left >= left - 0.5 && r.right <= right + 0.5;
      });
    };
    const charts = [...document.querySelectorAll(".recharts-wrapper")].filter((c) => !inCard(c));
    return { page: document.documentElement.scrollWidth - innerWidth, charts: charts.map((c) => c.closest("[data-testid]").dataset.testid) };
  });
}

/** Whether every chart has been drawn again at its box's width (after the page's width changed). */
function chartsRedrawn(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll(".recharts-wrapper")].every((c) => Math.abs(Number(c.querySelector(":scope > svg").getAttribute("width")) - c.clientWidth) <= 1),
  );
}

/** Posts grades through both routes, one in ten invalid (a 422), until `stop()`. */
function traffic(stack) {
  let running = true;
  let sent = 0;
  const post = async (route, base) => {
    for (let i = 0; running; i++) {
      const grade = { carnet: base + (i % 500), nota: i % 10 === 9 ? 150 : 40 + (i % 61), curso: ["SO1", "BD1", "LFP", "SA", "AYD1"][i % 5] };
      await postGrade(route, grade).catch(() => null);
      sent++;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const loops = [post(stack.urls.route1, 20000), post(stack.urls.route2, 30000)];
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return sent;
    },
  };
}

test("grades posted through both routes fill every panel", async (t) => {
  const stack = await startStack();
  t.after(stack.stop);
  const browser = await launch(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  const failures = [];
  page.on("pageerror", (e) => failures.push(e.message));
  const websockets = [];
  page.on("websocket", (ws) => websockets.push(ws.url()));
  await page.goto(stack.urls.dashboard);

  const text = (testId) => page.getByTestId(testId).innerText();
  await waitFor(async () => (await text("connection")) === "En vivo", 10_000, "the live connection");
  await waitFor(async () => (await text("live-total")).includes("0"), 10_000, "the live total 0");
  await waitFor(async () => /Sin datos/.test(await text("records")), 10_000, "the empty table of stored records");

  // Route 1 (gRPC): SO1 passes and fails; route 2 (Redis): three SO1, one BD1.
  const grades = [
    [stack.urls.route1, { carnet: 9001, nota: 90 }],
    [stack.urls.route1, { carnet: 9002, nota: 50 }],
    [stack.urls.route1, { carnet: 9003, nota: 100, curso: "LFP" }],
    [stack.urls.route2, { carnet: 9101, nota: 70 }],
    [stack.urls.route2, { carnet: 9102, nota: 60 }],
    [stack.urls.route2, { carnet: 9103, nota: 80 }],
    [stack.urls.route2, { carnet: 9104, nota: 100, curso: "BD1" }],
  ];
  for (const [route, grade] of grades) assert.equal((await postGrade(route, grade)).status, 201);

  // Live (Redis, route 2 only): the total and the SO1 2S 2023 count move.
  await waitFor(async () => (await text("live-total")).includes("4"), 10_000, "the live total 4");
  await waitFor(async () => (await text("live-count")).includes("3"), 10_000, "the live SO1 count 3");
  await waitFor(async () => (await text("live-recent")).includes("9104"), 10_000, "the newest live record");
  // Live records carry their route like stored ones: all four came through route 2.
  const liveTable = page.getByTestId("live-recent-table");
  assert.equal(await liveTable.locator('tbody tr[data-route="redis"]').count(), 4);

  // MySQL (both routes): every record in the table, with its route.
  const table = page.getByTestId("records-table");
  await waitFor(async () => (await table.locator("tbody tr").count()) === 7, 15_000, "7 stored records");
  assert.equal(await table.locator('tbody tr[data-route="grpc"]').count(), 3);
  assert.equal(await table.locator('tbody tr[data-route="redis"]').count(), 4);

  // Charts: SO1 2S 2023 has passes (90, 70, 80) and fails (50, 60); three courses; top students.
  await waitFor(async () => (await page.locator('[data-testid="pass-fail"] .recharts-pie-sector').count()) === 2, 10_000, "both pie slices");
  await waitFor(async () => (await page.locator('[data-testid="top-courses"] .recharts-bar-rectangle').count()) === 3, 10_000, "3 course bars");
  await waitFor(async () => (await page.locator('[data-testid="top-students"] .recharts-bar-rectangle').count()) === 5, 10_000, "5 student bars");
  assert.match(await text("top-students"), /Alumno 9003/);

  // Under traffic through both routes, the comparison from Prometheus draws both routes in
  // every chart and gains points as its 5 s steps pass; the host's chart gains samples.
  const hosts = (await (await fetch(`${stack.urls.dashboard}/api/hosts`)).json()).hosts;
  assert.equal(hosts.length, 1, "the monitor's host is listed");
  const hostPanel = page.getByTestId(`host:${hosts[0].host}`);
  const hostChart = hostPanel.getByTestId("host-chart");
  const load = traffic(stack);
  try {
    const routeChart = (key) => chart(page.getByTestId(`routes-${key}`));
    const both = async (key) => (await routeChart(key)).lines.length === 2;
    await waitFor(() => both("accepted"), 30_000, "201/s of both routes");
    const first = { routes: await routeChart("accepted"), host: await waitFor(async () => (await chart(hostChart)).points, 10_000, "host samples") };
    for (const key of ["errors", "p50", "p95", "p99", "cpu", "memory"]) await waitFor(() => both(key), 15_000, `${key} of both routes`);
    // MariaDB, which the monitor counts among the shared stores.
    const stores = async () => (await chart(page.getByTestId("routes-stores-cpu"))).lines;
    await waitFor(async () => (await stores()).includes("mariadbd"), 15_000, "the stores' CPU per record");
    await waitFor(async () => (await routeChart("accepted")).points > first.routes.points, 20_000, "the route chart to move");
    await waitFor(async () => (await chart(hostChart)).points > first.host, 10_000, "the host chart to move");
  } finally {
    await load.stop();
  }
  assert.match(await text("routes"), /ruta 1 · gRPC/);
  assert.match(await text("routes"), /ruta 2 · Redis/);
  // Route 3 (not started here) had no traffic: the two routes read as before, its queue in a line.
  assert.doesNotMatch(await text("routes"), /ruta 3 · Kafka/);
  assert.match(await text("routes-queue"), /Sin notas por la ruta 3 en los últimos 5 minutos/);
  assert.ok((await page.locator('[data-testid="routes"] .recharts-line-curve').count()) >= 8, "two lines in each of four charts");
  const processes = await hostPanel.getByTestId("host-processes").innerText();
  for (const row of ["Corriendo", "Durmiendo", "Zombie", "Parados", "Total"]) assert.match(processes, new RegExp(`${row}\\s+\\d`));
  assert.match(await hostPanel.getByTestId("host-ram").innerText(), /Usada\s+[\d,]+\s+Libre\s+[\d,]+\s+Total\s+[\d,]+/);
  await waitFor(async () => (await table.locator("tbody tr").count()) === 25, 10_000, "a full page of records");

  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: new URL("dashboard.png", OUTPUT).pathname, fullPage: true });
  await page.getByTestId("routes").screenshot({ path: new URL("dashboard-routes.png", OUTPUT).pathname });
  await hostPanel.screenshot({ path: new URL("dashboard-host.png", OUTPUT).pathname });

  // A phone-sized viewport shows every panel, and every record's course, grade and term,
  // without anything wider than the screen: every chart inside its card, at 360 px too.
  for (const width of [360, 390]) {
    await page.setViewportSize({ width, height: 844 });
    await waitFor(() => chartsRedrawn(page), 5_000, `the charts drawn at ${width} px`);
    assert.deepEqual(await overflowing(page), { page: 0, charts: [] }, `at ${width} px`);
  }
  assert.equal(await page.evaluate(() => [...document.querySelectorAll(".table-wrap")].filter((e) => e.scrollWidth > e.clientWidth).length), 0);
  for (const cell of ["curso", "nota", "semestre", "year"]) {
    const boxes = await table.locator(`tbody td.${cell}`).evaluateAll((tds) => tds.map((td) => td.getBoundingClientRect()));
    assert.equal(boxes.length, 25);
    for (const box of boxes) assert.ok(box.width > 0 && box.left >= 0 && box.right <= 390, `${cell} at ${box.left}..${box.right}`);
  }
  await page.screenshot({ path: new URL("dashboard-phone.png", OUTPUT).pathname, fullPage: true });
  await page.getByTestId("routes").screenshot({ path: new URL("dashboard-routes-phone.png", OUTPUT).pathname });
  await hostPanel.screenshot({ path: new URL("dashboard-host-phone.png", OUTPUT).pathname });
  await table.screenshot({ path: new URL("dashboard-records-phone.png", OUTPUT).pathname });
  assert.equal(websockets.length, 1, "one socket carries the live view and the hosts");

  // A chart drawn at one width still fits its card at another before it is measured again,
  // as when a headless screenshot or a print lays the page out anew without running its
  // scripts: here the charts are never told that their box changed.
  const stale = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  stale.on("pageerror", (e) => failures.push(e.message));
  await stale.addInitScript(() => {
    window.ResizeObserver = class {
      observe() {}
      unobserve() {}
      disconnect() {}
    };
  });
  await stale.goto(stack.urls.dashboard);
  await waitFor(async () => (await stale.locator('[data-testid="top-students"] .recharts-bar-rectangle').count()) === 5, 10_000, "5 student bars");
  // The reports' 3, the routes' 7, the stores' 2 and the host's.
  await waitFor(async () => (await stale.locator(".recharts-wrapper").count()) === 3 + 7 + 2 + 1, 10_000, "every chart");
  for (const width of [390, 360]) {
    await stale.setViewportSize({ width, height: 844 });
    assert.deepEqual(await overflowing(stale), { page: 0, charts: [] }, `at ${width} px, before the charts are measured again`);
  }
  assert.deepEqual(failures, []);
});

test("without Prometheus or a host monitor the page says so", async (t) => {
  const stack = await startStack({ prometheus: false, monitor: false });
  t.after(stack.stop);
  const browser = await launch(t);
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  const failures = [];
  page.on("pageerror", (e) => failures.push(e.message));
  await page.goto(stack.urls.dashboard);

  const problem = page.getByTestId("routes-problem");
  await waitFor(() => problem.isVisible(), 20_000, "the comparison's problem").catch(async (e) => {
    throw new Error(`${e.message}; the panel shows: ${await page.getByTestId("routes").innerText()}\n${stack.logs()}`);
  });
  assert.match(await problem.innerText(), /^Sin Prometheus: no se puede comparar las rutas\.\s+the route comparison needs Prometheus, which did not answer at http:\/\/127\.0\.0\.1:\d+/);
  assert.equal(await page.getByTestId("routes").getAttribute("aria-busy"), "false");
  await waitFor(async () => /todavía no ha enviado muestras/.test(await page.getByTestId("hosts").innerText()), 10_000, "the no-host sentence");
  mkdirSync(OUTPUT, { recursive: true });
  await page.getByTestId("routes").scrollIntoViewIfNeeded();
  await page.screenshot({ path: new URL("dashboard-no-prometheus-phone.png", OUTPUT).pathname });
  assert.deepEqual(failures, []);
});
