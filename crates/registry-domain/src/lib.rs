//! The registry's domain: the values a municipal registry records about a resident, as types
//! that cannot hold an invalid value.
//!
//! Everything here is pure: no file, network, clock or environment access. The municipality
//! table is compiled in (`table.rs`, generated from `../shared/data/` by `tests/table.rs`).
//! Constructors and `FromStr` validate; `Display` gives the canonical form, and parsing the
//! canonical form gives the value back. Errors say what was wrong and what a valid value looks
//! like, and never repeat personal data (a name, an address, a birth date, a resident code or an
//! 個人番号); a municipality code, which is public, may be repeated.
//!
//! - [`MunicipalityCode`], [`PrefectureCode`]: 全国地方公共団体コード (JIS X 0402 with check digit).
//! - [`ResidentCode`] (住民票コード) and [`IndividualNumber`] (個人番号).
//! - [`Name`], [`PersonName`], [`NameReading`], [`FormerSurname`]: 氏名, its katakana reading
//!   and 旧氏; [`fold`] holds the matching keys (width, kana, old/new kanji, address notation).
//! - [`Date`] (Gregorian, with [`Wareki`] display), [`Sex`], [`Address`].
//! - [`ChangeReason`] (異動事由) and [`ReasonFamily`] (記載 / 消除 / 修正).
//! - [`IdentityRecord`] (本人確認情報), one numbered snapshot.
#![forbid(unsafe_code)]

mod address;
mod date;
mod digits;
pub mod fold;
mod individual_number;
mod municipality;
mod name;
mod reason;
mod record;
mod resident_code;
mod sex;
mod table;
mod text;
mod variants;

pub use address::{Address, AddressError};
pub use date::{Date, DateError, Era, Wareki, WarekiError};
pub use individual_number::{
    IndividualNumber, IndividualNumberError, individual_number_check_digit,
};
pub use municipality::{
    MunicipalityCode, MunicipalityCodeError, PrefectureCode, PrefectureCodeError, check_jis_x0402,
    jis_x0402_check_digit,
};
pub use name::{FormerSurname, Name, NameReading, NameReadingError, PersonName, PersonNameError};
pub use reason::{ChangeReason, ChangeReasonError, ReasonFamily};
pub use record::{
    ChangeInfo, HistoryNumber, HistoryNumberError, IdentityRecord, IdentityRecordParts,
    RecordStatus,
};
pub use resident_code::{ResidentCode, ResidentCodeError, resident_code_check_digit};
pub use sex::{Sex, SexError};
