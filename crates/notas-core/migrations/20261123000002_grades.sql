-- One row per registered grade, whichever route stored it. Column names are the wire
-- format's, so the JSON, the proto and the table read the same.
CREATE TABLE grades (
    id         BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT PRIMARY KEY,
    carnet     INT UNSIGNED     NOT NULL,
    nombre     VARCHAR(100)     NOT NULL,
    curso      VARCHAR(8)       NOT NULL,
    nota       TINYINT UNSIGNED NOT NULL,
    semestre   ENUM('1S', '2S') NOT NULL,
    year       SMALLINT UNSIGNED NOT NULL,
    -- Which ingestion route stored the record, so a load test can reconcile per route.
    route      ENUM('grpc', 'redis') NOT NULL,
    created_at TIMESTAMP(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),

    CONSTRAINT fk_grades_course FOREIGN KEY (curso) REFERENCES courses (code),
    CONSTRAINT chk_grades_nota CHECK (nota <= 100),

    -- Records of a course in a term, newest first: InnoDB appends the primary key, so
    -- `ORDER BY id DESC` is read off the index. (The other reports read the summaries of
    -- migration 4, so every insert maintains this one secondary index only.)
    INDEX idx_grades_course_term (curso, semestre, year)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
