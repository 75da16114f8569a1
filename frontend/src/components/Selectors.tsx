import { COURSES, SEMESTERS, type Course, type Selection, type Semester } from "../api";
import { clampYear } from "../logic";

/** The course, semester and year the page watches; `onChange` gets the field that changed. */
export function Selectors({ selection, onChange }: { selection: Selection; onChange: (change: Partial<Selection>) => void }) {
  const { curso, semestre, year } = selection;
  return (
    <form className="selectors" onSubmit={(e) => e.preventDefault()}>
      <label>
        Curso
        <select value={curso} onChange={(e) => onChange({ curso: e.target.value as Course })} data-testid="select-curso">
          {COURSES.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </label>
      <label>
        Semestre
        <select value={semestre} onChange={(e) => onChange({ semestre: e.target.value as Semester })} data-testid="select-semestre">
          {SEMESTERS.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        Año
        <input type="number" min={2000} max={2100} value={year} onChange={(e) => onChange({ year: clampYear(e.target.value, year) })} data-testid="select-year" />
      </label>
    </form>
  );
}
