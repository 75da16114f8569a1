-- Route 2's batches that the Redis live view may not have received yet: a route 2 batch's
-- transaction stores its grades and one row here (its first and last id), so the debt is
-- committed with the grades, whatever happens to the Redis update that follows. The writer
-- that applied a batch deletes its row; redis-api's outbox applies the rows left over (the
-- writer's Redis update failed, its process died, or the commit went through while its
-- answer was lost), then deletes them. Replaces live_outbox, where ids were written only
-- after a failed Redis update, and so never for a commit whose answer was lost.
CREATE TABLE live_backlog (
    first_id   BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    last_id    BIGINT UNSIGNED NOT NULL,
    created_at TIMESTAMP(6)    NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB;

-- The records still owed when this runs, each a batch of its own.
INSERT INTO live_backlog (first_id, last_id, created_at)
    SELECT grade_id, grade_id, created_at FROM live_outbox;
DROP TABLE live_outbox;
