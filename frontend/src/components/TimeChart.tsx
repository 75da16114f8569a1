import { CartesianGrid, Line, LineChart, Tooltip, XAxis, YAxis } from "recharts";
import { type ChartLine, clock, formatValue, timeTicks } from "../monitoring";

interface Props {
  title: string;
  testId: string;
  /** Points with a unix-seconds `t` and a value (or null, a gap) per line key, oldest first. */
  data: ({ t: number } & Record<string, number | null>)[];
  lines: readonly ChartLine[];
  /** The axis ends at `end` (unix seconds) and shows `windowSeconds` before it. */
  end: number;
  windowSeconds: number;
  /** Fixed value range, e.g. [0, 100] for percentages; by default from 0 to the data's top. */
  yDomain?: [number, number];
  unit: string;
}

/**
 * A live line chart over a time window. `data-points` (how many instants it draws) and
 * `data-lines` (the lines that have a value) let tests see it move.
 */
export function TimeChart({ title, testId, data, lines, end, windowSeconds, yDomain, unit }: Props) {
  const start = end - windowSeconds;
  const drawn = lines.filter((l) => data.some((p) => p[l.key] !== null && p[l.key] !== undefined));
  return (
    <figure className="time-chart" data-testid={testId} data-points={data.length} data-lines={drawn.map((l) => l.key).join(" ")}>
      <figcaption>{title}</figcaption>
      <LineChart data={data} responsive style={{ width: "100%", height: 190 }} margin={{ top: 6, right: 14, bottom: 0, left: 0 }}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis
          dataKey="t"
          type="number"
          domain={[start, end]}
          ticks={timeTicks(start, end)}
          tickFormatter={clock}
          allowDataOverflow
          fontSize={12}
        />
        <YAxis domain={yDomain ?? [0, "auto"]} width="auto" fontSize={12} tickFormatter={(v: number) => formatValue(v)} allowDataOverflow={!!yDomain} />
        <Tooltip
          labelFormatter={(t) => clock(Number(t))}
          formatter={(value) => `${formatValue(Number(value))} ${unit}`}
        />
        {lines.map((l) => (
          <Line key={l.key} dataKey={l.key} name={l.name} stroke={l.color} strokeWidth={2} dot={false} isAnimationActive={false} />
        ))}
      </LineChart>
    </figure>
  );
}
