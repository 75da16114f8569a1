-- The `Idempotency-Key` of a `POST /notas`, committed in the transaction that stores its
-- grade: a retry with the same key finds that grade instead of storing another, even after
-- a crash lost the first answer. Kept at least 24 hours, then purged in bounded batches
-- (`created_at` ordered by its index).
CREATE TABLE idempotency_keys (
    idem_key   VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    grade_id   BIGINT UNSIGNED NOT NULL,
    created_at TIMESTAMP(3)    NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    INDEX idx_idempotency_created (created_at)
) ENGINE = InnoDB;
