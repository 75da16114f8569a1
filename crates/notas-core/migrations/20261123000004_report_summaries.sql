-- Summaries the dashboard's reports read instead of the grades: kept in the same
-- transaction as each batch of grades (notas_core::mysql::GradeStore::insert), so a report
-- reads a handful of rows however many grades there are. Backfilled from existing grades.

-- Passed and failed grades of a course in a term (pass: nota >= 61).
CREATE TABLE course_term_stats (
    semestre ENUM('1S', '2S')  NOT NULL,
    year     SMALLINT UNSIGNED NOT NULL,
    curso    VARCHAR(8)        NOT NULL,
    passed   BIGINT UNSIGNED   NOT NULL DEFAULT 0,
    failed   BIGINT UNSIGNED   NOT NULL DEFAULT 0,
    -- Distinct students with a grade in the course and term (top courses).
    students BIGINT UNSIGNED   NOT NULL DEFAULT 0,
    PRIMARY KEY (semestre, year, curso)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Which students have a grade in a course and term: a new row here is a new student for
-- course_term_stats.students.
CREATE TABLE course_term_students (
    semestre ENUM('1S', '2S')  NOT NULL,
    year     SMALLINT UNSIGNED NOT NULL,
    curso    VARCHAR(8)        NOT NULL,
    carnet   INT UNSIGNED      NOT NULL,
    PRIMARY KEY (semestre, year, curso, carnet)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Sum and count of each student's grades per term, and over every term (semestre '' and
-- year 0), with the average (to 1/10000) indexed in ranking order, so the top 5 is the
-- first 5 index entries; and the name of the student's latest stored grade.
CREATE TABLE student_stats (
    semestre   ENUM('', '1S', '2S') NOT NULL,
    year       SMALLINT UNSIGNED    NOT NULL,
    carnet     INT UNSIGNED         NOT NULL,
    nombre     VARCHAR(100)         NOT NULL,
    total      BIGINT UNSIGNED      NOT NULL,
    grades     BIGINT UNSIGNED      NOT NULL,
    avg_x10000 BIGINT UNSIGNED AS (total * 10000 DIV grades) STORED,
    PRIMARY KEY (semestre, year, carnet),
    INDEX idx_student_stats_rank (semestre, year, avg_x10000 DESC, grades DESC, carnet)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

INSERT INTO course_term_students (semestre, year, curso, carnet)
    SELECT DISTINCT semestre, year, curso, carnet FROM grades;

INSERT INTO course_term_stats (semestre, year, curso, passed, failed, students)
    SELECT g.semestre, g.year, g.curso, SUM(g.nota >= 61), SUM(g.nota < 61),
           (SELECT COUNT(*) FROM course_term_students s
             WHERE s.semestre = g.semestre AND s.year = g.year AND s.curso = g.curso)
    FROM grades g GROUP BY g.semestre, g.year, g.curso;

INSERT INTO student_stats (semestre, year, carnet, nombre, total, grades)
    SELECT semestre, year, carnet, '', SUM(nota), COUNT(*) FROM grades GROUP BY semestre, year, carnet;

INSERT INTO student_stats (semestre, year, carnet, nombre, total, grades)
    SELECT '', 0, carnet, '', SUM(nota), COUNT(*) FROM grades GROUP BY carnet;

UPDATE student_stats s
    JOIN (SELECT carnet, MAX(id) AS latest FROM grades GROUP BY carnet) l ON l.carnet = s.carnet
    JOIN grades g ON g.id = l.latest
    SET s.nombre = g.nombre;
