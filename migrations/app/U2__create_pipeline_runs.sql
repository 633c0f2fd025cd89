DROP INDEX pipeline_runs_by_pipeline;
DROP TABLE pipeline_runs;
