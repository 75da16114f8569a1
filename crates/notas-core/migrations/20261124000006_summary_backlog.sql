-- The batches whose report summaries are still owed. A batch's transaction stores its grades
-- and one row here (the first and last id it was given); the summarizer
-- (notas_core::summaries) applies the grades of some rows to the summaries and deletes
-- those rows in one transaction, so every grade is summarized exactly once, in large
-- transactions of their own, off the requests' path. Empty when the summaries are current.
CREATE TABLE summary_backlog (
    first_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    last_id  BIGINT UNSIGNED NOT NULL
) ENGINE = InnoDB;
