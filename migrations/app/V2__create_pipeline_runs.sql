-- One row per run of a pipeline.
CREATE TABLE pipeline_runs (
    id              INTEGER PRIMARY KEY,
    pipeline_id     INTEGER NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    status          TEXT    NOT NULL CHECK (status IN ('scheduled', 'running', 'succeeded', 'failed')),
    started_at      TEXT,
    finished_at     TEXT,
    rows_processed  INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX pipeline_runs_by_pipeline ON pipeline_runs (pipeline_id, started_at);
