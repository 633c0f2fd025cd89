DROP TRIGGER pipeline_runs_status_audit;
DROP TABLE run_audit;
