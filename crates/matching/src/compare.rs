//! Each item of a query against a record, as an [`ItemMatch`]: how far the text had to be
//! folded before the two agreed.
//!
//! - Name: the query's name against the record's name, against its former name (旧氏 with the
//!   given name; at best [`ItemMatch::Variant`]), and, when the query's name is in kana, against
//!   the readings. [`ItemMatch::Partial`] when only the surname was given and it agrees, or when
//!   the characters differ but the reading given agrees; a name whose surname agrees and given
//!   name differs (a twin, a sibling) [`ItemMatch::Differs`].
//! - Birth date: equal dates are [`ItemMatch::Exact`], whatever the notation; two of year,
//!   month and day equal [`ItemMatch::Partial`].
//! - Sex: equal or not.
//! - Address: the municipality must agree when the query names one; then the rest as typed,
//!   width-folded, in its notation key ([`fold_address`]), or up to its first number
//!   ([`address_block`], a building or room left out or added: [`ItemMatch::Partial`]).

use registry_domain::fold::{
    address_block, fold_address, fold_for_match, fold_name, fold_reading, fold_width,
};
use registry_domain::{Date, IdentityRecordParts, Sex};

use crate::place::place;
use crate::query::{Query, QueryAddress, QueryName};

/// How one item of a query matched a candidate, from best to worst; serialised in kebab-case.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ItemMatch {
    /// The same as registered: the same characters (white space aside), the same date in any
    /// notation, the same sex.
    Exact,
    /// The same after width and kana folding (全角/半角, ひらがな/カタカナ, spaces).
    Folded,
    /// The same after kanji variants (旧字体, 異体字), reading variants (small kana, vowel
    /// length) or address notation (丁目・番地・号, 大字, kanji numerals), or by the former name.
    Variant,
    /// Part of it agrees: the surname only, the address up to its number, two of year, month
    /// and day.
    Partial,
    /// It disagrees.
    Differs,
    /// The query does not have it.
    Missing,
}

impl ItemMatch {
    /// Whether the item agrees, at any level of folding.
    pub fn agrees(self) -> bool {
        matches!(self, ItemMatch::Exact | ItemMatch::Folded | ItemMatch::Variant)
    }
}

fn no_space(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A registered name split at its first space: (surname, given name).
fn split(name: &str) -> (&str, &str) {
    match name.find(char::is_whitespace) {
        Some(i) => (&name[..i], name[i..].trim_start()),
        None => (name, ""),
    }
}

/// The query's name against one written name (`registered`), at each level.
fn name_level(query: &QueryName, registered: &str) -> ItemMatch {
    if query.exact == no_space(registered) {
        return ItemMatch::Exact;
    }
    if query.folded == fold_name(registered) {
        return ItemMatch::Folded;
    }
    if query.variant == fold_for_match(registered) {
        return ItemMatch::Variant;
    }
    let (surname, given) = split(registered);
    if !given.is_empty() && query.variant == fold_for_match(surname) {
        return ItemMatch::Partial;
    }
    ItemMatch::Differs
}

/// The query's kana name (or reading) against a registered reading.
fn reading_level(folded: &str, loose: &str, registered: &str) -> ItemMatch {
    if folded == fold_name(registered) {
        ItemMatch::Folded
    } else if loose == fold_reading(registered) {
        ItemMatch::Variant
    } else {
        let (surname, given) = split(registered);
        if !given.is_empty() && loose == fold_reading(surname) {
            ItemMatch::Partial
        } else {
            ItemMatch::Differs
        }
    }
}

pub(crate) fn name(query: &Query, record: &IdentityRecordParts) -> ItemMatch {
    let q = &query.name;
    let registered = record.name.name().as_str();
    let reading = record.name.reading().as_str();
    let given = split(registered).1;
    let given_reading = split(reading).1;
    let former = record.name.former().map(|f| {
        (
            format!("{} {given}", f.surname().as_str()),
            format!("{} {given_reading}", f.reading().as_str()),
        )
    });
    let mut best = name_level(q, registered);
    if let Some((former_name, _)) = &former {
        best = best.min(name_level(q, former_name).max(ItemMatch::Variant));
    }
    if q.kana_only {
        let loose = fold_reading(&q.folded);
        best = best.min(reading_level(&q.folded, &loose, reading));
        if let Some((_, former_reading)) = &former {
            best =
                best.min(reading_level(&q.folded, &loose, former_reading).max(ItemMatch::Variant));
        }
    } else if best == ItemMatch::Differs
        && let Some(r) = &query.reading
    {
        // Characters that no table relates, but the same reading: a lead, not an agreement.
        let mut by_reading = reading_level(&r.folded, &r.loose, reading);
        if let Some((_, former_reading)) = &former {
            by_reading = by_reading.min(reading_level(&r.folded, &r.loose, former_reading));
        }
        if by_reading.agrees() && same_length(q, registered) {
            best = ItemMatch::Partial;
        }
    }
    best
}

/// Whether the query's name and the registered one have as many characters (a variant that no
/// table knows keeps the length; another name usually does not).
fn same_length(q: &QueryName, registered: &str) -> bool {
    q.variant.chars().count() == fold_for_match(registered).chars().count()
}

pub(crate) fn birth(query: Option<Date>, registered: Date) -> ItemMatch {
    let Some(q) = query else { return ItemMatch::Missing };
    if q == registered {
        return ItemMatch::Exact;
    }
    let same = usize::from(q.year() == registered.year())
        + usize::from(q.month() == registered.month())
        + usize::from(q.day() == registered.day());
    if same == 2 { ItemMatch::Partial } else { ItemMatch::Differs }
}

pub(crate) fn sex(query: Option<Sex>, registered: Sex) -> ItemMatch {
    match query {
        None => ItemMatch::Missing,
        Some(s) if s == registered => ItemMatch::Exact,
        Some(_) => ItemMatch::Differs,
    }
}

/// Whether `whole` is `rest` after nothing but a place (prefecture, county, municipality).
fn ends_with_rest(whole: &str, rest: &str) -> bool {
    whole
        .strip_suffix(rest)
        .is_some_and(|prefix| prefix.is_empty() || place(prefix).rest.is_empty())
}

pub(crate) fn address(query: Option<&QueryAddress>, record: &IdentityRecordParts) -> ItemMatch {
    let Some(q) = query else { return ItemMatch::Missing };
    let registered = &record.address;
    if q.municipality.is_some_and(|m| m != registered.municipality()) {
        return ItemMatch::Differs;
    }
    let rest = registered.rest();
    if ends_with_rest(&q.typed, &no_space(rest)) {
        return ItemMatch::Exact;
    }
    if ends_with_rest(&q.width, &no_space(&fold_width(rest))) {
        return ItemMatch::Folded;
    }
    let key = fold_address(rest);
    if q.key == key {
        return ItemMatch::Variant;
    }
    if q.key.is_empty() {
        // Only the municipality: it agrees, the rest is not known.
        return if q.municipality.is_some() { ItemMatch::Partial } else { ItemMatch::Differs };
    }
    let (qb, rb) = (address_block(&q.key), address_block(&key));
    if qb == rb
        || (rb.starts_with(qb)
            && rb[qb.len()..].starts_with('-')
            && qb.ends_with(|c: char| c.is_ascii_digit()))
    {
        return ItemMatch::Partial;
    }
    ItemMatch::Differs
}
