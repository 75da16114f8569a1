-- Route 3 (queue-api, Kafka, grade-consumer) stores its rows as 'queue'. Appending a value
-- to an ENUM changes the table's definition only: no row is rewritten.
ALTER TABLE grades MODIFY route ENUM('grpc', 'redis', 'queue') NOT NULL;
