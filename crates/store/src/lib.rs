//! What every storage engine shares, so that each store (the log's entries, the witness's
//! state, …) can have a SQLite and a PostgreSQL engine behind one trait without repeating the
//! plumbing:
//!
//! - [`sqlite::migrate`] and [`postgres::migrate`]: versioned migrations, each applied once, in
//!   order, in its own transaction with its record in a `schema_migrations` table keyed by the
//!   component that owns it (so several components may share one database);
//! - [`postgres::connect`]: a connection that refuses a server which would acknowledge a commit
//!   before it is durable;
//! - [`test_database`]: a PostgreSQL database of its own for one test case, for the
//!   conformance suites;
//! - [`crash`]: the conformance suites' killed-process crash case.
#![forbid(unsafe_code)]

pub mod crash;
pub mod postgres;
pub mod sqlite;
pub mod test_database;

/// One migration: its version (1, 2, …, in order) and its SQL, usually `include_str!`'d from
/// `migrations/<engine>/NNNN_name.sql`.
pub type Migration = (i32, &'static str);

/// What went wrong preparing a database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A SQLite operation failed.
    #[error("{context}: {source}")]
    Sqlite {
        /// What was being done.
        context: &'static str,
        /// The database's error.
        source: rusqlite::Error,
    },
    /// A PostgreSQL operation failed.
    #[error("{context}: {source}")]
    Postgres {
        /// What was being done.
        context: &'static str,
        /// The server's or the driver's error.
        source: ::postgres::Error,
    },
    /// The server would lose acknowledged writes in a crash.
    #[error(
        "the PostgreSQL server runs with synchronous_commit = off, so an acknowledged write \
         could be lost in a crash; set it to on"
    )]
    NotDurable,
    /// The database holds a migration this program does not know: it was migrated by a newer
    /// version, whose schema this one cannot promise to read.
    #[error("{component}: the database has migration {version}, newer than this program knows")]
    NewerSchema {
        /// The component whose migrations these are.
        component: &'static str,
        /// The unknown version.
        version: i32,
    },
}

impl Error {
    pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
        move |source| Error::Sqlite { context, source }
    }

    pub(crate) fn postgres(context: &'static str) -> impl FnOnce(::postgres::Error) -> Error {
        move |source| Error::Postgres { context, source }
    }
}

/// Checks that `migrations` are numbered 1, 2, … in order (a programming error otherwise).
fn check_numbering(component: &str, migrations: &[Migration]) {
    for (k, (version, _)) in migrations.iter().enumerate() {
        assert_eq!(*version, k as i32 + 1, "{component}: migrations must be numbered 1, 2, …");
    }
}
