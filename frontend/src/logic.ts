// Pure pieces of the dashboard's behaviour, kept apart from React so Vitest can pin them.

import type { PassFail, Selection, TopStudents } from "./api";

export type Connection = "connecting" | "connected" | "disconnected";

export function connectionLabel(state: Connection): string {
  return { connecting: "Conectando…", connected: "En vivo", disconnected: "Sin conexión" }[state];
}

/** Pie slices for a pass/fail report; none when the course has no grades yet. */
export function passFailSlices(report: PassFail | null): { name: string; value: number }[] {
  if (!report || report.passed + report.failed === 0) return [];
  return [
    { name: "Aprobados", value: report.passed },
    { name: "Reprobados", value: report.failed },
  ];
}

/** Bars for the top students, labelled with name and carnet (names can repeat). */
export function studentBars(report: TopStudents | null): { label: string; average: number; grades: number }[] {
  return (report?.students ?? []).map((s) => ({
    label: `${s.nombre} (${s.carnet})`,
    average: s.average,
    grades: s.grades,
  }));
}

/** Whether a `count` push is the one the page is showing. */
export function isSelected(push: { curso: string; semestre: string; year: number }, selection: Selection): boolean {
  return push.curso === selection.curso && push.semestre === selection.semestre && push.year === selection.year;
}

/** A year typed by the user, kept inside the API's range. */
export function clampYear(value: string, fallback: number): number {
  const year = Number.parseInt(value, 10);
  return Number.isFinite(year) && year >= 2000 && year <= 2100 ? year : fallback;
}

export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return "";
  return new Date(ms).toLocaleString("es-GT", { dateStyle: "short", timeStyle: "medium" });
}
