DELETE FROM pipelines WHERE name = 'nightly_sales_load';
