CREATE TABLE load_runs (
    id INTEGER PRIMARY KEY,
    finished_at TEXT NOT NULL,
    rows_read INTEGER NOT NULL,
    rows_written INTEGER NOT NULL
);
