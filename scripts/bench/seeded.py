"""A large table: 10,000,000 grades seeded straight into MySQL, the report summaries rebuilt
from them, then each dashboard report timed (the split's rate is measured again after)."""

import statistics
import time
import urllib.request

from pymysql.constants import CLIENT

from scripts.common.contract import COURSES
from scripts.common.stores import mysql_connect
from scripts.stack import ROOT, wait_for_summaries


def report_times(dashboard: str) -> dict[str, float]:
    """Each dashboard report's time over HTTP (ms, the median of 5)."""
    paths = {
        "records (SO1 2S 2023, newest 50)": "/api/grades?curso=SO1&semestre=2S&year=2023",
        "records (all, newest 50)": "/api/grades",
        "pass/fail (SO1 2S 2023)": "/api/reports/pass-fail?curso=SO1&semestre=2S&year=2023",
        "top 3 courses (2S 2023)": "/api/reports/top-courses?semestre=2S&year=2023",
        "top 5 students (2S 2023)": "/api/reports/top-students?semestre=2S&year=2023",
        "top 5 students (all)": "/api/reports/top-students",
    }
    times = {}
    for name, path in paths.items():
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            with urllib.request.urlopen(dashboard + path, timeout=30) as answer:
                answer.read()
            samples.append((time.perf_counter() - start) * 1000)
        times[name] = statistics.median(samples)
    return times


def seed(url: str, rows: int) -> None:
    """`rows` grades spread over courses, semesters, years and 100,000 students, a million
    per statement; then the report summaries rebuilt from the whole table."""
    wait_for_summaries(url)  # what the routes stored is summarized; the rebuild counts it once
    courses = ", ".join(f"'{c}'" for c in COURSES)
    with mysql_connect(url, client_flag=CLIENT.MULTI_STATEMENTS) as db, db.cursor() as cur:
        for first in range(1, rows + 1, 1_000_000):
            last = min(first + 999_999, rows)
            cur.execute(
                "INSERT INTO grades (carnet, nombre, curso, nota, semestre, year, route) "
                "SELECT 201900000 + seq % 100000, CONCAT('Alumno ', seq % 100000), "
                f"ELT(1 + seq % {len(COURSES)}, {courses}), 50 + (seq % 6) * 10, "
                "IF(seq % 2 = 0, '1S', '2S'), 2020 + seq % 4, IF(seq % 2 = 0, 'grpc', 'redis') "
                f"FROM seq_{first}_to_{last}"
            )
            db.commit()
        # Bulk-loaded rows bypass the routes, so rebuild the report summaries from the grades.
        migration = next((ROOT / "crates/notas-core/migrations").glob("*_report_summaries.sql")).read_text()
        # Their migration is the one copy of the rebuild SQL: rerun whole, not split, as sqlx's checksum pins its text.
        cur.execute("DROP TABLE course_term_students, course_term_stats, student_stats")
        cur.execute(migration)
        while cur.nextset():  # every statement's result; a failed one raises here
            pass
        db.commit()
        cur.execute("ANALYZE TABLE grades, student_stats, course_term_students")
        cur.fetchall()
