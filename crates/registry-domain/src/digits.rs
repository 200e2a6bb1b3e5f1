//! Fixed-length strings of ASCII digits, the written form of every code in this crate.
//!
//! Codes are accepted only in their canonical form: exactly N ASCII digits, nothing around
//! them. Full-width digits (０-９), which a Japanese input method produces easily, are refused
//! with their own error so the caller can say so; a user interface that wants to accept them
//! folds its input with [`crate::fold::fold_width`] first. Keeping the parser strict means one
//! value has one spelling, which the signed change events rely on.

/// Why a string is not exactly N ASCII digits. Positions count characters from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigitsError {
    /// Some character is a full-width digit (U+FF10..U+FF19).
    FullWidth,
    /// The character at this position is not a digit at all.
    NotDigit(usize),
    /// All digits, but this many characters instead of N.
    Length(usize),
}

/// Parses exactly `N` ASCII digits into their values, most significant first.
pub(crate) fn parse<const N: usize>(s: &str) -> Result<[u8; N], DigitsError> {
    if s.chars().any(|c| ('０'..='９').contains(&c)) {
        return Err(DigitsError::FullWidth);
    }
    if let Some(position) = s.chars().position(|c| !c.is_ascii_digit()) {
        return Err(DigitsError::NotDigit(position + 1));
    }
    // Only ASCII digits remain, so bytes and characters coincide.
    let bytes = s.as_bytes();
    if bytes.len() != N {
        return Err(DigitsError::Length(bytes.len()));
    }
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = b - b'0';
    }
    Ok(out)
}

/// The digits of `value`, zero-padded to `N` places; `None` if it needs more than `N`.
pub(crate) fn of_number<const N: usize>(mut value: u64) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    for o in out.iter_mut().rev() {
        *o = (value % 10) as u8;
        value /= 10;
    }
    (value == 0).then_some(out)
}

/// The number written by `digits`.
pub(crate) fn to_number(digits: &[u8]) -> u64 {
    digits.iter().fold(0, |n, &d| n * 10 + u64::from(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_ascii_digits() {
        assert_eq!(parse::<3>("042"), Ok([0, 4, 2]));
        assert_eq!(parse::<3>("04"), Err(DigitsError::Length(2)));
        assert_eq!(parse::<3>("0421"), Err(DigitsError::Length(4)));
        assert_eq!(parse::<3>(""), Err(DigitsError::Length(0)));
        assert_eq!(parse::<3>("0a2"), Err(DigitsError::NotDigit(2)));
        assert_eq!(parse::<3>(" 042"), Err(DigitsError::NotDigit(1)));
        assert_eq!(parse::<3>("042\n"), Err(DigitsError::NotDigit(4)));
        assert_eq!(parse::<3>("０42"), Err(DigitsError::FullWidth));
        assert_eq!(parse::<3>("٠٤٢"), Err(DigitsError::NotDigit(1)), "Arabic-Indic digits");
        assert_eq!(parse::<3>("+42"), Err(DigitsError::NotDigit(1)));
    }

    #[test]
    fn number_round_trip() {
        assert_eq!(of_number::<4>(42), Some([0, 0, 4, 2]));
        assert_eq!(of_number::<4>(9999), Some([9, 9, 9, 9]));
        assert_eq!(of_number::<4>(10_000), None);
        assert_eq!(to_number(&[0, 0, 4, 2]), 42);
    }
}
