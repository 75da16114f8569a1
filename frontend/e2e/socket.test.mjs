// dashboard-api's socket.io side with a real socket.io-client v4 (websocket transport).

import assert from "node:assert/strict";
import { test } from "node:test";
import { io } from "socket.io-client";
import { MONITOR_INTERVAL_MS, PUSH_INTERVAL_MS, postGrade, startStack, waitFor } from "./harness.mjs";

function connect(url) {
  const socket = io(url, { transports: ["websocket"], reconnection: false });
  const seen = { live: [], count: [], selectError: [], host: [] };
  socket.on("live", (p) => seen.live.push({ at: Date.now(), ...p }));
  socket.on("count", (p) => seen.count.push(p));
  socket.on("select_error", (p) => seen.selectError.push(p));
  socket.on("host", (p) => seen.host.push(p));
  return { socket, seen, connected: new Promise((resolve, reject) => (socket.on("connect", resolve), socket.on("connect_error", reject))) };
}

test("the total and the selected count follow the grades posted through route 2", async (t) => {
  const stack = await startStack();
  t.after(stack.stop);
  const { socket, seen, connected } = connect(stack.urls.dashboard);
  t.after(() => socket.close());
  await connected;
  await waitFor(() => seen.live.length > 0, 5000, "the first live push");
  assert.equal(seen.live.at(-1).total, 0);

  socket.emit("select", { curso: "SO1", semestre: "2S", year: 2023 });
  await waitFor(() => seen.count.length > 0, 5000, "the selected count");
  assert.deepEqual(seen.count.at(-1), { curso: "SO1", semestre: "2S", year: 2023, count: 0 });

  const posted = [];
  for (const grade of [{ carnet: 1 }, { carnet: 2 }, { carnet: 3, curso: "BD1" }]) {
    const answer = await postGrade(stack.urls.route2, grade);
    assert.equal(answer.status, 201);
    posted.push(answer.body.id);
  }
  await waitFor(() => seen.live.at(-1).total === 3, 5000, "total 3");
  await waitFor(() => seen.count.at(-1).count === 2, 5000, "SO1 count 2");
  assert.deepEqual(seen.live.at(-1).recent.map((r) => r.id), posted.reverse());

  // Grades of another selection do not move this one.
  await postGrade(stack.urls.route2, { carnet: 4, curso: "LFP" });
  await waitFor(() => seen.live.at(-1).total === 4, 5000, "total 4");
  assert.equal(seen.count.at(-1).count, 2);
});

test("a bad selection is refused naming the field", async (t) => {
  const stack = await startStack();
  t.after(stack.stop);
  const { socket, seen, connected } = connect(stack.urls.dashboard);
  t.after(() => socket.close());
  await connected;
  socket.emit("select", { curso: "MATE1", semestre: "2S", year: 2023 });
  const [error] = await waitFor(() => seen.selectError.length && seen.selectError, 5000, "select_error");
  assert.equal(error.field, "curso");
});

test("pushes are coalesced however fast grades arrive", async (t) => {
  const stack = await startStack();
  t.after(stack.stop);
  const { socket, seen, connected } = connect(stack.urls.dashboard);
  t.after(() => socket.close());
  await connected;
  await waitFor(() => seen.live.length > 0, 5000, "the first live push");
  const start = Date.now();
  const before = seen.live.length;
  await Promise.all(Array.from({ length: 200 }, (_, i) => postGrade(stack.urls.route2, { carnet: 1000 + i })));
  await waitFor(() => seen.live.at(-1).total === 200, 10_000, "total 200");
  const elapsed = Date.now() - start;
  const pushes = seen.live.length - before;
  const allowed = Math.ceil(elapsed / PUSH_INTERVAL_MS) + 1;
  assert.ok(pushes <= allowed, `${pushes} pushes in ${elapsed} ms; at most ${allowed} expected`);
  assert.ok(pushes < 200, "one push per grade: nothing was coalesced");
});

test("each dashboard-api replica pushes to the browsers connected to it", async (t) => {
  const stack = await startStack({ dashboards: 2 });
  t.after(stack.stop);
  const clients = stack.dashboards.map(connect);
  t.after(() => clients.forEach((c) => c.socket.close()));
  await Promise.all(clients.map((c) => c.connected));
  for (const c of clients) c.socket.emit("select", { curso: "SA", semestre: "1S", year: 2024 });
  await waitFor(() => clients.every((c) => c.seen.count.length > 0), 5000, "both selections");

  for (const carnet of [1, 2]) {
    assert.equal((await postGrade(stack.urls.route2, { carnet, curso: "SA", semestre: "1S", year: 2024 })).status, 201);
  }
  for (const [i, c] of clients.entries()) {
    await waitFor(() => c.seen.live.at(-1)?.total === 2, 5000, `total 2 on replica ${i + 1}`);
    await waitFor(() => c.seen.count.at(-1).count === 2, 5000, `count 2 on replica ${i + 1}`);
  }
});

test("long-polling is refused, so no replica needs sticky sessions", async (t) => {
  const stack = await startStack();
  t.after(stack.stop);
  const polling = await fetch(`${stack.urls.dashboard}/socket.io/?EIO=4&transport=polling`);
  assert.equal(polling.status, 400);
});

test("the host monitor's samples are listed and pushed on the same socket", async (t) => {
  const stack = await startStack({ prometheus: false });
  t.after(stack.stop);
  const { socket, seen, connected } = connect(stack.urls.dashboard);
  t.after(() => socket.close());
  await connected;
  await waitFor(() => seen.host.length >= 3, 10 * MONITOR_INTERVAL_MS, "three host pushes");
  const sample = seen.host.at(-1);
  assert.deepEqual(Object.keys(sample).sort(), [
    "hora", "host", "porcentaje_cpu_libre", "porcentaje_cpu_uso", "porcentaje_ram", "procesos_corriendo",
    "procesos_durmiendo", "procesos_parados", "procesos_zombie", "ram_libre", "total_procesos", "total_ram", "uso_ram",
  ]);
  assert.match(sample.hora, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  assert.ok(Math.abs(Date.parse(`${sample.hora.replace(" ", "T")}Z`) - Date.now()) < 5000, `hora ${sample.hora} is UTC now`);
  assert.equal(sample.uso_ram + sample.ram_libre, sample.total_ram);
  for (const p of [sample.porcentaje_ram, sample.porcentaje_cpu_uso]) assert.ok(p >= 0 && p <= 100);
  assert.ok(sample.total_procesos > 0);

  const { hosts } = await (await fetch(`${stack.urls.dashboard}/api/hosts`)).json();
  assert.deepEqual(hosts.map((h) => h.host), [sample.host]);
  const horas = hosts[0].samples.map((s) => s.hora);
  assert.ok(horas.length >= 3 && horas.length <= 300, `${horas.length} samples`);
  assert.deepEqual(horas, [...horas].sort(), "oldest first");
});
