-- The ETL example's target schema, built into the example binary (embed_migrations!).
CREATE TABLE daily_sales (
    day TEXT NOT NULL,
    region TEXT NOT NULL,
    orders INTEGER NOT NULL,
    revenue_cents INTEGER NOT NULL,
    PRIMARY KEY (day, region)
);
