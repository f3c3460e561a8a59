-- Records a consumer has set aside on its dead-letter topic, by where it read them. A replay
-- of the same records (a projection rebuild, a redelivery after a crash) skips them instead
-- of dead-lettering them again, so the dead-letter topics do not grow with every rebuild.
CREATE TABLE {schema}.dead_letters (
    consumer         text        NOT NULL,
    topic            text        NOT NULL,
    partition        integer     NOT NULL,
    kafka_offset     bigint      NOT NULL,
    event_id         uuid,
    error_type       text        NOT NULL,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition, kafka_offset)
);
