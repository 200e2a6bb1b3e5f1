//! The four-item match: who, among a registry's residents, is the person an agency asks about
//! by 氏名 (name), 生年月日 (birth date), 性別 (sex) and 住所 (address).
//!
//! In 2006 matching 31.8 million pension records on these items found only 25.8 million
//! people, mostly because of address notation and old/new kanji (`reference/jukinet.md` §1.3).
//! This crate reads a query in any notation a clerk types ([`Query::parse`]), gives the keys a
//! store fetches candidates by ([`Query::keys`]), and ranks the candidates ([`rank`]), saying
//! for each item how it matched ([`ItemMatch`]) and naming the best candidate only when it is
//! clearly the one: a look-alike (same name, other birth date; a twin; a common name in one
//! town) is never named.
//!
//! Pure: no file, socket, clock, environment or randomness; everything is a function of its
//! arguments. The folds themselves are `registry_domain::fold`.
//!
//! - `query`: [`Query`], [`QueryError`], [`Keys`].
//! - `place`: reading the prefecture, county and municipality off the front of an address.
//! - `compare`: each item of a query against a record, as an [`ItemMatch`].
//! - `rank`: the score, the order and the confidence rule.
//! - [`evaluation`]: recall and precision over a labelled set of queries and a population.
#![forbid(unsafe_code)]

mod compare;
pub mod evaluation;
mod place;
mod query;
mod rank;

pub use compare::ItemMatch;
pub use query::{Keys, Query, QueryError};
pub use rank::{Candidate, Items, MAX_CANDIDATES, Ranked, rank};
