-- twofa-sqlx: the table PostgresStore::migrate() creates, for sqlx::migrate! and sqlx-cli.
-- One row per user; COLLATE "C" makes user ids compare and sort byte for byte whatever the
-- database's default collation. To use another table name, change it here and pass the same
-- TableName to the store's builder. The application's role then needs only
-- SELECT, INSERT, UPDATE, DELETE on the table (connect with TableSetup::VerifyOnly).
CREATE TABLE IF NOT EXISTS "two_factor" (
    user_id TEXT COLLATE "C" PRIMARY KEY,
    record  TEXT NOT NULL,
    version BIGINT NOT NULL
);

-- The row that holds the highest version of any deleted record (user_id '', an id twofa
-- never accepts), so that a record inserted after a deletion starts above it.
INSERT INTO "two_factor" (user_id, record, version) VALUES ('', '', 0)
    ON CONFLICT (user_id) DO NOTHING;
