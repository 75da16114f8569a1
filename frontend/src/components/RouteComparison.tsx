import { useMemo } from "react";
import { apiUrl, type RouteComparison as Comparison } from "../api";
import { useReport } from "../hooks";
import { type ComparisonChart, comparisonCharts, comparisonProblem, formatValue, storeRows } from "../monitoring";
import { Panel } from "./Panel";
import { TimeChart } from "./TimeChart";

/** How often the comparison is asked again (Prometheus' step is 5 s). */
const REFRESH_MS = 5000;

/**
 * The routes side by side, from Prometheus: accepted/s, errors/s, p50, p95 and p99 latency at
 * the services, and what a record costs each route's own processes in CPU, and their memory;
 * the shared stores' cost beside them; then route 3's queue (accepted against stored, the
 * consumers' lag, the time from 202 to stored), or a line saying it had no traffic.
 */
export function RouteComparison({ apiOrigin }: { apiOrigin: string }) {
  const report = useReport<Comparison>(apiUrl(apiOrigin, "/api/routes"), REFRESH_MS);
  const charts = useMemo(() => comparisonCharts(report.data), [report.data]);
  const stores = useMemo(() => storeRows(report.data), [report.data]);
  const all = useMemo(() => [...charts.routes, ...charts.queue], [charts]);
  // The window ends now (or at the newest point, should this clock be behind the server's).
  const end = useMemo(() => Math.max(Math.floor(Date.now() / 1000), ...all.flatMap((c) => c.points.map((p) => p.t))), [all]);
  const windowSeconds = report.data?.window_seconds ?? 300;
  const minutes = Math.round(windowSeconds / 60);
  const quiet = all.every((c) => c.points.length === 0);
  const draw = (c: ComparisonChart) => (
    <TimeChart key={c.key} title={c.title} testId={`routes-${c.key}`} data={c.points} lines={c.lines} end={end} windowSeconds={windowSeconds} unit={c.unit} />
  );

  return (
    <Panel title="Comparación de rutas (Prometheus)" testId="routes" wide loading={report.loading && !report.error}>
      {report.error ? (
        <p className="error" role="alert" data-testid="routes-problem">
          <strong>{comparisonProblem(report.status)}</strong>
          <span className="detail">{report.error}</span>
        </p>
      ) : (
        <>
          <ul className="legend" aria-label="Rutas">
            {charts.routes[0].lines.map((l) => (
              <li key={l.key}>
                <span className="swatch" style={{ background: l.color }} />
                {l.name}
              </li>
            ))}
          </ul>
          {quiet && <p className="muted">Ninguna nota recibida en los últimos {minutes} minutos.</p>}
          <div className="charts">{charts.routes.map(draw)}</div>
          <table className="figures stores" data-testid="routes-stores">
            <caption>Almacenes compartidos: CPU por nota guardada de cualquier ruta, y memoria</caption>
            <thead>
              <tr>
                <th scope="col">proceso</th>
                <th scope="col">µs por nota</th>
                <th scope="col">MiB</th>
              </tr>
            </thead>
            <tbody>
              {stores.length === 0 ? (
                <tr>
                  <td colSpan={3} className="muted">
                    Este entorno no ve los procesos de los almacenes.
                  </td>
                </tr>
              ) : (
                stores.map((s) => (
                  <tr key={s.process}>
                    <th scope="row">{s.process}</th>
                    <td>{s.cpuUsPerRecord === null ? "–" : formatValue(s.cpuUsPerRecord)}</td>
                    <td>{s.memoryMiB === null ? "–" : formatValue(s.memoryMiB)}</td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
          <section className="queue" data-testid="routes-queue" aria-label="Ruta 3: la cola">
            <h3>Ruta 3 · cola Kafka: de 202 a guardada</h3>
            {charts.queue.length > 0 ? (
              <div className="charts">{charts.queue.map(draw)}</div>
            ) : (
              <p className="muted">Sin notas por la ruta 3 en los últimos {minutes} minutos (POST /queue/notas).</p>
            )}
          </section>
        </>
      )}
    </Panel>
  );
}
