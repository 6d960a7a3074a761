-- twofa-sqlx: the table SqliteStore::migrate() creates, for sqlx::migrate! and sqlx-cli.
-- One row per user; user ids compare byte for byte (never COLLATE NOCASE). To use another
-- table name, change it here and pass the same TableName to the store's builder.
CREATE TABLE IF NOT EXISTS "two_factor" (
    user_id TEXT COLLATE BINARY PRIMARY KEY NOT NULL,
    record  TEXT NOT NULL,
    version INTEGER NOT NULL
) STRICT;
