-- Route 2 (redis-api) records whose Redis live-view update failed after MySQL had
-- committed them. The record itself is safe in `grades`; this table only remembers
-- that the live view still owes it, and redis-api replays these rows into Redis once
-- Redis answers again, then deletes them. Empty in normal operation.
CREATE TABLE live_outbox (
    grade_id   BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    created_at TIMESTAMP(6)    NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    CONSTRAINT fk_live_outbox_grade FOREIGN KEY (grade_id) REFERENCES grades (id) ON DELETE CASCADE
) ENGINE = InnoDB;
