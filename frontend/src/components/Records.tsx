import type { GradeRecord } from "../api";
import { formatTime } from "../logic";

/** A table of grade records; the time column only when the records carry it. */
export function RecordsTable({ records, testId }: { records: GradeRecord[]; testId: string }) {
  const timed = records.some((r) => r.created_at_ms !== undefined);
  return (
    <div className="table-wrap">
      <table data-testid={testId}>
        <thead>
          <tr>
            <th>Id</th>
            <th>Carnet</th>
            <th>Nombre</th>
            <th>Curso</th>
            <th>Nota</th>
            <th>Semestre</th>
            <th>Año</th>
            <th>Ruta</th>
            {timed && <th>Registrado</th>}
          </tr>
        </thead>
        <tbody>
          {records.map((r) => (
            <tr key={r.id} data-route={r.route}>
              <td>{r.id}</td>
              <td>{r.carnet}</td>
              <td>{r.nombre}</td>
              <td>{r.curso}</td>
              <td className={r.nota >= 61 ? "pass" : "fail"}>{r.nota}</td>
              <td>{r.semestre}</td>
              <td>{r.year}</td>
              <td>{r.route}</td>
              {timed && <td>{formatTime(r.created_at_ms)}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
