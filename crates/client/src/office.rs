//! The clients of a town's office API: a console ([`Console`], no operator key: events signed
//! elsewhere, such as the admin's offline enrolments, and the approval queue) and an operator at
//! it ([`Clerk`]). A clerk holds one operator's key — never two — signs
//! each change at the "counter" and sends it to the town's node through the console's
//! certificate. The node never sees an operator key. Every read — a lookup, a search, a copy —
//! is a read request (`wire::read`) the clerk signs with that key, which the node checks and
//! keeps in the provision record naming the clerk. A sensitive change is proposed by one
//! operator and approved by a second person from their own session (the node's approval queue),
//! so no process ever holds two people's keys. Every answer is decoded into its `wire` type; a
//! refusal is a [`crate::Refused`] carrying the node's error body.

use anyhow::Result;
use registry_core::event::{Change, Event};
use registry_core::time::Timestamp;
use registry_domain::{IdentityRecordParts, MunicipalityCode, ResidentCode};
use tlog::note::{Note, Signer};

use registry_core::evidence::{self, TownTrust};
use wire::api::{
    CopyRequest, Disclosure, DisclosureRequest, FreshCode, PendingChange, Proposed, ProvenRecord,
    RecordJson, Status, Submitted,
};
use wire::documents::{CopyFile, VerifiedCopy, verify_copy};
use wire::read::{ReadKind, ReadRequest};
use wire::trust::TownKeys;

use wire::errors::Code;

use crate::{Refused, call_get, call_post};

/// A town office's console: its certificate and the town's office API, and no operator key.
/// What needs no operator's signature goes through it alone: an event signed elsewhere — an
/// enrolment or a revocation the admin signed offline, a change an operator signed — and the
/// approval queue. An operator at the console is a [`Clerk`].
pub struct Console {
    /// The town.
    pub code: MunicipalityCode,
    url: String,
    client: net::Client,
}

impl Console {
    /// The console of town `code` whose TLS files are `files`, calling the office API at `url`
    /// (`https://host:port`).
    pub fn new(code: MunicipalityCode, url: &str, files: &net::TlsFiles) -> Result<Console> {
        Ok(Console {
            code,
            url: url.trim_end_matches('/').to_owned(),
            client: net::Client::new(files)?,
        })
    }

    fn identity(&self) -> String {
        format!("urn:juki:municipal:{}", self.code)
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> Result<net::Answer> {
        let url = format!("{}{path}", self.url);
        call_post(&self.client, &url, body, Some(self.identity().as_str())).await
    }

    async fn get(&self, path: &str) -> Result<net::Answer> {
        let url = format!("{}{path}", self.url);
        call_get(&self.client, &url, Some(self.identity().as_str())).await
    }

    /// Submits an event exactly as it was signed: an enrolment or a revocation signed offline
    /// with the town's admin key (the admin key is never on the node), or a change.
    pub async fn submit_signed(&self, note: Vec<u8>) -> Result<Submitted> {
        let response = self.post("/v1/events", note).await?;
        if !response.status.is_success() {
            return Err(Refused::of(format!("{} refused the event", self.code), &response).into());
        }
        Ok(serde_json::from_slice(&response.body)?)
    }

    /// Proposes a sensitive change signed by one operator: it waits in the town's approval
    /// queue for a second person. Returns its number there.
    pub async fn propose_signed(&self, note: Vec<u8>) -> Result<u64> {
        let response = self.post("/v1/pending", note).await?;
        if !response.status.is_success() {
            return Err(
                Refused::of(format!("{} refused the proposal", self.code), &response).into()
            );
        }
        let proposed: Proposed = serde_json::from_slice(&response.body)?;
        Ok(proposed.id)
    }

    /// The changes waiting for approval.
    pub async fn pending(&self) -> Result<Vec<PendingChange>> {
        let response = self.get("/v1/pending").await?;
        if !response.status.is_success() {
            return Err(Refused::of("the approval queue", &response).into());
        }
        Ok(serde_json::from_slice(&response.body)?)
    }

    /// The operator holding `operator` — the one key in this process — approves proposal
    /// `id` after `review` accepted the change it proposes: signs exactly the proposed text
    /// and submits the change with both signatures.
    pub async fn approve(
        &self,
        operator: &Signer,
        id: u64,
        review: impl FnOnce(&Change) -> Result<()>,
    ) -> Result<Submitted> {
        let proposal = self
            .pending()
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| anyhow::anyhow!("no change {id} waits for approval"))?;
        let mut note = Note::parse(proposal.note.as_bytes())?;
        let Event::Change(change) = Event::parse(note.text())? else {
            anyhow::bail!("proposal {id} is not a change");
        };
        review(&change)?;
        note.sign(operator)?;
        let response = self.post(&format!("/v1/pending/{id}/approve"), note.to_bytes()).await?;
        if !response.status.is_success() {
            return Err(
                Refused::of(format!("{} refused the approval", self.code), &response).into()
            );
        }
        Ok(serde_json::from_slice(&response.body)?)
    }
}

/// One operator of a town office (a clerk or a supervisor) at a console, holding that
/// operator's key alone.
pub struct Clerk {
    /// The town.
    pub code: MunicipalityCode,
    console: Console,
    operator: Signer,
    /// The towns whose records this console may receive (its own, and those of wide-area
    /// copies), as the network registered them: every answer's evidence is checked with these.
    towns: Vec<TownTrust>,
}

impl Clerk {
    /// The operator `operator` of town `code` at a console whose TLS files are `files`,
    /// calling the office API at `url` (`https://host:port`), and checking records with the
    /// registrations `towns` (which must include the console's own town).
    pub fn new(
        code: MunicipalityCode,
        url: &str,
        files: &net::TlsFiles,
        operator: Signer,
        towns: &[TownKeys],
    ) -> Result<Clerk> {
        let towns = towns.iter().map(TownKeys::trust).collect::<Result<Vec<_>, _>>()?;
        anyhow::ensure!(
            towns.iter().any(|t| t.municipality == code),
            "the registration of town {code} itself is missing: its records cannot be checked"
        );
        Ok(Clerk { code, console: Console::new(code, url, files)?, operator, towns })
    }

    /// The registration of `town`, with which its records are checked.
    fn trust(&self, town: MunicipalityCode) -> Result<&TownTrust> {
        self.towns
            .iter()
            .find(|t| t.municipality == town)
            .ok_or_else(|| anyhow::anyhow!("town {town} is not registered with this console"))
    }

    /// Signs a change that one operator may make and submits it.
    pub async fn submit(&self, change: Change) -> Result<Submitted> {
        anyhow::ensure!(
            !change.reason().needs_two_operators(),
            "{} needs a second person's approval: propose it",
            change.reason().code()
        );
        self.submit_note(self.sign(change)?).await
    }

    fn sign(&self, change: Change) -> Result<Vec<u8>> {
        let mut note = Note::new(Event::Change(change).to_text())?;
        note.sign(&self.operator)?;
        Ok(note.to_bytes())
    }

    /// Signs a sensitive change and proposes it: it waits in the town's approval queue for a
    /// second person. Returns its number there.
    pub async fn propose(&self, change: Change) -> Result<u64> {
        self.console.propose_signed(self.sign(change)?).await
    }

    /// The changes waiting for approval.
    pub async fn pending(&self) -> Result<Vec<PendingChange>> {
        self.console.pending().await
    }

    /// Approves proposal `id` after `review` accepted the change it proposes: signs exactly the
    /// proposed text and submits the change with both signatures.
    pub async fn approve(
        &self,
        id: u64,
        review: impl FnOnce(&Change) -> Result<()>,
    ) -> Result<Submitted> {
        self.console.approve(&self.operator, id, review).await
    }

    /// Submits an already signed event.
    pub async fn submit_note(&self, note: Vec<u8>) -> Result<Submitted> {
        self.console.submit_signed(note).await
    }

    /// A fresh resident code from the town's pool.
    pub async fn fresh_code(&self) -> Result<ResidentCode> {
        let response = self.console.post("/v1/codes", Vec::new()).await?;
        if !response.status.is_success() {
            return Err(Refused::of(format!("{} gave no code", self.code), &response).into());
        }
        let fresh: FreshCode = serde_json::from_slice(&response.body)?;
        Ok(ResidentCode::parse(&fresh.code)?)
    }

    /// A read request of `kind` by this clerk for `purpose`, stamped now with a fresh random
    /// nonce; the caller names what is read (the resident, the keeper, the search).
    pub fn read_request(&self, kind: ReadKind, purpose: &str) -> Result<ReadRequest> {
        let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
        Ok(ReadRequest {
            town: self.code,
            operator: self.operator.verifier(),
            kind,
            resident: None,
            keeper: None,
            text: None,
            birth: None,
            limit: None,
            purpose: purpose.to_owned(),
            time,
            nonce: read_nonce()?,
        })
    }

    /// Signs a read request with this clerk's operator key: the signed note's bytes.
    pub fn sign_read(&self, request: &ReadRequest) -> Result<Vec<u8>> {
        Ok(request.sign(&self.operator)?)
    }

    /// Looks a resident up (a provision recorded by the node, naming this clerk) with a read
    /// request signed now.
    pub async fn lookup(&self, code: ResidentCode, purpose: &str) -> Result<RecordJson> {
        Ok(RecordJson::of(&self.lookup_record(code, purpose).await?))
    }

    /// [`Clerk::lookup`], answering the whole record its evidence proves.
    pub async fn lookup_record(
        &self,
        code: ResidentCode,
        purpose: &str,
    ) -> Result<IdentityRecordParts> {
        let mut request = self.read_request(ReadKind::Lookup, purpose)?;
        request.resident = Some(code);
        self.lookup_signed(code, self.sign_read(&request)?).await
    }

    /// Looks a resident up with a read request signed already (`note`, sent exactly as it is),
    /// checking the answer's evidence against the town's registration: the record it proves.
    pub async fn lookup_signed(
        &self,
        code: ResidentCode,
        note: Vec<u8>,
    ) -> Result<IdentityRecordParts> {
        let response = self.console.post(&format!("/v1/residents/{code}"), note).await?;
        let what = format!("lookup of {code}");
        if !response.status.is_success() {
            return Err(Refused::of(what, &response).into());
        }
        let answer: ProvenRecord = serde_json::from_slice(&response.body)?;
        self.check(code, answer, &what)
    }

    /// Checks that `answer` is the record of `code` its evidence proves in this town's log;
    /// returns that record.
    fn check(
        &self,
        code: ResidentCode,
        answer: ProvenRecord,
        what: &str,
    ) -> Result<IdentityRecordParts> {
        let trust = self.trust(self.code)?;
        let proven = evidence::parse(&answer.evidence)
            .and_then(|receipts| evidence::verify(&receipts, trust))
            .map_err(|e| Refused::bad_evidence(what.to_owned(), e))?;
        if proven.change.record.resident_code != code
            || RecordJson::of(&proven.change.record) != answer.record
        {
            return Err(Refused::bad_evidence(
                what.to_owned(),
                "the record is not the one its evidence proves",
            )
            .into());
        }
        Ok(proven.change.record)
    }

    /// Searches the town's residents by a name or reading (or its beginning) and/or a date of
    /// birth, at most `limit` (1 to 100) of them, with a read request signed now: every
    /// resident found is a provision recorded by the node, naming this clerk, and every record
    /// is checked against its evidence.
    pub async fn search(
        &self,
        text: Option<&str>,
        birth: Option<registry_domain::Date>,
        limit: u32,
        purpose: &str,
    ) -> Result<Vec<IdentityRecordParts>> {
        let mut request = self.read_request(ReadKind::Search, purpose)?;
        request.text = text.map(str::to_owned);
        request.birth = birth;
        request.limit = Some(limit);
        let response = self.console.post("/v1/searches", self.sign_read(&request)?).await?;
        let what = "search".to_owned();
        if !response.status.is_success() {
            return Err(Refused::of(what, &response).into());
        }
        let found: Vec<ProvenRecord> = serde_json::from_slice(&response.body)?;
        anyhow::ensure!(found.len() <= limit as usize, "the search answered more than its limit");
        found
            .into_iter()
            .map(|answer| {
                let code = ResidentCode::parse(&answer.record.resident)
                    .map_err(|e| Refused::bad_evidence(what.clone(), e))?;
                self.check(code, answer, &what)
            })
            .collect()
    }

    /// A certificate copy (住民票の写し), of this town's resident or, with `keeper`, another's,
    /// with a read request signed now, checked against the keeping town's registration before
    /// it is returned.
    pub async fn copy(
        &self,
        code: ResidentCode,
        keeper: Option<&str>,
        purpose: &str,
    ) -> Result<(CopyFile, VerifiedCopy)> {
        let keeper = keeper.map(MunicipalityCode::parse).transpose()?.filter(|k| *k != self.code);
        let mut request = self.read_request(ReadKind::Copy, purpose)?;
        request.resident = Some(code);
        request.keeper = keeper;
        self.copy_signed(code, keeper, self.sign_read(&request)?).await
    }

    /// [`Clerk::copy`] with a read request signed already (`note`, sent exactly as it is).
    pub async fn copy_signed(
        &self,
        code: ResidentCode,
        keeper: Option<MunicipalityCode>,
        note: Vec<u8>,
    ) -> Result<(CopyFile, VerifiedCopy)> {
        let trust = self.trust(keeper.unwrap_or(self.code))?;
        let request = CopyRequest { request: String::from_utf8(note)? };
        let response = self.console.post("/v1/copies", serde_json::to_vec(&request)?).await?;
        let what = format!("copy of {code}");
        if !response.status.is_success() {
            return Err(Refused::of(what, &response).into());
        }
        let file: CopyFile = serde_json::from_slice(&response.body)?;
        let verified =
            verify_copy(&file, trust).map_err(|e| Refused::bad_evidence(what.clone(), e))?;
        if verified.record.resident_code != code {
            return Err(Refused::bad_evidence(what, "the copy is of another resident").into());
        }
        Ok((file, verified))
    }

    /// The move-out certificate for a resident moving in from `from`, from the national node.
    pub async fn move_out_certificate(
        &self,
        code: ResidentCode,
        from: &str,
    ) -> Result<Option<String>> {
        let response = self.console.get(&format!("/v1/move-outs/{code}?from={from}")).await?;
        if !response.status.is_success() {
            let refused = Refused::of(format!("move-out certificate of {code}"), &response);
            if refused.code() == Some(Code::NoMoveOut) {
                return Ok(None);
            }
            return Err(refused.into());
        }
        Ok(Some(response.text()))
    }

    /// The national signer's activation certificate for `code` to become active here (signed
    /// note text), or `None` while it cannot be issued yet — a certified move-out of the
    /// resident is being withdrawn where it would have been used: ask again. Any other refusal
    /// (the code active in another town: `still-active`) is an error.
    pub async fn activation(&self, code: ResidentCode) -> Result<Option<String>> {
        let response = self.console.post(&format!("/v1/activations/{code}"), Vec::new()).await?;
        if !response.status.is_success() {
            let refused = Refused::of(format!("activation certificate of {code}"), &response);
            if refused.code() == Some(Code::NotYetProven) {
                return Ok(None);
            }
            return Err(refused.into());
        }
        Ok(Some(response.text()))
    }

    /// The node's status.
    pub async fn status(&self) -> Result<Status> {
        let response = self.console.get("/v1/status").await?;
        if !response.status.is_success() {
            return Err(Refused::of("status", &response).into());
        }
        Ok(serde_json::from_slice(&response.body)?)
    }

    /// A resident's disclosure for the period `[from, to)` (POSIX seconds): the record, its
    /// evidence checked against the town's registration, and each node's provisions with their
    /// receipts (checked by the caller against each node's provision log, whose keys the
    /// network registers: `wire::api::ProvisionsDisclosed`).
    pub async fn disclose(&self, code: ResidentCode, from: u64, to: u64) -> Result<Disclosure> {
        let mut read =
            self.read_request(ReadKind::Disclosure, "開示 (the resident's own disclosure)")?;
        read.resident = Some(code);
        let signed = String::from_utf8(self.sign_read(&read)?)?;
        let request =
            DisclosureRequest { resident: code.to_string(), from, to, request: Some(signed) };
        let response = self.console.post("/v1/disclosures", serde_json::to_vec(&request)?).await?;
        let what = format!("disclosure of {code}");
        if !response.status.is_success() {
            return Err(Refused::of(what, &response).into());
        }
        let answer: Disclosure = serde_json::from_slice(&response.body)?;
        let trust = self.trust(self.code)?;
        let proven = evidence::parse(&answer.record.evidence)
            .and_then(|receipts| evidence::verify(&receipts, trust))
            .map_err(|e| Refused::bad_evidence(what.clone(), e))?;
        if proven.change.record.resident_code != code
            || RecordJson::of(&proven.change.record) != answer.record.record
        {
            return Err(Refused::bad_evidence(
                what,
                "the record is not the one its evidence proves",
            )
            .into());
        }
        Ok(answer)
    }
}

/// A fresh read-request nonce: 16 bytes from the system's random generator, in lower-case hex.
pub fn read_nonce() -> Result<String> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no random nonce: {e}"))?;
    Ok(nonce.iter().map(|b| format!("{b:02x}")).collect())
}

/// A change recording `record` in `town`, stamped `time`.
pub fn change(town: MunicipalityCode, record: IdentityRecordParts, time: Timestamp) -> Change {
    Change {
        municipality: town,
        record,
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time,
    }
}
