//! Kana folding: hiragana to katakana, and the loose key of a reading.
//!
//! A reading is written many ways for one person: キョウコ or キヨウコ (systems without small
//! kana), オオノ, オーノ or オノ (vowel length), ヂ or ジ, ヅ or ズ (the same sound since the
//! 1946 kana reform), ヴァ or バ. [`fold_reading`] gives them one key.

/// Hiragana to katakana (ぁ..ゖ to ァ..ヶ, ゝゞ to ヽヾ); everything else unchanged.
pub fn hiragana_to_katakana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' | 'ゝ' | 'ゞ' => {
                char::from_u32(u32::from(c) + 0x60).unwrap_or(c)
            }
            _ => c,
        })
        .collect()
}

/// Small kana to full size: ァィゥェォ ッ ャュョ ヮ ヵヶ and the Ainu small kana ㇰ..ㇿ.
fn full_size(c: char) -> char {
    match c {
        'ァ' => 'ア',
        'ィ' => 'イ',
        'ゥ' => 'ウ',
        'ェ' => 'エ',
        'ォ' => 'オ',
        'ッ' => 'ツ',
        'ャ' => 'ヤ',
        'ュ' => 'ユ',
        'ョ' => 'ヨ',
        'ヮ' => 'ワ',
        'ヵ' => 'カ',
        'ヶ' => 'ケ',
        'ㇰ' => 'ク',
        'ㇱ' => 'シ',
        'ㇲ' => 'ス',
        'ㇳ' => 'ト',
        'ㇴ' => 'ヌ',
        'ㇵ' => 'ハ',
        'ㇶ' => 'ヒ',
        'ㇷ' => 'フ',
        'ㇸ' => 'ヘ',
        'ㇹ' => 'ホ',
        'ㇺ' => 'ム',
        'ㇻ' => 'ラ',
        'ㇼ' => 'リ',
        'ㇽ' => 'ル',
        'ㇾ' => 'レ',
        'ㇿ' => 'ロ',
        _ => c,
    }
}

/// Kana that sound alike today: ヂ ジ, ヅ ズ, ヲ オ, ヰ イ, ヱ エ, ヷ..ヺ バ ビ ベ ボ.
fn same_sound(c: char) -> char {
    match c {
        'ヂ' => 'ジ',
        'ヅ' => 'ズ',
        'ヲ' => 'オ',
        'ヰ' => 'イ',
        'ヱ' => 'エ',
        'ヷ' => 'バ',
        'ヸ' => 'ビ',
        'ヹ' => 'ベ',
        'ヺ' => 'ボ',
        _ => c,
    }
}

/// The vowel of a full-size katakana syllable (ア イ ウ エ オ), `None` for ン and anything else.
fn vowel(c: char) -> Option<char> {
    const ROWS: [(&str, char); 5] = [
        ("アカガサザタダナハバパマヤラワ", 'ア'),
        ("イキギシジチヂニヒビピミリヰ", 'イ'),
        ("ウクグスズツヅヌフブプムユルヴ", 'ウ'),
        ("エケゲセゼテデネヘベペメレヱ", 'エ'),
        ("オコゴソゾトドノホボポモヨロヲ", 'オ'),
    ];
    ROWS.iter().find(|(row, _)| row.contains(c)).map(|&(_, v)| v)
}

/// Whether `c`, after a syllable with vowel `v`, only lengthens it: アア, イイ, ウウ, エイ or
/// エエ, オウ or オオ.
fn lengthens(v: char, c: char) -> bool {
    matches!(
        (v, c),
        ('ア', 'ア') | ('イ', 'イ') | ('ウ', 'ウ') | ('エ', 'イ' | 'エ') | ('オ', 'ウ' | 'オ')
    )
}

/// The loose key of a reading (the store's `reading_key`).
///
/// [`super::fold_for_match`] (width, kana, separators), then: ヴァ ヴィ ヴ ヴェ ヴォ to バ ビ ブ
/// ベ ボ; the iteration marks ヽ ヾ to the kana they repeat; small kana to full size (ッ to ツ,
/// ョ to ヨ); ヂ ヅ ヲ ヰ ヱ to ジ ズ オ イ エ; then vowel length dropped: ー, and a vowel that
/// only lengthens the syllable before it (オオノ, オーノ, オウノ and オノ all give オノ; ユウコ and
/// ユーコ give ユコ; ケイコ gives ケコ). So キョウコ and キヨウコ share a key (as, unavoidably, does
/// キヨコ): the key finds candidates, and the other items tell them apart.
pub fn fold_reading(s: &str) -> String {
    let base = super::fold_for_match(s);
    let chars: Vec<char> = base.chars().collect();
    let mut spelled: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == 'ヴ' {
            let next = chars.get(i + 1).copied();
            let (out, skip) = match next {
                Some('ァ') => ('バ', 2),
                Some('ィ') => ('ビ', 2),
                Some('ェ') => ('ベ', 2),
                Some('ォ') => ('ボ', 2),
                _ => ('ブ', 1),
            };
            spelled.push(out);
            i += skip;
            continue;
        }
        match c {
            'ヽ' => {
                if let Some(&p) = spelled.last() {
                    spelled.push(p);
                }
            }
            'ヾ' => {
                if let Some(&p) = spelled.last() {
                    spelled.push(voiced(p));
                }
            }
            _ => spelled.push(full_size(c)),
        }
        i += 1;
    }
    // Full-size kana may compose with a following voiced mark (ヶ + ゛ is ゲ): compose, then
    // spell alike what sounds alike.
    let spelled: Vec<char> = crate::text::into_nfc(spelled.into_iter().collect())
        .chars()
        .map(|c| if c == 'ヴ' { 'ブ' } else { same_sound(c) })
        .collect();
    let mut out = String::with_capacity(base.len());
    let mut last_vowel: Option<char> = None;
    let mut dropped = false;
    for c in spelled {
        if matches!(c, '\u{3099}' | '\u{309A}') {
            // A voiced mark left standing belongs to the character before it, kept or dropped.
            if !dropped {
                out.push(c);
            }
            continue;
        }
        dropped =
            (c == 'ー' && last_vowel.is_some()) || last_vowel.is_some_and(|v| lengthens(v, c));
        if dropped {
            continue;
        }
        last_vowel = vowel(c);
        out.push(c);
    }
    out
}

/// The voiced form of a kana (カ → ガ), for ヾ; unchanged when it has none.
fn voiced(c: char) -> char {
    const PLAIN: &str = "カキクケコサシスセソタチツテトハヒフヘホウ";
    const VOICED: &str = "ガギグゲゴザジズゼゾダヂヅデドバビブベボヴ";
    PLAIN.chars().zip(VOICED.chars()).find(|&(p, _)| p == c).map_or(c, |(_, v)| same_sound(v))
}
