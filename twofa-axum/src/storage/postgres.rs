//! `PostgresStorage`: placeholder, being written.

/// Sessions and password-attempt counts in Postgres.
#[derive(Debug, Clone)]
pub struct PostgresStorage {
    #[allow(dead_code)]
    pool: sqlx::PgPool,
}
