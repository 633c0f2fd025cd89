-- Every status change of a run, written by a trigger.
CREATE TABLE run_audit (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL,
    old_status  TEXT,
    new_status  TEXT    NOT NULL,
    changed_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TRIGGER pipeline_runs_status_audit
AFTER UPDATE OF status ON pipeline_runs
WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO run_audit (run_id, old_status, new_status) VALUES (NEW.id, OLD.status, NEW.status);
END;
