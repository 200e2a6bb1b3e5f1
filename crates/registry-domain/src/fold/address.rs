//! The matching key of the part of an address after the municipality.
//!
//! 「三丁目4番5号」, 「3-4-5」, 「３丁目４－５」 and 「三丁目四番地五」 are one key, `3-4-5`; 大字 and
//! 字 are dropped; a building name after the number stays in the key, and [`address_block`]
//! cuts it off (the address up to its 番地 or 号), for a partial match.

use super::{fold_kanji, fold_width, is_variation_selector};

const KANJI_DIGITS: [(char, u64); 14] = [
    ('〇', 0),
    ('零', 0),
    ('一', 1),
    ('壱', 1),
    ('二', 2),
    ('弐', 2),
    ('三', 3),
    ('参', 3),
    ('四', 4),
    ('五', 5),
    ('六', 6),
    ('七', 7),
    ('八', 8),
    ('九', 9),
];

fn kanji_digit(c: char) -> Option<u64> {
    KANJI_DIGITS.iter().find(|&&(k, _)| k == c).map(|&(_, d)| d)
}

fn kanji_multiplier(c: char) -> Option<u64> {
    match c {
        '十' | '拾' => Some(10),
        '百' => Some(100),
        '千' => Some(1000),
        _ => None,
    }
}

fn is_kanji_numeral(c: char) -> bool {
    kanji_digit(c).is_some() || kanji_multiplier(c).is_some()
}

/// The Arabic digits of a run of kanji numerals: 「二十三」 23, 「百五」 105, 「三〇五」 305.
pub(super) fn kanji_number(run: &[char]) -> String {
    if !run.iter().any(|&c| kanji_multiplier(c).is_some()) {
        // Positional: each character is one digit.
        return run.iter().filter_map(|&c| kanji_digit(c)).map(|d| d.to_string()).collect();
    }
    let (mut total, mut current): (u64, Option<u64>) = (0, None);
    for &c in run {
        if let Some(d) = kanji_digit(c) {
            current = Some(current.unwrap_or(0).saturating_mul(10).saturating_add(d));
        } else if let Some(m) = kanji_multiplier(c) {
            total = total.saturating_add(current.unwrap_or(1).saturating_mul(m));
            current = None;
        }
    }
    total.saturating_add(current.unwrap_or(0)).to_string()
}

/// Hyphens and dashes written between address numbers: - ‐ ‑ ‒ – — ― ⁃ − ﹣ ─ ━.
const HYPHENS: [char; 12] = [
    '-', '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2015}', '\u{2043}',
    '\u{2212}', '\u{FE63}', '\u{2500}', '\u{2501}',
];

fn is_hyphen_like(c: char) -> bool {
    HYPHENS.contains(&c)
}

fn is_kanji(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '々')
}

fn is_kana(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}')
}

/// Markers that, after a number, separate it from the next: longest first.
const NUMBER_MARKERS: [&str; 4] = ["丁目", "番地", "番", "号"];

/// The matching key of the part of an address after the municipality.
///
/// The rule, in order:
/// 1. NFC and width folding ([`fold_width`]), old kanji to new ([`fold_kanji`]), white space
///    removed, ASCII letters upper-cased; the prefixes 大字 and 字, often left out, removed.
/// 2. Every run of kanji numerals (〇零一二三四五六七八九, 壱弐参, 十拾百千) becomes its Arabic
///    value: 「三」 3, 「二十三」 23, 「三〇五」 305. Place names are converted too (四日市 becomes
///    4日市), which is harmless: the key only has to be the same for every spelling, and a
///    place name is spelled the same way in all of them.
/// 3. After a number, 丁目, 番地, 番 and 号 become `-`; so does の or ノ between numbers, and
///    any hyphen or dash (‐ ‑ ‒ – — ― − ﹣ ─, or ー between numbers).
/// 4. A `-` survives only between two digits; leading zeros of numbers are dropped.
/// 5. ヶ, ヵ, ケ, が and ガ before a kanji and after a kanji or kana become ケ; の and ノ there
///    become ノ (霞が関 = 霞ヶ関 = 霞ケ関, ひばりが丘 = ひばりヶ丘, 丸の内 = 丸ノ内).
///
/// So 「三丁目4番5号」, 「3-4-5」, 「３丁目４－５」, 「三丁目四番地五」 and 「3丁目4番地の5」
/// all give `3-4-5`, and 「4番5号 メゾン101」 gives `4-5メゾン101`.
pub fn fold_address(s: &str) -> String {
    // One pass can leave work for another: dropping a stray `-` in 「3-の-4」 puts の between
    // two numbers. Each pass only shortens the text or turns characters into `-`, ケ or ノ, so
    // repeating it reaches a fixed point quickly, and the key is then idempotent. The bound is
    // a safeguard only.
    let mut key = address_pass(s);
    for _ in 0..32 {
        let again = address_pass(&key);
        if again == key {
            break;
        }
        key = again;
    }
    key
}

fn address_pass(s: &str) -> String {
    let base = fold_kanji(&fold_width(s));
    let base: String = base
        .chars()
        .filter(|c| !c.is_whitespace() && !is_variation_selector(*c))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let base = base.replace("大字", "").replace('字', "");
    let chars: Vec<char> = base.chars().collect();

    // Steps 2, 3 and 5: one pass producing digits, '-' and other characters.
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let prev = out.last().copied();
        let after_number = prev.is_some_and(|p| p.is_ascii_digit() || p == '-');
        let next_numeric =
            chars.get(i + 1).is_some_and(|&n| n.is_ascii_digit() || is_kanji_numeral(n));
        if is_kanji_numeral(c) {
            let end = chars[i..]
                .iter()
                .position(|&c| !is_kanji_numeral(c))
                .map_or(chars.len(), |p| i + p);
            out.extend(kanji_number(&chars[i..end]).chars());
            i = end;
            continue;
        }
        if after_number {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            if let Some(marker) = NUMBER_MARKERS.iter().find(|m| rest.starts_with(**m)) {
                out.push('-');
                i += marker.chars().count();
                continue;
            }
            if matches!(c, 'の' | 'ノ' | 'ー') && next_numeric {
                out.push('-');
                i += 1;
                continue;
            }
        }
        if is_hyphen_like(c) {
            out.push('-');
        } else if matches!(c, 'ヶ' | 'ヵ' | 'ケ' | 'が' | 'ガ' | 'の' | 'ノ')
            && i > 0
            // As written: 三ヶ日 counts although 三 became 3; ひばりが丘 as well as 霞が関.
            && (is_kanji(chars[i - 1]) || is_kana(chars[i - 1]))
            && chars.get(i + 1).is_some_and(|&n| is_kanji(n))
        {
            out.push(if matches!(c, 'の' | 'ノ') { 'ノ' } else { 'ケ' });
        } else {
            out.push(c);
        }
        i += 1;
    }

    // Step 4: '-' only between digits; no leading zeros.
    let mut key = String::with_capacity(out.len());
    for (j, &c) in out.iter().enumerate() {
        if c == '-' {
            let before = key.chars().last().is_some_and(|p| p.is_ascii_digit());
            let after =
                out[j + 1..].iter().find(|&&n| n != '-').is_some_and(|n| n.is_ascii_digit());
            if before && after {
                key.push('-');
            }
        } else if c == '0'
            && !key.chars().last().is_some_and(|p| p.is_ascii_digit())
            && out.get(j + 1).is_some_and(|n| n.is_ascii_digit())
        {
            // A leading zero of a longer number.
        } else {
            key.push(c);
        }
    }
    crate::text::into_nfc(key)
}

/// The key of an address up to the end of its first run of numbers: what a building name,
/// room number or 方書 follows. `智里3-1メゾン101` gives `智里3-1`; a key without a number
/// is returned whole.
pub fn address_block(key: &str) -> &str {
    let mut end = None;
    let mut in_number = false;
    for (i, c) in key.char_indices() {
        if c.is_ascii_digit() || (in_number && c == '-') {
            in_number = true;
            end = Some(i + c.len_utf8());
        } else if in_number {
            break;
        }
    }
    match end {
        Some(e) => &key[..e],
        None => key,
    }
}

/// Every run of kanji numerals in `s` as Arabic digits (「五十年三月」 → 「50年3月」).
pub(super) fn kanji_number_text(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if is_kanji_numeral(chars[i]) {
            let end = chars[i..]
                .iter()
                .position(|&c| !is_kanji_numeral(c))
                .map_or(chars.len(), |p| i + p);
            out.push_str(&kanji_number(&chars[i..end]));
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}
