//! A realistic synthetic population for any municipality, pure and deterministic.
//!
//! [`Generator::person`] makes the `i`-th resident of a town from a seed alone: a surname drawn
//! by its estimated number of bearers, a given name of the resident's sex, both with their
//! katakana readings; a birth date drawn from Japan's 2020 census age pyramid; a household
//! (people sharing a surname and an address) and an address inside the municipality, built from
//! its own town names (町域) in 丁目・番・号 form in cities and 番地 form in towns and villages.
//! Any resident can be made without the ones before it, so callers generate in parallel.
//!
//! The data files under `data/` name their sources and licences in their headers
//! (`data/make_data.py` writes them from the registry packages; `tests/data.rs` checks them):
//! surnames from japanese-personal-name-dataset (MIT; estimates after 名字由来net), given names
//! from gimei (MIT; no frequencies, so equally weighted), town names from Japan Post's postal
//! code data (via japan-postal-code, MIT), the age pyramid from the Statistics Bureau's 2020
//! census. No file, clock, environment or system random source is touched.

#![forbid(unsafe_code)]

mod calendar;
mod generator;
mod rng;
mod tables;

pub use generator::{Generator, Person};
pub use tables::{AgeGroup, Given, Surname, Tables};

/// Why a population could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SynthError {
    /// A compiled-in data file does not parse (a build from edited data files).
    #[error("synth data file {file}, line {line}: {problem}")]
    Data {
        /// The data file.
        file: &'static str,
        /// Its line, from 1.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// The reference date leaves no room for the oldest age group.
    #[error("the reference date is too early to draw birth dates from the age pyramid")]
    Date,
    /// A generated value was refused by the domain types (a bug in the generator).
    #[error("a generated {what} was refused: {reason}")]
    Refused {
        /// Which value.
        what: &'static str,
        /// The domain type's reason, which never repeats the value.
        reason: String,
    },
}

impl SynthError {
    /// A stable code for the error.
    pub fn code(&self) -> &'static str {
        match self {
            SynthError::Data { .. } => "synth-data",
            SynthError::Date => "synth-date",
            SynthError::Refused { .. } => "synth-refused",
        }
    }
}
