//! 本人確認情報 (identity information): one numbered snapshot of a resident's record.
//!
//! A record holds the items DESIGN §4 lists — 氏名 (reading, 旧氏), 生年月日, 性別, 住所,
//! 住民票コード, optional 個人番号 — with 変更情報 (the reason and date of the latest change),
//! the history number of this snapshot (履歴番号: 1 for the first, one more for each change; the
//! standard keeps a full snapshot per change, `reference/jukinet.md` §9.3) and whether the record
//! is active or closed. It enforces nothing beyond its field types: which changes are allowed
//! from which state is decided by the registry's state machine.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use crate::address::Address;
use crate::date::Date;
use crate::individual_number::IndividualNumber;
use crate::name::Name;
use crate::reason::ChangeReason;
use crate::resident_code::ResidentCode;
use crate::sex::Sex;

/// A snapshot's 履歴番号: 1 for the first, never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HistoryNumber(NonZeroU32);

/// Why a value is not a history number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a history number (履歴番号) is a whole number from 1 to 4294967295, written without leading zeros"
)]
pub struct HistoryNumberError;

impl HistoryNumber {
    /// The first snapshot's number, 1.
    pub const FIRST: HistoryNumber = HistoryNumber(NonZeroU32::MIN);

    /// The number `n`, if it is at least 1.
    pub fn new(n: u32) -> Result<Self, HistoryNumberError> {
        NonZeroU32::new(n).map(Self).ok_or(HistoryNumberError)
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// The next snapshot's number; `None` after u32::MAX changes.
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

impl fmt::Display for HistoryNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for HistoryNumber {
    type Err = HistoryNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HistoryNumberError);
        }
        s.parse::<u32>().map_err(|_| HistoryNumberError).and_then(Self::new)
    }
}

/// 変更情報: the reason for the latest change and the date it took effect (異動年月日).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChangeInfo {
    reason: ChangeReason,
    date: Date,
}

impl ChangeInfo {
    /// A change for `reason` effective on `date`.
    pub fn new(reason: ChangeReason, date: Date) -> Self {
        Self { reason, date }
    }

    /// The reason (異動事由).
    pub fn reason(self) -> ChangeReason {
        self.reason
    }

    /// The effective date (異動年月日).
    pub fn date(self) -> Date {
        self.date
    }
}

/// Whether the person is a resident of the town.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordStatus {
    /// The record is current (住民).
    Active,
    /// The record was closed (除票) for this reason, e.g. move-out or death.
    Closed {
        /// The reason that closed it.
        reason: ChangeReason,
    },
}

/// The fields of an [`IdentityRecord`], for building one or deriving the next snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdentityRecordParts {
    /// 住民票コード.
    pub resident_code: ResidentCode,
    /// 氏名 with reading and 旧氏.
    pub name: Name,
    /// 生年月日.
    pub birth_date: Date,
    /// 性別.
    pub sex: Sex,
    /// 住所.
    pub address: Address,
    /// 個人番号, where recorded.
    pub individual_number: Option<IndividualNumber>,
    /// 変更情報: the latest change.
    pub latest_change: ChangeInfo,
    /// This snapshot's 履歴番号.
    pub history_number: HistoryNumber,
    /// Active or closed.
    pub status: RecordStatus,
}

impl IdentityRecordParts {
    /// The snapshot after this one for a change of `reason` effective on `effective`, with the
    /// identity fields unchanged: the next 履歴番号, and closed when `reason` is a 消除.
    /// `None` once the record's history is full.
    pub fn next_snapshot(&self, reason: ChangeReason, effective: Date) -> Option<Self> {
        let mut next = self.clone();
        next.latest_change = ChangeInfo::new(reason, effective);
        next.history_number = self.history_number.next()?;
        next.status = if reason.family() == crate::reason::ReasonFamily::Deletion {
            RecordStatus::Closed { reason }
        } else {
            RecordStatus::Active
        };
        Some(next)
    }
}

/// 本人確認情報: one snapshot of a resident's identity record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdentityRecord {
    parts: IdentityRecordParts,
}

impl IdentityRecord {
    /// A record with these fields.
    pub fn new(parts: IdentityRecordParts) -> Self {
        Self { parts }
    }

    /// The fields, to derive the next snapshot from.
    pub fn into_parts(self) -> IdentityRecordParts {
        self.parts
    }

    /// All fields at once.
    pub fn parts(&self) -> &IdentityRecordParts {
        &self.parts
    }

    /// 住民票コード.
    pub fn resident_code(&self) -> ResidentCode {
        self.parts.resident_code
    }

    /// 氏名 with reading and 旧氏.
    pub fn name(&self) -> &Name {
        &self.parts.name
    }

    /// 生年月日.
    pub fn birth_date(&self) -> Date {
        self.parts.birth_date
    }

    /// 性別.
    pub fn sex(&self) -> Sex {
        self.parts.sex
    }

    /// 住所.
    pub fn address(&self) -> &Address {
        &self.parts.address
    }

    /// 個人番号, where recorded.
    pub fn individual_number(&self) -> Option<IndividualNumber> {
        self.parts.individual_number
    }

    /// 変更情報: the latest change.
    pub fn latest_change(&self) -> ChangeInfo {
        self.parts.latest_change
    }

    /// This snapshot's 履歴番号.
    pub fn history_number(&self) -> HistoryNumber {
        self.parts.history_number
    }

    /// Active or closed.
    pub fn status(&self) -> RecordStatus {
        self.parts.status
    }

    /// Whether the record is active.
    pub fn is_active(&self) -> bool {
        self.parts.status == RecordStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::{NameReading, PersonName};

    fn record() -> IdentityRecord {
        let achi = "204072".parse().unwrap();
        IdentityRecord::new(IdentityRecordParts {
            resident_code: ResidentCode::from_ten_digits(1_234_567_890).unwrap(),
            name: Name::new(
                PersonName::new("阿智　花子").unwrap(),
                NameReading::new("アチ ハナコ").unwrap(),
                None,
            ),
            birth_date: "2024-04-01".parse().unwrap(),
            sex: Sex::Female,
            address: Address::new(achi, "大字智里3-1").unwrap(),
            individual_number: None,
            latest_change: ChangeInfo::new(ChangeReason::Birth, "2024-04-01".parse().unwrap()),
            history_number: HistoryNumber::FIRST,
            status: RecordStatus::Active,
        })
    }

    #[test]
    fn accessors() {
        let r = record();
        assert_eq!(r.resident_code().to_string(), "12345678903");
        assert_eq!(r.name().reading().as_str(), "アチ　ハナコ");
        assert_eq!(r.birth_date().wareki().unwrap().to_string(), "令和6年4月1日");
        assert_eq!(r.sex(), Sex::Female);
        assert_eq!(r.address().municipality().name(), "阿智村");
        assert_eq!(r.individual_number(), None);
        assert_eq!(r.latest_change().reason(), ChangeReason::Birth);
        assert_eq!(r.history_number().get(), 1);
        assert!(r.is_active());
        assert_eq!(r.parts().sex, Sex::Female);
    }

    #[test]
    fn next_snapshot() {
        let first = record();
        let mut parts = first.clone().into_parts();
        parts.latest_change = ChangeInfo::new(ChangeReason::Death, "2090-01-01".parse().unwrap());
        parts.history_number = parts.history_number.next().unwrap();
        parts.status = RecordStatus::Closed { reason: ChangeReason::Death };
        let second = IdentityRecord::new(parts);
        assert_eq!(second.history_number().get(), 2);
        assert!(!second.is_active());
        assert_eq!(second.status(), RecordStatus::Closed { reason: ChangeReason::Death });
        assert_ne!(first, second);
    }

    #[test]
    fn history_numbers() {
        assert_eq!(HistoryNumber::new(0), Err(HistoryNumberError));
        assert_eq!(HistoryNumber::FIRST.get(), 1);
        assert_eq!(HistoryNumber::new(u32::MAX).unwrap().next(), None);
        assert_eq!("42".parse::<HistoryNumber>().map(HistoryNumber::get), Ok(42));
        assert_eq!(HistoryNumber::new(7).unwrap().to_string(), "7");
        for bad in ["", "0", "01", "-1", "+1", "4294967296", "1 ", "１"] {
            assert_eq!(bad.parse::<HistoryNumber>(), Err(HistoryNumberError), "{bad:?}");
        }
    }
}
