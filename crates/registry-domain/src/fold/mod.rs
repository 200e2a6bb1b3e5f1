//! Matching keys: folding the ways one name, reading, address or date is written into one value.
//!
//! The four-item match (氏名, 生年月日, 性別, 住所) failed for millions of pension records in 2006
//! because of address notation variants and old/new kanji forms (`reference/jukinet.md` §1.3).
//! These functions build the keys a search compares; they never change what is stored: a record
//! keeps its characters exactly as registered (CJK compatibility ideographs such as 神 U+FA19
//! included), and Unicode normalisation (NFC, and NFKC for the width forms) happens here only.
//!
//! Two levels, so that a match can say how far the text had to be folded:
//! - [`fold_name`] (the *folded* level): full-width and half-width forms to their usual width,
//!   hiragana to katakana, white space and the separators ・ ･ ＝ = ゠ removed, Latin letters
//!   upper-cased; the text in NFC except that CJK compatibility ideographs are kept.
//! - [`fold_for_match`] (the *variant* level, the store's `name_key`): [`fold_name`], then
//!   variation selectors dropped and every kanji to the representative of its variant class
//!   ([`fold_kanji`], the table generated from Unihan and the 常用漢字/人名用漢字 lists; see
//!   `tests/variants.rs` for which relations fold and why: 澤 沢, 髙 高, 﨑 崎, 神 神 fold,
//!   斎 斉 do not).
//! - [`fold_reading`] (the store's `reading_key`): a reading at the variant level, where small
//!   kana are full size, ヂ ヅ ヲ ヰ ヱ ヴ are ジ ズ オ イ エ ブ, and vowel length is dropped
//!   (オオノ, オーノ and オノ are one key).
//! - [`fold_address`] and [`address_block`]: the part of an address after the municipality
//!   ([`address`] module notes).
//! - [`parse_date`]: a date in any common notation, 和暦 included ([`date`] module notes).
//!
//! Every key is idempotent: folding a key again gives the same key.

mod address;
mod date;
mod kana;

pub use address::{address_block, fold_address};
pub use date::{DateNotationError, parse_date};
pub use kana::{fold_reading, hiragana_to_katakana};

use unicode_normalization::UnicodeNormalization as _;

use crate::variants::KANJI_VARIANTS;

fn is_width_form(c: char) -> bool {
    matches!(c, '\u{3000}' | '\u{FF01}'..='\u{FF5E}' | '\u{FF61}'..='\u{FF9F}')
}

/// Whether `c` is a CJK compatibility ideograph (U+F900..U+FAFF, U+2F800..U+2FA1F), which NFC
/// would replace by its unified ideograph and a family register keeps apart.
pub fn is_compatibility_ideograph(c: char) -> bool {
    matches!(c, '\u{F900}'..='\u{FAFF}' | '\u{2F800}'..='\u{2FA1F}')
}

/// NFC, except that CJK compatibility ideographs stay as they are.
pub(crate) fn nfc_keeping_compatibility(s: &str) -> String {
    if !s.chars().any(is_compatibility_ideograph) {
        return crate::text::into_nfc(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    for c in s.chars() {
        if is_compatibility_ideograph(c) {
            out.extend(run.nfc());
            run.clear();
            out.push(c);
        } else {
            run.push(c);
        }
    }
    out.extend(run.nfc());
    out
}

/// Full-width ASCII to ASCII, U+3000 to a space, half-width katakana (with their separate
/// voicing marks) to full-width katakana (NFKC of those forms only); everything else
/// unchanged; the result in NFC except for CJK compatibility ideographs, which stay.
pub fn fold_width(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_width_form(c) {
            out.extend(c.to_string().nfkc());
        } else {
            out.push(c);
        }
    }
    nfc_keeping_compatibility(&out)
}

/// Kanji to the representative of their variant class (`variants.rs`, generated); everything
/// else unchanged. 澤 → 沢, 髙 → 高, 﨑 → 崎, 神 (U+FA19) → 神, 齋 → 斎 but 斉 stays 斉.
pub fn fold_kanji(s: &str) -> String {
    s.chars().map(fold_kanji_char).collect()
}

fn fold_kanji_char(c: char) -> char {
    match KANJI_VARIANTS.binary_search_by_key(&c, |&(variant, _)| variant) {
        Ok(i) => KANJI_VARIANTS[i].1,
        Err(_) => c,
    }
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Separators written inside names: the middle dots ・ ･, the double hyphens ＝ = ゠ and the
/// hyphens of foreign names; white space is removed as well.
fn is_name_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(c, '・' | '･' | '＝' | '=' | '゠' | '-' | '‐' | '−' | '.' | '､' | ',' | '、')
}

/// The *folded* key of a name or reading: width and kana folded, separators and spaces
/// removed, Latin letters upper-cased; kanji, variation selectors and compatibility ideographs
/// are kept as written. 「ﾔﾏﾀﾞ　ﾀﾛｳ」, 「やまだ たろう」 and 「ヤマダ・タロウ」 share a key.
pub fn fold_name(s: &str) -> String {
    let folded = hiragana_to_katakana(&fold_width(s));
    // NFC again: dropping a space can bring a combining mark next to its base.
    nfc_keeping_compatibility(
        &folded
            .chars()
            .filter(|&c| !is_name_separator(c))
            .map(|c| c.to_ascii_uppercase())
            .collect::<String>(),
    )
}

/// The matching key of a name (the *variant* level, the store's `name_key`).
///
/// [`fold_name`], then variation selectors dropped and kanji folded by [`fold_kanji`], in
/// NFC. So 「髙橋　﨑子」 and 「高橋崎子」 share a key, as do 「ﾀｶﾊｼ ｻｷｺ」, 「たかはし さきこ」 and
/// 「タカハシ・サキコ」. Small and large kana stay distinct here (see [`fold_reading`]).
pub fn fold_for_match(s: &str) -> String {
    // The table maps every compatibility ideograph, so NFC after it has none left to merge.
    crate::text::into_nfc(
        fold_name(s).chars().filter(|&c| !is_variation_selector(c)).map(fold_kanji_char).collect(),
    )
}

#[cfg(test)]
mod tests;
