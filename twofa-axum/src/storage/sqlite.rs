//! `SqliteStorage`: placeholder, being written.

/// Sessions and password-attempt counts in Sqlite.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    #[allow(dead_code)]
    pool: sqlx::SqlitePool,
}
