//! `juki code check`: is a code valid, and if not, why not.
//!
//! The kind of code is told by its length: 6 digits a municipality code (全国地方公共団体コード),
//! 11 a resident code (住民票コード), 12 an individual number (個人番号). Municipality codes are
//! public and are printed with their verdict; resident codes and individual numbers are
//! personal data, so they are referred to by their position among the arguments.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use registry_domain::{IndividualNumber, MunicipalityCode, MunicipalityCodeError, ResidentCode};

#[derive(Subcommand)]
pub enum CodeCommand {
    /// Check codes: 6 digits is a municipality code (valid, with its name and prefecture, or
    /// why not), 11 a resident code (住民票コード), 12 an individual number (個人番号). Exits
    /// non-zero if any is invalid.
    ///
    /// Example: juki code check 204072 204071 12345678903
    Check {
        /// The codes to check.
        #[arg(required = true, value_name = "CODE")]
        codes: Vec<String>,
    },
}

/// The verdict on one code: the line to print and whether it is valid.
fn check(position: usize, code: &str) -> (String, bool) {
    match code.chars().count() {
        6 => match MunicipalityCode::parse(code) {
            Ok(m) => (
                format!(
                    "{m}: valid municipality code: {} ({}), {} (prefecture {})",
                    m.name(),
                    m.reading(),
                    m.prefecture().name(),
                    m.prefecture()
                ),
                true,
            ),
            Err(e @ MunicipalityCodeError::CheckDigit { .. }) => {
                (format!("{code}: invalid: wrong check digit: {e}"), false)
            }
            Err(e @ MunicipalityCodeError::NotInTable { .. }) => {
                (format!("{code}: invalid: no such municipality: {e}"), false)
            }
            // Not digits: not repeated, it may be anything.
            Err(e) => (format!("argument {position}: invalid: {e}"), false),
        },
        11 => match ResidentCode::parse(code) {
            Ok(_) => (format!("argument {position}: valid resident code (住民票コード)"), true),
            Err(e) => (format!("argument {position}: invalid: {e}"), false),
        },
        12 => match IndividualNumber::parse(code) {
            Ok(_) => (format!("argument {position}: valid individual number (個人番号)"), true),
            Err(e) => (format!("argument {position}: invalid: {e}"), false),
        },
        n => (
            format!(
                "argument {position}: invalid: {n} characters is no code juki knows; a \
                 municipality code has 6 digits, a resident code (住民票コード) 11 and an \
                 individual number (個人番号) 12"
            ),
            false,
        ),
    }
}

pub fn run(command: CodeCommand) -> Result<ExitCode> {
    let CodeCommand::Check { codes } = command;
    let mut invalid = 0;
    for (i, code) in codes.iter().enumerate() {
        let (line, valid) = check(i + 1, code);
        println!("{line}");
        if !valid {
            invalid += 1;
        }
    }
    if invalid > 0 {
        eprintln!("error: {invalid} of {} codes are invalid", codes.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
