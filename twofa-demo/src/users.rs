//! The demo's users table, in the same database as the sessions and the 2FA records: an id,
//! the e-mail address, an argon2id password hash and the 2FA flag.

use std::cell::RefCell;

use argon2::Argon2;
use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use sqlx::{PgPool, SqlitePool};
use twofa_axum::{HostError, HostUser, Users};

/// A user. `Debug` leaves the password hash out.
#[derive(Clone)]
pub struct User {
    /// Stable identifier: the key of the user's 2FA record and sessions.
    pub id: String,
    /// E-mail address: what the user signs in with.
    pub email: String,
    password_hash: String,
    two_factor: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("two_factor", &self.two_factor)
            .finish_non_exhaustive()
    }
}

impl HostUser for User {
    fn id(&self) -> &str {
        &self.id
    }
    fn account_name(&self) -> &str {
        &self.email
    }
    fn two_factor_enabled(&self) -> bool {
        self.two_factor
    }
}

/// The database the users live in.
#[derive(Debug, Clone)]
pub enum Db {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// The users table.
#[derive(Debug, Clone)]
pub struct DemoUsers {
    db: Db,
    /// Checked for unknown e-mail addresses, so that they cost what known ones do.
    dummy: String,
}

type Row = (String, String, String, bool);

impl DemoUsers {
    /// The table in `db`, made if missing.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub async fn open(db: Db) -> Result<DemoUsers, HostError> {
        let create = "CREATE TABLE IF NOT EXISTS demo_users (id TEXT PRIMARY KEY, \
                      email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, \
                      two_factor BOOLEAN NOT NULL DEFAULT FALSE)";
        match &db {
            Db::Sqlite(pool) => {
                sqlx::query(create).execute(pool).await?;
            }
            Db::Postgres(pool) => {
                sqlx::query(create).execute(pool).await?;
            }
        }
        Ok(DemoUsers {
            db,
            dummy: hash("a password nobody has")?,
        })
    }

    /// Sets the password of `email`, making the user (with id `id`) if there is none; an
    /// existing user keeps their id and 2FA flag.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub async fn set_password(
        &self,
        id: &str,
        email: &str,
        password: &str,
    ) -> Result<(), HostError> {
        let hash = hash(password)?;
        let email = email.trim().to_lowercase();
        let upsert = |p: [&str; 3]| {
            format!(
                "INSERT INTO demo_users (id, email, password_hash) VALUES ({}, {}, {}) \
                 ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash",
                p[0], p[1], p[2]
            )
        };
        match &self.db {
            Db::Sqlite(pool) => {
                let sql = upsert(["?", "?", "?"]);
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .bind(&email)
                    .bind(&hash)
                    .execute(pool)
                    .await?;
            }
            Db::Postgres(pool) => {
                let sql = upsert(["$1", "$2", "$3"]);
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .bind(&email)
                    .bind(&hash)
                    .execute(pool)
                    .await?;
            }
        };
        Ok(())
    }

    async fn find(&self, column: &str, value: &str) -> Result<Option<User>, HostError> {
        let select = |placeholder: &str| {
            format!(
                "SELECT id, email, password_hash, two_factor FROM demo_users WHERE {column} = {placeholder}"
            )
        };
        let row: Option<Row> = match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query_as(sqlx::AssertSqlSafe(select("?")))
                    .bind(value)
                    .fetch_optional(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(sqlx::AssertSqlSafe(select("$1")))
                    .bind(value)
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(row.map(|(id, email, password_hash, two_factor)| User {
            id,
            email,
            password_hash,
            two_factor,
        }))
    }
}

impl Users for DemoUsers {
    type User = User;

    async fn find_by_login(&self, login: &str) -> Result<Option<User>, HostError> {
        self.find("email", &login.trim().to_lowercase()).await
    }

    async fn find_by_id(&self, user_id: &str) -> Result<Option<User>, HostError> {
        self.find("id", user_id).await
    }

    fn verify_password(&self, user: Option<&User>, password: &str) -> bool {
        let hash = user.map_or(&self.dummy, |u| &u.password_hash);
        verify(hash, password) && user.is_some()
    }

    async fn set_two_factor(&self, user_id: &str, enabled: bool) -> Result<(), HostError> {
        match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query("UPDATE demo_users SET two_factor = ? WHERE id = ?")
                    .bind(enabled)
                    .bind(user_id)
                    .execute(pool)
                    .await?;
            }
            Db::Postgres(pool) => {
                sqlx::query("UPDATE demo_users SET two_factor = $1 WHERE id = $2")
                    .bind(enabled)
                    .bind(user_id)
                    .execute(pool)
                    .await?;
            }
        };
        Ok(())
    }
}

/// An argon2id hash of `password` (default parameters, random salt) in PHC form.
fn hash(password: &str) -> Result<String, HostError> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| format!("argon2: {e}"))?
        .to_string())
}

/// Whether `password` matches the PHC string `phc`, hashing into one buffer per thread that
/// every check on the thread reuses: `twofa-axum`'s hashing threads live as long as the app,
/// so a burst of sign-ins holds two buffers, not one per request.
fn verify(phc: &str, password: &str) -> bool {
    thread_local! {
        static MEMORY: RefCell<Vec<argon2::Block>> = const { RefCell::new(Vec::new()) };
    }
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        argon2::Algorithm::try_from(hash.algorithm.as_str()),
        argon2::Params::try_from(&hash),
    ) else {
        return false;
    };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, argon2::Version::V0x13, params);
    let mut out = vec![0u8; expected.len()];
    let hashed = MEMORY.with_borrow_mut(|memory| {
        memory.resize(blocks, argon2::Block::default());
        argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt.as_ref(),
                &mut out,
                &mut memory[..],
            )
            .is_ok()
    });
    hashed && bool::from(subtle::ConstantTimeEq::ct_eq(&out[..], expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_the_password_hash_out() {
        let user = User {
            id: "u1".into(),
            email: "a@example.com".into(),
            password_hash: hash("secret").unwrap(),
            two_factor: true,
        };
        let printed = format!("{user:?}");
        assert!(
            printed.contains("a@example.com") && printed.contains("two_factor: true"),
            "{printed}"
        );
        assert!(!printed.contains("argon2"), "{printed}");
    }

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let phc = hash("correct horse").unwrap();
        assert!(verify(&phc, "correct horse"));
        assert!(!verify(&phc, "correct horse "));
        assert!(!verify("not a hash", "correct horse"));
    }
}
