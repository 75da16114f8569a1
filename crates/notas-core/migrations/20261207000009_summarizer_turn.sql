-- One summarizer at a time (notas_core::summaries::catch_up). Each round first takes this
-- row, with SKIP LOCKED; a round that finds it taken ends, leaving the backlog to the round
-- under way. Concurrent rounds deadlocked: a round's DELETE of its backlog rows scans the
-- small table whole and waited on rows another round held, while that round waited on a
-- summary row the first held.
CREATE TABLE summarizer_turn (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY
) ENGINE = InnoDB;
INSERT INTO summarizer_turn (id) VALUES (1);
