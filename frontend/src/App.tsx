import { useState } from "react";
import { apiUrl, type Page, type PassFail, type Selection, type TopCourses, type TopStudents } from "./api";
import { PassFailPie, TopCoursesBar, TopStudentsBar } from "./components/Charts";
import { Pager } from "./components/Pager";
import { Hosts } from "./components/Hosts";
import { Panel } from "./components/Panel";
import { RecordsTable } from "./components/Records";
import { RouteComparison } from "./components/RouteComparison";
import { Selectors } from "./components/Selectors";
import { config } from "./config";
import { useLive, useReport } from "./hooks";
import { connectionLabel } from "./logic";

const PAGE_SIZE = 25;

export function App() {
  const [selection, setSelection] = useState<Selection>({ curso: "SO1", semestre: "2S", year: 2023 });
  const [onlySelection, setOnlySelection] = useState(false);
  const [pages, setPages] = useState<number[]>([]); // `before` cursors of the pages behind us
  const { apiOrigin, refreshMs } = config;
  const { curso, semestre, year } = selection;
  const term = `${semestre} ${year}`;

  const live = useLive(apiOrigin, selection);
  const before = pages.at(-1) ?? null;
  const filter = onlySelection ? { curso, semestre, year } : {};
  const records = useReport<Page>(apiUrl(apiOrigin, "/api/grades", { ...filter, before, limit: PAGE_SIZE }), refreshMs);
  const passFail = useReport<PassFail>(apiUrl(apiOrigin, "/api/reports/pass-fail", { curso, semestre, year }), refreshMs);
  const topCourses = useReport<TopCourses>(apiUrl(apiOrigin, "/api/reports/top-courses", { semestre, year }), refreshMs);
  const topStudents = useReport<TopStudents>(apiUrl(apiOrigin, "/api/reports/top-students", { semestre, year }), refreshMs);

  const select = (change: Partial<Selection>) => {
    setSelection((s) => ({ ...s, ...change }));
    if (onlySelection) setPages([]);
  };
  const items = records.data?.items ?? [];

  return (
    <main>
      <header>
        <h1>notas · registro de notas</h1>
        <span className={`connection ${live.connection}`} data-testid="connection" role="status">
          {connectionLabel(live.connection)}
        </span>
      </header>

      <Selectors selection={selection} onChange={select} />

      <div className="grid">
        <Panel title="Total de registros en Redis (rutas 2 y 3, en vivo)" testId="live-total" loading={live.total === null && live.connection !== "disconnected"}>
          <p className="big">{live.total ?? "–"}</p>
        </Panel>
        <Panel title={`Notas de ${curso} en ${term} en Redis (en vivo)`} testId="live-count" loading={live.count === null && live.connection === "connected"}>
          <p className="big">{live.count ?? "–"}</p>
        </Panel>
        <Panel title="Últimos registros (en vivo)" testId="live-recent" wide empty={live.recent.length === 0} emptyText="Esperando notas…">
          <RecordsTable records={live.recent.slice(0, 10)} testId="live-recent-table" />
        </Panel>

        <PassFailPie report={passFail} title={`Aprobados y reprobados: ${curso}, ${term}`} />
        <TopCoursesBar report={topCourses} title={`Top 3 cursos por alumnos, ${term}`} />
        <TopStudentsBar report={topStudents} title={`Top 5 promedios, ${term}`} />

        <Panel title="Datos almacenados" testId="records" wide loading={records.loading} error={records.error} empty={!records.loading && items.length === 0}>
          <RecordsTable records={items} testId="records-table" />
        </Panel>
        <Pager
          label={`${curso}, ${term}`}
          onlySelection={onlySelection}
          onOnlySelectionChange={(only) => {
            setOnlySelection(only);
            setPages([]);
          }}
          pages={pages}
          onPagesChange={setPages}
          nextBefore={records.data?.next_before ?? null}
        />

        <RouteComparison apiOrigin={apiOrigin} />
        <Hosts apiOrigin={apiOrigin} socket={live.socket} />
      </div>
    </main>
  );
}
