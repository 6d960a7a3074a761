//! The table name, checked before it is ever put in a query.

use std::fmt;

use crate::Error;

/// The name of the table that holds the records: 1 to 63 ASCII letters, digits and
/// underscores, not starting with a digit (63 bytes is PostgreSQL's limit).
///
/// Queries cannot bind a table name as a parameter, so it is written into the SQL text; this
/// type is what makes that safe. The name is always double-quoted in the SQL, so it may be a
/// reserved word.
///
/// Case: in PostgreSQL a quoted name is case-sensitive (`CaseTable` and `casetable` are two
/// tables). SQLite compares table names without regard to ASCII case, quoted or not: there
/// they are one table, and the SQLite store refuses a table whose name differs from its own
/// only in case ([`TableProblem::NameCase`](crate::TableProblem::NameCase)) rather than
/// share it with a store of the other spelling.
///
/// ```
/// use twofa_sqlx::TableName;
///
/// assert_eq!(TableName::new("auth_two_factor")?.as_str(), "auth_two_factor");
/// assert!(TableName::new("two_factor; DROP TABLE users").is_err());
/// assert!(TableName::new("\"quoted\"").is_err());
/// # Ok::<(), twofa_sqlx::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName(String);

impl TableName {
    /// The default, `two_factor`.
    pub const DEFAULT: &'static str = "two_factor";

    /// The longest name, in bytes.
    pub const MAX_LEN: usize = 63;

    /// Checks `name`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTableName`] when `name` is not a plain identifier.
    pub fn new(name: &str) -> Result<TableName, Error> {
        let mut bytes = name.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
        let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if first_ok && rest_ok && name.len() <= Self::MAX_LEN {
            Ok(TableName(name.to_owned()))
        } else {
            Err(Error::InvalidTableName)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as it goes into SQL: double-quoted.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl Default for TableName {
    fn default() -> Self {
        TableName(Self::DEFAULT.to_owned())
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identifiers_pass_and_everything_else_is_refused() {
        for ok in ["two_factor", "_t", "T2", &"a".repeat(63)] {
            assert_eq!(TableName::new(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "2fa",
            "two-factor",
            "two factor",
            "a\"b",
            "a;b",
            "schema.table",
            "t\u{e9}",
            "t\0",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(TableName::new(bad), Err(Error::InvalidTableName)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_default_is_two_factor_and_names_are_quoted_in_sql() {
        assert_eq!(TableName::default().as_str(), "two_factor");
        assert_eq!(TableName::new("Mixed").unwrap().quoted(), "\"Mixed\"");
    }
}
