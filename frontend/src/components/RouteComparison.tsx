import { useMemo } from "react";
import { apiUrl, type RouteComparison as Comparison } from "../api";
import { useReport } from "../hooks";
import { type ChartLine, type ComparisonChart, comparisonCharts, comparisonProblem, storeCharts } from "../monitoring";
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
  const stores = useMemo(() => storeCharts(report.data), [report.data]);
  const all = useMemo(() => [...charts.routes, ...stores, ...charts.queue], [charts, stores]);
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
          <Legend label="Rutas" lines={charts.routes[0].lines} />
          {quiet && <p className="muted">Ninguna nota recibida en los últimos {minutes} minutos.</p>}
          <div className="charts">{charts.routes.map(draw)}</div>
          <section className="subsection" data-testid="routes-stores" aria-label="Almacenes compartidos">
            <h3>Almacenes compartidos: MySQL, Redis, el broker, la entrada</h3>
            {stores.length > 0 ? (
              <>
                <Legend label="Almacenes" lines={stores[0].lines} />
                <div className="charts">{stores.map(draw)}</div>
              </>
            ) : (
              <p className="muted">Este entorno no ve los procesos de los almacenes.</p>
            )}
          </section>
          <section className="subsection" data-testid="routes-queue" aria-label="Ruta 3: la cola">
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

/** The lines' names and colors, once for the charts that follow. */
function Legend({ label, lines }: { label: string; lines: ChartLine[] }) {
  return (
    <ul className="legend" aria-label={label}>
      {lines.map((l) => (
        <li key={l.key}>
          <span className="swatch" style={{ background: l.color }} />
          {l.name}
        </li>
      ))}
    </ul>
  );
}
