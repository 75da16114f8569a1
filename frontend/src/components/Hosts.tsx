import type { Socket } from "socket.io-client";
import type { HostHistory } from "../api";
import { useHosts } from "../hooks";
import { HOST_WINDOW_SECONDS, clock, formatValue, hostFigures, hostPoints, sampleTime } from "../monitoring";
import { Panel } from "./Panel";
import { TimeChart } from "./TimeChart";

const LINES = [
  { key: "cpu", name: "CPU %", color: "#6a1b9a" },
  { key: "ram", name: "RAM %", color: "#2e7d32" },
];

/** One panel per monitored machine, live from the page's socket. */
export function Hosts({ apiOrigin, socket }: { apiOrigin: string; socket: Socket | null }) {
  const { hosts, loaded, error } = useHosts(apiOrigin, socket);
  const shown = hosts.filter((h) => h.samples.length > 0);
  if (shown.length === 0) {
    return (
      <Panel
        title="Máquinas"
        testId="hosts"
        wide
        loading={!loaded}
        error={error}
        empty
        emptyText="El monitor de máquinas todavía no ha enviado muestras."
      />
    );
  }
  return shown.map((h) => <HostPanel key={h.host} history={h} />);
}

function HostPanel({ history }: { history: HostHistory }) {
  const newest = history.samples.at(-1)!;
  const end = sampleTime(newest.hora);
  const { processes, ram } = hostFigures(newest);
  return (
    <Panel title={`Máquina ${history.host}`} testId={`host:${history.host}`} wide>
      <p className="host-now">
        <span>
          <span className="swatch" style={{ background: LINES[0].color }} />
          CPU <strong>{formatValue(newest.porcentaje_cpu_uso)} %</strong>
        </span>
        <span>
          <span className="swatch" style={{ background: LINES[1].color }} />
          RAM <strong>{formatValue(newest.porcentaje_ram)} %</strong>
        </span>
        <span className="muted">muestra de las {clock(end)}</span>
      </p>
      <div className="host-body">
        <TimeChart
          title="Uso de CPU y RAM (%)"
          testId="host-chart"
          data={hostPoints(history.samples)}
          lines={LINES}
          end={end}
          windowSeconds={HOST_WINDOW_SECONDS}
          yDomain={[0, 100]}
          unit="%"
        />
        <div className="host-tables">
          <FiguresTable caption="Procesos" rows={processes} testId="host-processes" />
          <FiguresTable caption="RAM (MB)" rows={ram} testId="host-ram" />
        </div>
      </div>
    </Panel>
  );
}

function FiguresTable({ caption, rows, testId }: { caption: string; rows: [string, number][]; testId: string }) {
  return (
    <table className="figures" data-testid={testId}>
      <caption>{caption}</caption>
      <tbody>
        {rows.map(([name, value]) => (
          <tr key={name}>
            <th scope="row">{name}</th>
            <td>{value.toLocaleString("es-GT")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
