-- Keep the failure reason of a run next to its status.
ALTER TABLE pipeline_runs ADD COLUMN error_message TEXT;
