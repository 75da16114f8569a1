import { PASS_MARK, type GradeRecord } from "../api";
import { formatTime } from "../logic";

/**
 * A table of grade records; the time column only when the records carry it. On a narrow
 * screen each row becomes a card (styles.css, `.records`): name and grade, then course and
 * term, then id, carnet, route and time, so nothing needs a sideways scroll.
 */
export function RecordsTable({ records, testId }: { records: GradeRecord[]; testId: string }) {
  const timed = records.some((r) => r.created_at_ms !== undefined);
  return (
    <div className="table-wrap">
      <table className="records" data-testid={testId}>
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
              <td className="id">{r.id}</td>
              <td className="carnet">{r.carnet}</td>
              <td className="nombre">{r.nombre}</td>
              <td className="curso">{r.curso}</td>
              <td className={`nota ${r.nota >= PASS_MARK ? "pass" : "fail"}`}>{r.nota}</td>
              <td className="semestre">{r.semestre}</td>
              <td className="year">{r.year}</td>
              <td className="route">{r.route}</td>
              {timed && <td className="time">{formatTime(r.created_at_ms)}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
