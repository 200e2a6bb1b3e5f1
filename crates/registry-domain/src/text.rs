//! Shared cleaning of free text (names, addresses): trimmed, bounded, nothing invisible, and
//! otherwise exactly as registered.
//!
//! Text is not normalised: a family register keeps characters that Unicode normalisation would
//! merge (the CJK compatibility ideograph 神 U+FA19, which NFC turns into 神 U+795E), so the
//! record keeps the code points it was given, and only the matching keys normalise
//! ([`crate::fold`]). Text is trimmed of white space at both ends (ideographic space U+3000
//! included). It must then be non-empty, at most a given
//! number of characters, and free of control characters (line breaks, tabs, NUL) and of
//! invisible formatting characters (zero-width spaces and joiners, bidirectional overrides,
//! byte-order marks) that would let two records look identical while differing. Ideographic
//! variation selectors (U+E0100..U+E01EF, used for 異体字 such as 斉󠄃) are kept.

use unicode_normalization::{IsNormalized, UnicodeNormalization as _, is_nfc_quick};

/// An owned string in NFC, which is returned as it is when it already is NFC.
pub(crate) fn into_nfc(text: String) -> String {
    if is_nfc_quick(text.chars()) == IsNormalized::Yes { text } else { text.nfc().collect() }
}

/// Why a piece of text was refused. Never carries the text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextError {
    Empty,
    TooLong { chars: usize },
    Forbidden { position: usize, code_point: u32 },
}

/// True for characters never allowed in stored text.
pub(crate) fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}'                      // soft hyphen
            | '\u{061C}'                    // Arabic letter mark
            | '\u{180E}'                    // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}'       // zero-width space, joiners, LRM/RLM
            | '\u{2028}'..='\u{202E}'       // line/paragraph separators, bidi embeddings
            | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, bidi isolates
            | '\u{FEFF}'                    // byte-order mark
            | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation
            | '\u{FFFE}' | '\u{FFFF}'       // non-characters
        )
}

/// Trimmed, non-empty, at most `max_chars`, nothing forbidden; not normalised.
pub(crate) fn clean(input: &str, max_chars: usize) -> Result<String, TextError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    if let Some((i, c)) = text.chars().enumerate().find(|&(_, c)| is_forbidden(c)) {
        return Err(TextError::Forbidden { position: i + 1, code_point: c.into() });
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(TextError::TooLong { chars });
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean("  山田　太郎　", 10).as_deref(), Ok("山田　太郎"));
        // Stored as given: no normalisation, compatibility ideographs and decomposed kana kept.
        assert_eq!(clean("\u{3000}カ\u{3099}\u{3000}", 10).as_deref(), Ok("カ\u{3099}"));
        assert_eq!(clean("\u{FA19}田", 10).as_deref(), Ok("\u{FA19}田"));
        assert_eq!(clean(" \u{3000}\t", 10), Err(TextError::Empty));
        assert_eq!(clean("", 10), Err(TextError::Empty));
        assert_eq!(clean("あいう", 2), Err(TextError::TooLong { chars: 3 }));
        assert_eq!(
            clean("山田\n太郎", 10),
            Err(TextError::Forbidden { position: 3, code_point: 10 })
        );
        assert_eq!(
            clean("山\u{200B}田", 10),
            Err(TextError::Forbidden { position: 2, code_point: 0x200B })
        );
        assert_eq!(
            clean("a\u{202E}b", 10),
            Err(TextError::Forbidden { position: 2, code_point: 0x202E })
        );
        // An ideographic variation sequence stays as written.
        assert_eq!(clean("斉\u{E0103}藤", 10).as_deref(), Ok("斉\u{E0103}藤"));
    }
}
