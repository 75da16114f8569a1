import { Bar, BarChart, CartesianGrid, Cell, Legend, Pie, PieChart, Tooltip, XAxis, YAxis } from "recharts";
import type { PassFail, TopCourses, TopStudents } from "../api";
import type { Loaded } from "../hooks";
import { passFailSlices, studentBars } from "../logic";
import { Panel } from "./Panel";

/**
 * The charts' box is sized by CSS (the card's width), not by a width measured in script: a
 * chart drawn at another width (a print, a headless screenshot) is scaled into its card until
 * it is measured again, never past it.
 */
const CHART_SIZE = { width: "100%", height: 260 };
const PASS_FAIL_COLORS = ["#2e7d32", "#c62828"];

export function PassFailPie({ report, title }: { report: Loaded<PassFail>; title: string }) {
  const slices = passFailSlices(report.data);
  return (
    <Panel title={title} testId="pass-fail" loading={report.loading} error={report.error} empty={slices.length === 0}>
      <PieChart responsive style={CHART_SIZE}>
        <Pie data={slices} dataKey="value" nameKey="name" outerRadius={90} label isAnimationActive={false}>
          {slices.map((s, i) => (
            <Cell key={s.name} fill={PASS_FAIL_COLORS[i]} />
          ))}
        </Pie>
        <Tooltip />
        <Legend />
      </PieChart>
    </Panel>
  );
}

export function TopCoursesBar({ report, title }: { report: Loaded<TopCourses>; title: string }) {
  const bars = report.data?.courses ?? [];
  return (
    <Panel title={title} testId="top-courses" loading={report.loading} error={report.error} empty={bars.length === 0}>
      <BarChart data={bars} responsive style={CHART_SIZE}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="curso" />
        <YAxis allowDecimals={false} />
        <Tooltip />
        <Bar dataKey="students" name="Alumnos" fill="#1565c0" isAnimationActive={false} />
      </BarChart>
    </Panel>
  );
}

export function TopStudentsBar({ report, title }: { report: Loaded<TopStudents>; title: string }) {
  const bars = studentBars(report.data);
  return (
    <Panel title={title} testId="top-students" loading={report.loading} error={report.error} empty={bars.length === 0}>
      <BarChart data={bars} layout="vertical" responsive style={CHART_SIZE} margin={{ left: 4, right: 12 }}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis type="number" domain={[0, 100]} />
        <YAxis type="category" dataKey="label" width={150} fontSize={12} />
        <Tooltip />
        <Bar dataKey="average" name="Promedio" fill="#6a1b9a" isAnimationActive={false} />
      </BarChart>
    </Panel>
  );
}
