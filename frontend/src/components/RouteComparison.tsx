import { useMemo } from "react";
import { apiUrl, type RouteComparison as Comparison } from "../api";
import { useReport } from "../hooks";
import { ROUTES, comparisonCharts, comparisonProblem } from "../monitoring";
import { Panel } from "./Panel";
import { TimeChart } from "./TimeChart";

/** How often the comparison is asked again (Prometheus' step is 5 s). */
const REFRESH_MS = 5000;
const LINES = ROUTES.map((r) => ({ key: r.route, name: r.label, color: r.color }));

/** Both routes side by side, from Prometheus: 201/s, errors/s, p50, p95 and p99 latency at the services. */
export function RouteComparison({ apiOrigin }: { apiOrigin: string }) {
  const report = useReport<Comparison>(apiUrl(apiOrigin, "/api/routes"), REFRESH_MS);
  const charts = useMemo(() => comparisonCharts(report.data), [report.data]);
  // The window ends now (or at the newest point, should this clock be behind the server's).
  const end = useMemo(
    () => Math.max(Math.floor(Date.now() / 1000), ...charts.flatMap((c) => c.points.map((p) => p.t))),
    [charts],
  );
  const windowSeconds = report.data?.window_seconds ?? 300;
  const quiet = charts.every((c) => c.points.length === 0);

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
            {ROUTES.map((r) => (
              <li key={r.route}>
                <span className="swatch" style={{ background: r.color }} />
                {r.label}
              </li>
            ))}
          </ul>
          {quiet && <p className="muted">Ninguna nota recibida en los últimos {Math.round(windowSeconds / 60)} minutos.</p>}
          <div className="charts">
            {charts.map((c) => (
              <TimeChart
                key={c.key}
                title={c.title}
                testId={`routes-${c.key}`}
                data={c.points}
                lines={LINES}
                end={end}
                windowSeconds={windowSeconds}
                unit={c.key.startsWith("p") ? "ms" : "/s"}
              />
            ))}
          </div>
        </>
      )}
    </Panel>
  );
}
