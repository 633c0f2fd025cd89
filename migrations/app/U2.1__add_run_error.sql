ALTER TABLE pipeline_runs DROP COLUMN error_message;
