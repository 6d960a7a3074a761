//! What setting a store up does to its table, and what is wrong with a table that fails the
//! check.

use std::fmt;

/// What a store's builder does to the table before it hands the store out.
///
/// Either way the table is checked (columns, types, primary key, and a user-id collation that
/// compares byte for byte), so a table made by hand or by an older schema fails at start-up
/// with an [`Error::Table`](crate::Error::Table) rather than mixing users up later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TableSetup {
    /// Creates the table when it is missing, then checks it. Whether it exists is looked up
    /// first, so a role without the right to create tables can use one that exists (the
    /// default).
    #[default]
    CreateIfMissing,
    /// Runs no DDL at all: checks that the table exists and is right. For an application role
    /// that may only read and write rows, with the table made by an administrator or by the
    /// migration files in `migrations/`. (On PostgreSQL it adds the store's high-water-mark
    /// row if it is missing: one `INSERT`, see the `Store` docs on deletion.)
    VerifyOnly,
}

/// What is wrong with an existing table (see [`Error::Table`](crate::Error::Table)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableProblem {
    /// There is no such table (with [`TableSetup::VerifyOnly`]).
    Missing,
    /// SQLite only: a table exists whose name differs from the one asked for only in case.
    /// SQLite compares table names without regard to ASCII case, so the two names are one
    /// table; the store refuses rather than share it with another store.
    NameCase {
        /// The name the table was created with.
        existing: String,
    },
    /// A column the store needs is missing.
    MissingColumn {
        /// Which.
        column: &'static str,
    },
    /// A column has a type the store does not write or read.
    ColumnType {
        /// Which.
        column: &'static str,
        /// The type the store expects.
        expected: &'static str,
        /// The declared type.
        found: String,
    },
    /// A column that must be `NOT NULL` is nullable.
    Nullable {
        /// Which.
        column: &'static str,
    },
    /// `user_id` is not, on its own, the primary key: the insert-if-absent and the
    /// compare-and-swap rely on it being unique.
    PrimaryKey,
    /// `user_id` does not compare byte for byte (`COLLATE BINARY` in SQLite, `COLLATE "C"` in
    /// PostgreSQL): ids that differ in case or accents could share one record, and key
    /// rotation's cursor would skip users.
    Collation {
        /// The collation found.
        found: String,
    },
}

impl fmt::Display for TableProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("it does not exist"),
            Self::NameCase { existing } => write!(
                f,
                "SQLite already has a table {existing:?}, whose name differs only in case and \
                 so is the same table"
            ),
            Self::MissingColumn { column } => write!(f, "it has no column `{column}`"),
            Self::ColumnType {
                column,
                expected,
                found,
            } => write!(f, "column `{column}` is {found:?}, not {expected}"),
            Self::Nullable { column } => write!(f, "column `{column}` is not NOT NULL"),
            Self::PrimaryKey => f.write_str("`user_id` alone is not its primary key"),
            Self::Collation { found } => write!(
                f,
                "`user_id` has collation {found:?}, which does not compare byte for byte"
            ),
        }
    }
}
