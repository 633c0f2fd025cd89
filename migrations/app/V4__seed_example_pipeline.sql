-- An example pipeline so a fresh database has something to show.
INSERT INTO pipelines (name, schedule) VALUES ('nightly_sales_load', '0 2 * * *');
