//! A PostgreSQL database of its own for one test case, so that the conformance suites' cases
//! run in parallel without seeing each other's rows.
//!
//! The server is the one `JUKI_TEST_PG_URL` names (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`). Without it a case prints
//! `skipped: JUKI_TEST_PG_URL not set` and does not run, unless `JUKI_TEST_PG_REQUIRED` is set
//! (as `.ci/run` sets it): then it fails. Each case that runs appends a line to the file
//! `JUKI_TEST_PG_RAN` names, if set, which `.ci/run` counts.

use std::io::Write as _;

use postgres::{Client, NoTls};

/// The line a PostgreSQL case prints when it does not run.
pub const SKIPPED: &str = "skipped: JUKI_TEST_PG_URL not set";

/// The variable naming the test server.
pub const URL_VAR: &str = "JUKI_TEST_PG_URL";

/// A database made for one case on the test server, dropped (with any connection left to it)
/// when this value is dropped.
pub struct TestDatabase {
    server: String,
    database: String,
}

impl TestDatabase {
    /// Makes the database `juki_test_<case>_<process id>` (dropping one left by an earlier
    /// run of this process id), or says why the case is skipped and returns `None`.
    pub fn new(case: &str) -> Option<TestDatabase> {
        let Ok(server) = std::env::var(URL_VAR) else {
            assert!(
                std::env::var_os("JUKI_TEST_PG_REQUIRED").is_none(),
                "JUKI_TEST_PG_REQUIRED is set but {URL_VAR} is not: the PostgreSQL case {case} \
                 cannot run"
            );
            // Written to the process's standard error itself, past the test harness's capture,
            // in one write so that parallel cases' lines do not interleave.
            let line = format!("{SKIPPED} (PostgreSQL case {case})\n");
            let _ = std::io::stderr().write_all(line.as_bytes());
            return None;
        };
        let name: String = case
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
            .take(40)
            .collect();
        let database = format!("juki_test_{name}_{}", std::process::id());
        let mut admin = Client::connect(&server, NoTls)
            .unwrap_or_else(|e| panic!("connecting to {URL_VAR} for {case}: {e}"));
        // Each in its own statement: CREATE DATABASE cannot run in a multi-statement batch.
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {database}")).unwrap();
        if let Some(ran) = std::env::var_os("JUKI_TEST_PG_RAN") {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(ran)
                .expect("opening JUKI_TEST_PG_RAN");
            file.write_all(format!("{case}\n").as_bytes()).expect("writing JUKI_TEST_PG_RAN");
        }
        Some(TestDatabase { server, database })
    }

    /// The database's URL: the server's, with its database replaced by this case's.
    pub fn url(&self) -> String {
        let (address, query) = match self.server.split_once('?') {
            Some((address, query)) => (address, format!("?{query}")),
            None => (self.server.as_str(), String::new()),
        };
        let after_scheme = address.find("://").map_or(0, |i| i + 3);
        let base = match address[after_scheme..].find('/') {
            Some(slash) => &address[..after_scheme + slash],
            None => address,
        };
        format!("{base}/{}{query}", self.database)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.database
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&self.server, NoTls) {
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database));
        }
    }
}
