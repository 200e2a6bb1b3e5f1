//! A clerk's client over the network: it holds the operator keys, signs each change at the
//! "counter" and sends it to the town's office API through the console's certificate. The node
//! never sees an operator key.

use anyhow::{Context as _, Result, bail};
use registry_core::event::{Change, Event};
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, HistoryNumber, IdentityRecordParts, MunicipalityCode,
    Name, NameReading, PersonName, RecordStatus, ResidentCode, Sex,
};
use tlog::note::{Note, Signer};

use super::setup::{Network, TownOperators};
use crate::node::documents::RecordJson;

/// A town office's clerk and supervisor at one console.
pub struct Clerk {
    /// The town.
    pub code: MunicipalityCode,
    url: String,
    client: net::Client,
    clerk: Signer,
    supervisor: Signer,
}

/// The node's answer to a submitted event.
#[derive(serde::Deserialize, Debug)]
pub struct Submitted {
    /// Its index in the registry log.
    pub index: u64,
}

impl Clerk {
    /// The clerks of `code` in `network`.
    pub fn new(network: &Network, code: &str) -> Result<Clerk> {
        let town: &TownOperators = network.town(code)?;
        let node = network
            .nodes
            .iter()
            .find(|n| n.code.as_deref() == Some(code))
            .context("no such town node")?;
        let files = net::TlsFiles {
            cert: town.console.cert.clone(),
            key: town.console.key.clone(),
            ca: network.ca.clone(),
            crl: Some(network.ca_dir.join("crl.pem")),
        };
        Ok(Clerk {
            code: MunicipalityCode::parse(code)?,
            url: node.api_url.clone(),
            client: net::Client::new(&files)?,
            clerk: crate::key::load_signer(&town.clerk_key, None)?,
            supervisor: crate::key::load_signer(&town.supervisor_key, None)?,
        })
    }

    fn identity(&self) -> String {
        format!("urn:juki:municipal:{}", self.code)
    }

    /// Signs a change (with the supervisor's approval when the reason needs two operators) and
    /// submits it.
    pub async fn submit(&self, change: Change) -> Result<Submitted> {
        let two = change.reason().needs_two_operators();
        let mut note = Note::new(Event::Change(change).to_text())?;
        note.sign(&self.clerk)?;
        if two {
            note.sign(&self.supervisor)?;
        }
        self.submit_note(note.to_bytes()).await
    }

    /// Submits an already signed event.
    pub async fn submit_note(&self, note: Vec<u8>) -> Result<Submitted> {
        let response = crate::node::post(
            &self.client,
            &format!("{}/v1/events", self.url),
            note,
            Some(self.identity().as_str()),
        )
        .await?;
        if !response.status.is_success() {
            bail!("{} refused the change: {}", self.code, response.text().trim());
        }
        Ok(serde_json::from_slice(&response.body)?)
    }

    /// A fresh resident code from the town's pool.
    pub async fn fresh_code(&self) -> Result<ResidentCode> {
        let response = crate::node::post(
            &self.client,
            &format!("{}/v1/codes", self.url),
            Vec::new(),
            Some(self.identity().as_str()),
        )
        .await?;
        if !response.status.is_success() {
            bail!("{} gave no code: {}", self.code, response.text().trim());
        }
        Ok(ResidentCode::parse(response.text().trim())?)
    }

    /// Looks a resident up (a logged provision).
    pub async fn lookup(&self, code: ResidentCode, purpose: &str) -> Result<RecordJson> {
        let response = crate::node::get(
            &self.client,
            &format!("{}/v1/residents/{code}?purpose={}", self.url, encode(purpose)),
            Some(self.identity().as_str()),
        )
        .await?;
        if !response.status.is_success() {
            bail!("lookup of {code}: {}", response.text().trim());
        }
        Ok(serde_json::from_slice(&response.body)?)
    }

    /// A certificate copy (住民票の写し), of this town's resident or, with `keeper`, another's.
    pub async fn copy(
        &self,
        code: ResidentCode,
        keeper: Option<&str>,
        purpose: &str,
    ) -> Result<String> {
        let request = crate::node::municipal::CopyRequest {
            resident: code.to_string(),
            municipality: keeper.map(str::to_owned),
            purpose: purpose.to_owned(),
            requested_by: None,
        };
        let response = crate::node::post(
            &self.client,
            &format!("{}/v1/copies", self.url),
            serde_json::to_vec(&request)?,
            Some(self.identity().as_str()),
        )
        .await?;
        if !response.status.is_success() {
            bail!("copy of {code}: {}", response.text().trim());
        }
        Ok(response.text())
    }

    /// The move-out certificate for a resident moving in from `from`, from the national node.
    pub async fn move_out_certificate(
        &self,
        code: ResidentCode,
        from: &str,
    ) -> Result<Option<String>> {
        let response = crate::node::get(
            &self.client,
            &format!("{}/v1/move-outs/{code}?from={from}", self.url),
            Some(self.identity().as_str()),
        )
        .await?;
        if response.status == axum::http::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status.is_success() {
            bail!("move-out certificate of {code}: {}", response.text().trim());
        }
        Ok(Some(response.text()))
    }

    /// The node's status.
    pub async fn status(&self) -> Result<crate::node::municipal::Status> {
        let response = crate::node::get(
            &self.client,
            &format!("{}/v1/status", self.url),
            Some(self.identity().as_str()),
        )
        .await?;
        if !response.status.is_success() {
            bail!("status: {}", response.text().trim());
        }
        Ok(serde_json::from_slice(&response.body)?)
    }
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Today by the clock (UTC), as a date.
pub fn today() -> Result<Date> {
    Ok(Date::parse(&crate::node::timestamp_now().date_text())?)
}

const KANA: [&str; 20] = [
    "ア", "イ", "ウ", "エ", "オ", "カ", "キ", "ク", "ケ", "コ", "サ", "シ", "ス", "セ", "ソ", "タ",
    "チ", "ツ", "テ", "ト",
];
const KANJI: [&str; 20] = [
    "山", "田", "川", "中", "村", "木", "林", "森", "本", "井", "石", "松", "竹", "原", "野", "上",
    "下", "小", "大", "高",
];

/// A synthetic resident's record: name, reading, birth date and sex from a number.
pub fn synthetic(
    code: ResidentCode,
    town: MunicipalityCode,
    i: u64,
    reason: ChangeReason,
    date: Option<Date>,
) -> Result<IdentityRecordParts> {
    let d = |k: u32| (i / 20u64.pow(k) % 20) as usize;
    let reading = format!(
        "{}{}{}\u{3000}{}{}{}",
        KANA[d(0)],
        KANA[d(1)],
        KANA[d(2)],
        KANA[d(3)],
        KANA[d(4)],
        KANA[(d(0) + d(5)) % 20]
    );
    let name = format!("{}{} {}{}", KANJI[d(0)], KANJI[d(1)], KANJI[d(2)], KANJI[d(3)]);
    let born = Date::new(1935 + (i % 88) as u16, 1 + (i % 12) as u8, 1 + (i % 28) as u8)?;
    Ok(IdentityRecordParts {
        resident_code: code,
        name: Name::new(PersonName::new(&name)?, NameReading::new(&reading)?, None),
        birth_date: born,
        sex: Sex::from_code(1 + (i % 2) as u8)?,
        address: Address::new(town, &format!("{}番地{}", 1 + i % 3000, 1 + i % 7))?,
        individual_number: None,
        latest_change: ChangeInfo::new(reason, date.unwrap_or(born)),
        history_number: HistoryNumber::new(1)?,
        status: RecordStatus::Active,
    })
}

/// A change recording `record` in `town`.
pub fn change(town: MunicipalityCode, record: IdentityRecordParts) -> Change {
    Change {
        municipality: town,
        record,
        previous_code: None,
        moved_to: None,
        move_out: None,
        time: crate::node::timestamp_now(),
    }
}

/// The next snapshot of `current` for a change of `reason` on `date` (as the local CLI makes it).
pub use crate::resident::next_snapshot as next;
