// The dashboard in headless Chromium against the running stack: grades posted through
// both routes appear in the table and the charts, and the live values move.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { test } from "node:test";
import { chromium } from "playwright-core";
import { postGrade, startStack, waitFor } from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const OUTPUT = new URL("../e2e-output/", import.meta.url);

test("grades posted through both routes fill every panel", async (t) => {
  const stack = await startStack();
  t.after(stack.stop);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  const failures = [];
  page.on("pageerror", (e) => failures.push(e.message));
  await page.goto(stack.urls.dashboard);

  const text = (testId) => page.getByTestId(testId).innerText();
  await waitFor(async () => (await text("connection")) === "En vivo", 10_000, "the live connection");
  await waitFor(async () => (await text("live-total")).includes("0"), 10_000, "the live total 0");
  assert.match(await text("records"), /Sin datos/);

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

  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: new URL("dashboard.png", OUTPUT).pathname, fullPage: true });

  // A phone-sized viewport still shows every panel.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: new URL("dashboard-phone.png", OUTPUT).pathname, fullPage: true });
  assert.deepEqual(failures, []);
});
