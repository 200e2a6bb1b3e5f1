//! The municipal registry through the `juki` command, as a town hall would use it: real
//! processes on real files. A day in 阿智村 from `juki init municipal` to a clean `juki registry
//! verify`; every refusal with a clear error that records nothing; edits to the SQLite file
//! behind the log's back, each named by `juki registry verify`; and `juki code check`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use registry_domain::ResidentCode;
use registry_store::Registry;

/// The clerk Tanaka's passphrase (her key is sealed). Passphrases that seal keys must pass
/// the passphrase policy: none names its key (`tanaka`, `admin`, …).
const TANAKA_PASSPHRASE: &str = "plum blossom at the counter";
/// The supervisor Suzuki's passphrase (his key is sealed; he approves).
const SUZUKI_PASSPHRASE: &str = "river stone second signature";
/// The admin key's passphrase.
const ADMIN_PASSPHRASE: &str = "offline stick in the mountain safe";

fn juki() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_juki"));
    command
        .env_remove("JUKI_PASSPHRASE")
        .env("ADMIN_PASSPHRASE", ADMIN_PASSPHRASE)
        .env("TANAKA_PASSPHRASE", TANAKA_PASSPHRASE)
        .env("SUZUKI_PASSPHRASE", SUZUKI_PASSPHRASE);
    command
}

/// Runs juki as the holder of the one operator key it is given (`--key`) runs it in their own
/// session: with that key's passphrase, and no other, in JUKI_PASSPHRASE.
fn run(args: &[&str]) -> Output {
    let key = args.iter().position(|a| *a == "--key").and_then(|i| args.get(i + 1));
    let passphrase = match key {
        Some(key) if key.ends_with("/suzuki.key") => SUZUKI_PASSPHRASE,
        _ => TANAKA_PASSPHRASE,
    };
    juki().args(args).env("JUKI_PASSPHRASE", passphrase).output().expect("running juki")
}

/// Runs juki, requires success and returns stdout.
fn ok(args: &[&str]) -> String {
    let output = run(args);
    assert!(
        output.status.success(),
        "juki {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// Runs juki, requires failure, and returns stdout and stderr together.
fn fails(args: &[&str]) -> String {
    failure(args, &run(args))
}

/// Requires that `output` (of `juki args`) is a failure with an error message and no panic;
/// returns stdout and stderr together.
fn failure(args: &[&str], output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "juki {args:?} should have failed:\n{stdout}");
    assert!(stderr.contains("error: "), "an error says so: {stderr}");
    assert!(!stderr.contains("panicked"), "no panics: {stderr}");
    format!("{stdout}{stderr}")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The value of the `key value` line starting with `key`.
fn field(output: &str, key: &str) -> String {
    output
        .lines()
        .find_map(|line| line.strip_prefix(key).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {key:?} line in {output}"))
        .to_owned()
}

/// A town's registry with its keys, its code pool and three operators.
struct Town {
    tmp: tempfile::TempDir,
    code: &'static str,
    node_vkey: String,
    /// The national key file this registry trusts (its own, or another town's).
    national_key: PathBuf,
    national_vkey: String,
    /// How many files `fresh` has named.
    named: std::cell::Cell<u32>,
}

impl Town {
    /// Initialises the registry, adds a block of 1,000 codes, and enrols Tanaka (a clerk with
    /// a sealed key file), Suzuki (a supervisor) and Sato (a clerk whose key is not sealed);
    /// each generates their own key and the admin enrols its verifier key. With `sealed`, the
    /// admin, national and Suzuki's keys are sealed too (each opening costs an Argon2
    /// derivation, so the tests that are not about it skip it). The town generates its own
    /// national key.
    fn new(code: &'static str, first: &str, sealed: bool) -> Town {
        Town::create(code, first, sealed, None)
    }

    /// A town in the same network as `other`: its registry trusts `other`'s national key.
    fn beside(code: &'static str, first: &str, other: &Town) -> Town {
        Town::create(code, first, false, Some(other))
    }

    fn create(code: &'static str, first: &str, sealed: bool, network: Option<&Town>) -> Town {
        let tmp = tempfile::tempdir().unwrap();
        let own_national = tmp.path().join("national.key");
        let town = Town {
            tmp,
            code,
            node_vkey: String::new(),
            national_key: network.map_or(own_national, |n| n.national_key.clone()),
            national_vkey: String::new(),
            named: std::cell::Cell::new(0),
        };
        let (dir, admin, national) =
            (town.dir(), town.file("admin.key"), town.file("national.key"));
        let mut args =
            vec!["init", "municipal", "--code", code, "--dir", p(&dir), "--admin-out", p(&admin)];
        match network {
            Some(other) => args.extend(["--national-vkey", &other.national_vkey]),
            None => args.extend(["--national-key-out", p(&national)]),
        }
        if sealed {
            args.extend(["--passphrase-env", "ADMIN_PASSPHRASE"]);
        }
        let init = ok(&args);
        let node_vkey = field(&init, "node-vkey");
        assert!(node_vkey.starts_with(&format!("juki.local/registry/{code}+")), "{init}");
        assert!(field(&init, "admin-vkey").starts_with(&format!("admin.{code}.juki.local+")));
        let national_vkey = field(&init, "national-vkey");
        let town = Town { node_vkey, national_vkey, ..town };
        for name in ["registry.toml", "registry.db", "node.key", "tlog/checkpoint"] {
            assert!(town.dir().join(name).exists(), "{name}");
        }
        let block = town.file("block.note");
        juki_env(
            &[
                "code-block",
                "issue",
                "--national-key",
                p(&town.national_key),
                "--municipality",
                code,
                "--first",
                first,
                "--count",
                "1000",
                "--out",
                p(&block),
                "--passphrase-env",
                "ADMIN_PASSPHRASE",
            ],
            &[],
        );
        let added = ok(&["code-block", "add", "--dir", p(&town.dir()), p(&block)]);
        assert!(added.contains("the pool now holds 1000"), "{added}");
        town.enrol("tanaka", "clerk", Some("TANAKA_PASSPHRASE"));
        town.enrol("suzuki", "supervisor", sealed.then_some("SUZUKI_PASSPHRASE"));
        town.enrol("sato", "clerk", None);
        town
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("registry")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn key(&self, operator: &str) -> String {
        p(&self.file(&format!("{operator}.key"))).to_owned()
    }

    /// A file name in the town's directory that no other call gave.
    fn fresh(&self, stem: &str) -> PathBuf {
        self.named.set(self.named.get() + 1);
        self.file(&format!("{stem}-{}", self.named.get()))
    }

    /// Operator `name` generates their own key (sealed with the passphrase in
    /// `passphrase_env`, if any) and gives the admin its verifier key, which the admin enrols
    /// (`enrol_vkey`). Returns the verifier key.
    fn enrol(&self, name: &str, role: &str, passphrase_env: Option<&str>) -> String {
        let key = self.key(name);
        let key_name = format!("op.{}.juki.local/{name}", self.code);
        let mut generate = vec!["key", "generate", "--name", &key_name, "--out", &key];
        if let Some(var) = passphrase_env {
            generate.extend(["--passphrase-env", var]);
        }
        let vkey = ok(&generate).trim().to_owned();
        assert_eq!(keyfile::is_sealed(Path::new(&key)).unwrap(), passphrase_env.is_some());
        self.enrol_vkey(&vkey, role);
        vkey
    }

    /// The admin signs the enrolment of `vkey` offline, with the admin key alone and without
    /// the registry (`juki operator enroll --out`); it is recorded with `juki registry submit`.
    fn enrol_vkey(&self, vkey: &str, role: &str) {
        let enrolment = self.fresh("enrolment");
        let admin = self.file("admin.key");
        let signed = ok(&[
            "operator",
            "enroll",
            "--admin-key",
            p(&admin),
            "--admin-passphrase-env",
            "ADMIN_PASSPHRASE",
            "--vkey",
            vkey,
            "--role",
            role,
            "--out",
            p(&enrolment),
        ]);
        assert_eq!(signed.trim(), vkey);
        let recorded = ok(&["registry", "submit", "--dir", p(&self.dir()), p(&enrolment)]);
        assert!(recorded.contains(" enrolment event "), "{recorded}");
    }

    /// A change that needs two people, made the way two people make it: `proposer` checks it
    /// and writes the proposal in one process (`juki resident SUBCOMMAND … --propose-out
    /// FILE`, which records nothing), and `approver` approves it in another (`juki resident
    /// approve`); each process loads one key. Returns both outputs.
    fn two_people(
        &self,
        subcommand: &str,
        proposer: &str,
        approver: &str,
        args: &[&str],
    ) -> String {
        let before = self.events();
        let proposal = self.fresh("proposal");
        let mut first = vec!["--key", proposer];
        first.extend_from_slice(args);
        first.extend(["--propose-out", p(&proposal)]);
        let proposed = self.resident(subcommand, &first);
        assert_eq!(self.events(), before, "a proposal records nothing: {proposed}");
        assert_eq!(field(&proposed, "proposal"), p(&proposal));
        let dir = self.dir();
        let approved =
            ok(&["resident", "approve", "--dir", p(&dir), "--key", approver, p(&proposal)]);
        assert_eq!(self.events(), before + 1, "the approval records the change: {approved}");
        format!("{proposed}{approved}")
    }

    /// [`Town::two_people`], refused at the proposal or at its approval: nothing is recorded.
    /// Returns the refusal.
    fn two_people_refused(
        &self,
        subcommand: &str,
        proposer: &str,
        approver: &str,
        args: &[&str],
    ) -> String {
        let before = self.events();
        let proposal = self.fresh("proposal");
        let dir = self.dir();
        let mut first = vec!["resident", subcommand, "--dir", p(&dir), "--key", proposer];
        first.extend_from_slice(args);
        first.extend(["--propose-out", p(&proposal)]);
        let output = run(&first);
        let error = if output.status.success() {
            fails(&["resident", "approve", "--dir", p(&dir), "--key", approver, p(&proposal)])
        } else {
            assert!(!proposal.exists(), "a refused proposal is not written");
            failure(&first, &output)
        };
        assert_eq!(self.events(), before, "a refused change records nothing: {error}");
        error
    }

    /// `juki resident SUBCOMMAND --dir D ARGS…`, which must succeed.
    fn resident(&self, subcommand: &str, args: &[&str]) -> String {
        let dir = self.dir();
        let mut all = vec!["resident", subcommand, "--dir", p(&dir)];
        all.extend_from_slice(args);
        ok(&all)
    }

    /// `juki resident SUBCOMMAND --dir D ARGS…`, which must fail and record nothing.
    fn refused(&self, subcommand: &str, args: &[&str]) -> String {
        let before = self.events();
        let dir = self.dir();
        let mut all = vec!["resident", subcommand, "--dir", p(&dir)];
        all.extend_from_slice(args);
        let error = fails(&all);
        assert_eq!(self.events(), before, "a refused change records nothing: {error}");
        error
    }

    /// `juki resident SUBCOMMAND --dir D --key KEY --purpose … ARGS…` (a read), which must
    /// succeed.
    fn read(&self, subcommand: &str, key: &str, args: &[&str]) -> String {
        let dir = self.dir();
        let mut all = vec![
            "resident",
            subcommand,
            "--dir",
            p(&dir),
            "--key",
            key,
            "--purpose",
            "窓口での確認",
        ];
        all.extend_from_slice(args);
        ok(&all)
    }

    /// The provision records of the directory's journal (`node.db`): `(kind, resident, body)`.
    fn provisions(&self) -> Vec<(String, String, String)> {
        let path = self.dir().join("node.db");
        if !path.exists() {
            return Vec::new();
        }
        let db = rusqlite::Connection::open(path).unwrap();
        let mut select =
            db.prepare("SELECT kind, resident, body FROM records ORDER BY idx").unwrap();
        select
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, String::from_utf8(r.get::<_, Vec<u8>>(2)?).unwrap()))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn events(&self) -> u64 {
        Registry::open(&self.dir().join("registry.db")).unwrap().event_count().unwrap()
    }

    fn birth(&self, key: &str, name: &str, reading: &str, born: &str, sex: &str) -> String {
        let out = self.resident(
            "birth",
            &[
                "--key",
                key,
                "--name",
                name,
                "--reading",
                reading,
                "--birth",
                born,
                "--sex",
                sex,
                "--address",
                "大字智里 1234番地",
            ],
        );
        assert_eq!(field(&out, "history"), "1", "{out}");
        assert_eq!(field(&out, "effective"), born, "a birth takes effect on the birth date");
        let code = field(&out, "resident");
        let parsed = ResidentCode::parse(&code).expect("a valid resident code");
        assert!(self.code_block().contains(&parsed.ten_digits()), "drawn from the pool");
        code
    }

    fn code_block(&self) -> std::ops::Range<u64> {
        match self.code {
            "204072" => 2_040_720_000..2_040_721_000,
            _ => 2_020_290_000..2_020_291_000,
        }
    }
}

/// Runs juki with extra environment variables and requires success.
fn juki_env(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = juki().args(args).envs(env.iter().copied()).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// A resident code from another town's pool, for people moving in.
fn code_from_elsewhere(ten: u64) -> String {
    ResidentCode::from_ten_digits(ten).unwrap().to_string()
}

#[test]
fn a_day_in_achi_runs_through_the_cli_and_verifies_clean() {
    let town = Town::new("204072", "2040720000", true);
    let (tanaka, sato, suzuki) = (town.key("tanaka"), town.key("sato"), town.key("suzuki"));
    let list = ok(&["operator", "list", "--dir", p(&town.dir())]);
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(list.contains("supervisor active") && list.contains("op.204072.juki.local/sato+"));

    // Morning: people move in from abroad. One who was given a code by another town before
    // leaving needs the national key's activation certificate that the code is active nowhere
    // (moves from another town, with the national node's certificate, are in
    // `a_move_between_two_towns_is_certified_moved_in_and_notified`); people registered for the
    // first time get codes from this town's pool, here taken before any is drawn.
    let error = town.refused(
        "move-in",
        &[
            "--key",
            &tanaka,
            "--code",
            &code_from_elsewhere(2_022_050_001),
            "--name",
            "井原 健",
            "--reading",
            "イハラ ケン",
            "--birth",
            "1990-02-03",
            "--sex",
            "1",
            "--address",
            "大字駒場 10番地",
            "--from-abroad",
        ],
    );
    assert!(error.contains("[activation-missing]"), "{error}");
    let ken = code_from_elsewhere(2_040_720_998);
    let out = town.resident(
        "move-in",
        &[
            "--key",
            &tanaka,
            "--code",
            &ken,
            "--name",
            "井原 健",
            "--reading",
            "イハラ ケン",
            "--birth",
            "1990-02-03",
            "--sex",
            "1",
            "--address",
            "大字駒場 10番地",
            "--individual-number",
            "123456789018",
            "--from-abroad",
        ],
    );
    assert_eq!(
        (field(&out, "resident"), field(&out, "reason")),
        (ken.clone(), "move-in-from-abroad 国外転入等".into())
    );
    let grandfather = code_from_elsewhere(2_040_720_999);
    town.resident(
        "move-in",
        &[
            "--key",
            &sato,
            "--code",
            &grandfather,
            "--name",
            "原 三郎",
            "--reading",
            "ハラ サブロウ",
            "--birth",
            "1931-07-07",
            "--sex",
            "男",
            "--address",
            "大字駒場 10番地",
            "--effective",
            "2026-01-05",
            "--from-abroad",
        ],
    );

    // Then two births, by two clerks, each one signature.
    let hanako = town.birth(&tanaka, "熊谷 花子", "クマガイ ハナコ", "2025-04-01", "2");
    let taro = town.birth(&sato, "熊谷 太郎", "クマガイ タロウ", "2025-06-15", "male");
    assert_ne!(hanako, taro);

    // Moves within the town (転居): one clerk.
    let out = town
        .resident("move", &["--key", &tanaka, "--code", &hanako, "--address", "大字春日 5番地"]);
    assert_eq!(field(&out, "history"), "2");
    town.resident("move", &["--key", &sato, "--code", &taro, "--address", "大字春日 5番地"]);

    // Taro's family moves out to 松本市: two operators.
    // A clerk proposes, the supervisor approves in a session of his own.
    let out = town.two_people("move-out", &sato, &suzuki, &["--code", &taro, "--to", "202029"]);
    assert_eq!(field(&out, "moved-to"), "202029 松本市 (長野県)");
    assert_eq!(field(&out, "proposed-by"), "op.204072.juki.local/sato");
    assert_eq!(field(&out, "approved-by"), "op.204072.juki.local/suzuki");

    // A death, proposed by a clerk and approved by the supervisor.
    let out = town.two_people(
        "death",
        &tanaka,
        &suzuki,
        &["--code", &grandfather, "--effective", "2026-11-01"],
    );
    assert_eq!(
        (field(&out, "reason"), field(&out, "effective")),
        ("death 死亡".into(), "2026-11-01".into())
    );

    // Corrections: a clerical error in Ken's date of birth (two operators); Hanako records a
    // former surname (one operator).
    town.two_people(
        "correct",
        &tanaka,
        &suzuki,
        &["--code", &ken, "--kind", "clerical", "--birth", "1990-02-13"],
    );
    let out = town.resident(
        "correct",
        &[
            "--key",
            &tanaka,
            "--code",
            &hanako,
            "--kind",
            "former-surname",
            "--former-name",
            "原",
            "--former-reading",
            "ハラ",
        ],
    );
    assert_eq!(field(&out, "reason"), "former-surname-entry 旧氏の記載");

    // A name change (氏名の変更, notified by the 戸籍 office): two clerks are not enough, a
    // supervisor approves it.
    let rename = [
        "--code",
        hanako.as_str(),
        "--kind",
        "name-change",
        "--name",
        "井原 花子",
        "--reading",
        "イハラ ハナコ",
    ];
    let error = town.two_people_refused("correct", &tanaka, &sato, &rename);
    assert!(error.contains("[supervisor-missing]"), "{error}");
    let out = town.two_people("correct", &tanaka, &suzuki, &rename);
    assert_eq!(field(&out, "reason"), "name-change 氏名の変更");

    // Cancellations: Taro's move-out was a mistake (the record is reopened), and so was the
    // correction of Ken's birth date (the earlier value is restored).
    // Reopening a closed record needs the national key's word that the code is active nowhere.
    let error = town.two_people_refused("cancel", &sato, &suzuki, &["--code", &taro]);
    assert!(error.contains("[activation-missing]"), "{error}");
    let activation = town.fresh("taro.activation");
    juki_env(
        &[
            "move",
            "activate",
            "--national-key",
            p(&town.national_key),
            "--from-registry",
            p(&town.dir()),
            "--resident",
            &taro,
            "--out",
            p(&activation),
            "--passphrase-env",
            "ADMIN_PASSPHRASE",
        ],
        &[],
    );
    let out = town.two_people(
        "cancel",
        &sato,
        &suzuki,
        &["--code", &taro, "--activation", p(&activation)],
    );
    assert_eq!(field(&out, "reason"), "cancellation-entry 異動の取消し（増）");
    assert_eq!(field(&out, "cancelled"), "move-out 国内転出 of history 3");
    let out = town.two_people("cancel", &tanaka, &suzuki, &["--code", &ken]);
    assert_eq!(field(&out, "reason"), "cancellation-correction 異動の取消し（修正）");
    let shown = town.read("show", &tanaka, &["--code", &ken]);
    assert!(shown.contains("birth 1990-02-03 (平成2年2月3日)"), "{shown}");

    // A resident-code change: a fresh code from the pool; the old one is gone for good.
    let out = town.two_people("code-change", &tanaka, &suzuki, &["--code", &hanako]);
    let new_code = field(&out, "resident");
    assert_eq!(field(&out, "previous-code"), hanako);
    assert!(town.code_block().contains(&ResidentCode::parse(&new_code).unwrap().ten_digits()));
    let town_dir = town.dir();
    let read = ["resident", "show", "--dir", p(&town_dir), "--key", &tanaka, "--purpose", "確認"];
    let error = fails(&[&read[..], &["--code", &hanako]].concat());
    assert!(error.contains("no resident with this code"), "{error}");

    // What a clerk sees. Every read is signed with her key and recorded, naming her, in the
    // directory's provision journal before anything is shown; the town's node publishes it.
    let recorded = town.provisions().len();
    let shown = town.read("show", &tanaka, &["--code", &new_code]);
    for expected in [
        "name 井原 花子",
        "reading イハラ　ハナコ",
        "former-surname 原 (ハラ)",
        "birth 2025-04-01 (令和7年4月1日)",
        "sex 2 女",
        "address 長野県阿智村大字春日 5番地",
        "address-municipality 204072 阿智村 (長野県)",
        "status active (住民)",
        "history 5",
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
    let provisions = town.provisions();
    assert_eq!(provisions.len(), recorded + 1);
    let (kind, resident, body) = provisions.last().unwrap();
    assert_eq!((kind.as_str(), resident.as_str()), ("lookup", new_code.as_str()));
    assert!(body.contains("\noperator op.204072.juki.local/tanaka+"), "{body}");
    assert!(body.contains("\npurpose 窓口での確認\n"), "{body}");
    assert!(body.contains("\nrequest juki.read/v1\\ntown 204072\\n"), "{body}");
    assert!(body.contains("\\n\\n— op.204072.juki.local/tanaka "), "the signature: {body}");
    // Without a key, with no purpose, or with a key the registry never enrolled: nothing shown,
    // nothing recorded.
    let no_key = ["resident", "show", "--dir", p(&town_dir), "--purpose", "確認", "--code"];
    fails(&[&no_key[..], &[new_code.as_str()]].concat());
    let blank = ["resident", "show", "--dir", p(&town_dir), "--key", &tanaka, "--purpose", " "];
    let error = fails(&[&blank[..], &["--code", &new_code]].concat());
    assert!(error.contains("--purpose"), "{error}");
    let stranger = p(&town.file("stranger.key")).to_owned();
    ok(&["key", "generate", "--name", "op.204072.juki.local/stranger", "--out", &stranger]);
    let strange = ["resident", "show", "--dir", p(&town_dir), "--key", &stranger, "--purpose"];
    let error = fails(&[&strange[..], &["確認", "--code", &new_code]].concat());
    assert!(error.contains("not an operator enrolled"), "{error}");
    assert_eq!(town.provisions().len(), recorded + 1);
    let history = town.read("history", &tanaka, &["--code", &new_code]);
    let reasons: Vec<&str> =
        history.lines().map(|l| l.split_whitespace().nth(2).unwrap()).collect();
    assert_eq!(
        reasons,
        ["birth", "move-within", "former-surname-entry", "name-change", "resident-code-change"],
        "{history}"
    );
    let dead = town.read("show", &tanaka, &["--code", &grandfather]);
    assert!(dead.contains("status closed (除票): death 死亡"), "{dead}");
    assert!(dead.contains("(昭和6年7月7日)"), "{dead}");

    // Search: hiragana finds the katakana reading; a prefix and a birth date narrow it.
    // A search is a read of every resident it finds: each is a provision record.
    let found = town.read("search", &tanaka, &["--reading", "くまがい"]);
    assert_eq!(found.lines().count(), 1, "{found}");
    assert!(found.starts_with(&taro), "{found}");
    let recorded = town.provisions().len();
    let found = town.read("search", &tanaka, &["--reading", "イハラ"]);
    assert_eq!(found.lines().count(), 2, "{found}");
    let provisions = town.provisions();
    assert_eq!(provisions.len(), recorded + 2);
    for (kind, resident, body) in &provisions[recorded..] {
        assert_eq!(kind, "search");
        assert!(found.contains(resident.as_str()), "{resident} in {found}");
        assert!(body.contains("\\nkind search\\ntext イハラ\\n"), "{body}");
    }
    let found = town.read("search", &tanaka, &["--name", "井原", "--birth", "2025-04-01"]);
    assert_eq!(found.lines().count(), 1, "{found}");
    assert!(found.starts_with(&new_code), "{found}");

    // The end of the day: checkpoint, and everything verifies.
    let events = town.events();
    let checkpoint = ok(&["registry", "checkpoint", "--dir", p(&town.dir())]);
    assert!(
        checkpoint.starts_with(&format!("juki.local/registry/204072\n{events}\n")),
        "{checkpoint}"
    );
    let report = ok(&["registry", "verify", "--dir", p(&town.dir())]);
    assert!(report.contains(&format!("{events} events replayed, 4 resident records")), "{report}");
    assert!(
        report.contains(&format!("checkpoint signed by the node key (size {events})")),
        "{report}"
    );
    // Any auditor verifies the registry's log like any other log.
    let report = ok(&["log", "verify", p(&town.dir()), "--vkey", &town.node_vkey]);
    assert!(
        report.contains(&format!("verified juki.local/registry/204072: {events} entries")),
        "{report}"
    );
    let report = ok(&["log", "verify", p(&town.dir().join("tlog")), "--vkey", &town.node_vkey]);
    assert!(report.contains(&format!("{events} entries")), "{report}");

    // The public tiles hold commitments only: no name, address or code appears in them.
    let mut public = Vec::new();
    collect_files(&town.dir().join("tlog"), &mut public);
    let secrets = ["熊谷", "井原", "智里", "春日", &hanako, &new_code, &ken, "123456789018"];
    for path in public {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets {
            assert!(!text.contains(secret), "{} holds personal data", path.display());
        }
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_refusal_is_clear_and_records_nothing() {
    let town = Town::new("204072", "2040720000", false);
    let (tanaka, sato, suzuki) = (town.key("tanaka"), town.key("sato"), town.key("suzuki"));
    let hanako = town.birth(&tanaka, "熊谷 花子", "クマガイ ハナコ", "2025-04-01", "2");
    let ichiro = town.birth(&tanaka, "熊谷 一郎", "クマガイ イチロウ", "2025-04-01", "1");
    town.two_people("death", &tanaka, &suzuki, &["--code", &ichiro]);
    let personal = ["熊谷", "花子", "クマガイ", "智里", &hanako, &ichiro];
    let no_personal_data = |error: &str| {
        for secret in personal {
            assert!(!error.contains(secret), "the error repeats personal data: {error}");
        }
    };

    // Illegal transitions, decided by the rules: a name change that also changes the date of
    // birth; a move of a closed record (an event for a closed record); a death twice.
    let error = town.two_people_refused(
        "correct",
        &tanaka,
        &suzuki,
        &["--code", &hanako, "--kind", "name-change", "--name", "熊谷 花", "--birth", "2025-04-02"],
    );
    assert!(
        error.contains(
            "refused: illegal change: name-change (氏名の変更) may not change the birth field"
        ),
        "{error}"
    );
    no_personal_data(&error);
    let error =
        town.refused("move", &["--key", &tanaka, "--code", &ichiro, "--address", "大字駒場 1番地"]);
    assert!(error.contains("a closed record changes only by a cancellation"), "{error}");
    no_personal_data(&error);
    let error = town.two_people_refused("death", &tanaka, &suzuki, &["--code", &ichiro]);
    assert!(error.contains("closed record"), "{error}");
    let error = town.two_people_refused(
        "correct",
        &tanaka,
        &suzuki,
        &["--code", &ichiro, "--kind", "clerical", "--sex", "2"],
    );
    assert!(error.contains("closed record"), "{error}");
    // Moving in someone who already lives here; a change that takes effect before the birth.
    let error = town.refused(
        "move-in",
        &[
            "--key",
            &tanaka,
            "--code",
            &hanako,
            "--name",
            "熊谷 花子",
            "--reading",
            "クマガイ ハナコ",
            "--birth",
            "2025-04-01",
            "--sex",
            "2",
            "--address",
            "大字智里 1番地",
            "--from-abroad",
        ],
    );
    assert!(error.contains("already a resident"), "{error}");
    let error = town.refused(
        "move",
        &[
            "--key",
            &tanaka,
            "--code",
            &hanako,
            "--address",
            "大字駒場 1番地",
            "--effective",
            "2025-03-01",
        ],
    );
    assert!(error.contains("before the resident was born"), "{error}");
    // A birth with a code that is not in the pool cannot happen through the CLI (it draws
    // codes), but a move-out to this very town can be asked for.
    let error = town.two_people_refused(
        "move-out",
        &tanaka,
        &suzuki,
        &["--code", &hanako, "--to", "204072"],
    );
    assert!(error.contains("`juki resident move`"), "{error}");

    // The two-person rule: a sensitive change is proposed by one person and approved by
    // another, each in their own process.
    for reason in ["death", "code-change", "cancel"] {
        let error = town.refused(reason, &["--key", &tanaka, "--code", &hanako]);
        assert!(error.contains("needs two different operators"), "{reason}: {error}");
        assert!(error.contains("--propose-out FILE"), "{error}");
        assert!(error.contains("juki resident approve"), "{error}");
    }
    let error = town.refused("move-out", &["--key", &tanaka, "--code", &hanako, "--to", "202029"]);
    assert!(error.contains("move-out (国内転出) needs two different operators"), "{error}");
    // No command takes a second person's key: neither a second key flag, nor --key twice.
    let error =
        town.refused("death", &["--key", &tanaka, "--approve-key", &suzuki, "--code", &hanako]);
    assert!(error.contains("unexpected argument '--approve-key'"), "{error}");
    let proposal = town.fresh("proposal");
    town.resident("death", &["--key", &tanaka, "--code", &hanako, "--propose-out", p(&proposal)]);
    let dir = p(&town.dir()).to_owned();
    let twice = ["resident", "approve", "--dir", &dir, "--key", &suzuki, "--key", &sato];
    let error = fails(&[&twice[..], &[p(&proposal)]].concat());
    assert!(error.contains("'--key <FILE>' cannot be used multiple times"), "{error}");
    // A proposal of a change one operator makes alone is not written.
    let error = town.refused(
        "move",
        &["--key", &tanaka, "--code", &hanako, "--address", "大字駒場 1番地", "--propose-out", "x"],
    );
    assert!(error.contains("needs one operator: record it without --propose-out"), "{error}");
    // The proposer cannot approve their own proposal…
    let error = town.two_people_refused("death", &sato, &sato, &["--code", &hanako]);
    assert!(error.contains("already signed this proposal"), "{error}");
    // …nor with a second key enrolled in the same name, even as a supervisor: one person.
    let tanaka_again = p(&town.file("tanaka-again.key")).to_owned();
    let again =
        ok(&["key", "generate", "--name", "op.204072.juki.local/tanaka", "--out", &tanaka_again]);
    town.enrol_vkey(again.trim(), "supervisor");
    let error = town.two_people_refused("death", &tanaka, &tanaka_again, &["--code", &hanako]);
    assert!(error.contains("[second-operator-missing]"), "{error}");
    assert!(error.contains("needs two different operators; 1 signed"), "{error}");

    // A key that was never enrolled, and an operator of another town.
    let stranger = p(&town.file("stranger.key")).to_owned();
    ok(&["key", "generate", "--name", "op.204072.juki.local/stranger", "--out", &stranger]);
    let error = town
        .refused("move", &["--key", &stranger, "--code", &hanako, "--address", "大字駒場 1番地"]);
    assert!(error.contains("is not an operator enrolled in 204072 阿智村"), "{error}");
    no_personal_data(&error);
    let matsumoto = Town::new("202029", "2020290000", false);
    let foreign = matsumoto.key("sato");
    let error = town
        .refused("move", &["--key", &foreign, "--code", &hanako, "--address", "大字駒場 1番地"]);
    assert!(
        error.contains("op.202029.juki.local/sato") && error.contains("not an operator enrolled"),
        "{error}"
    );
    // An approval is checked like any signature: a person of another town is no operator
    // here.
    let error = town.two_people_refused("death", &tanaka, &foreign, &["--code", &hanako]);
    assert!(
        error.contains(&format!("--key {foreign}")) && error.contains("not an operator enrolled"),
        "{error}"
    );
    // A wrong passphrase opens nothing.
    let before = town.events();
    let output = juki()
        .args([
            "resident",
            "move",
            "--dir",
            p(&town.dir()),
            "--key",
            &tanaka,
            "--code",
            &hanako,
            "--address",
            "大字駒場 1番地",
        ])
        .env("JUKI_PASSPHRASE", "not tanaka's passphrase")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("wrong passphrase"));
    assert_eq!(town.events(), before);

    // A revoked operator can sign nothing more, alone or as the approver. The admin signs the
    // revocation offline; the registry records it.
    let sato_vkey = ok(&["operator", "list", "--dir", p(&town.dir())])
        .lines()
        .find(|l| l.contains("/sato+"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_owned();
    let admin = p(&town.file("admin.key")).to_owned();
    let dir = p(&town.dir()).to_owned();
    let revoke = |out: &Path| {
        ok(&[
            "operator",
            "revoke",
            "--admin-key",
            &admin,
            "--admin-passphrase-env",
            "ADMIN_PASSPHRASE",
            "--vkey",
            &sato_vkey,
            "--out",
            p(out),
        ])
    };
    let revocation = town.fresh("revocation");
    revoke(&revocation);
    let recorded = ok(&["registry", "submit", "--dir", &dir, p(&revocation)]);
    assert!(recorded.contains(" revocation event "), "{recorded}");
    let error =
        town.refused("move", &["--key", &sato, "--code", &hanako, "--address", "大字駒場 1番地"]);
    assert!(error.contains("was revoked"), "{error}");
    let error = town.two_people_refused("death", &tanaka, &sato, &["--code", &hanako]);
    assert!(error.contains(&format!("--key {sato}")) && error.contains("was revoked"), "{error}");
    // Nor read anything.
    let recorded = town.provisions().len();
    let read = ["resident", "show", "--dir", &dir, "--key", &sato, "--purpose", "確認", "--code"];
    let error = fails(&[&read[..], &[hanako.as_str()]].concat());
    assert!(error.contains("was revoked"), "{error}");
    assert_eq!(town.provisions().len(), recorded, "a refused read records nothing");
    let before = town.events();
    let again = town.fresh("revocation");
    revoke(&again);
    let error = fails(&["registry", "submit", "--dir", &dir, p(&again)]);
    assert!(error.contains("[illegal-transition]") && error.contains("already revoked"), "{error}");
    // A signed file is never overwritten.
    let error = fails(&[
        "operator",
        "revoke",
        "--admin-key",
        &admin,
        "--admin-passphrase-env",
        "ADMIN_PASSPHRASE",
        "--vkey",
        &sato_vkey,
        "--out",
        p(&again),
    ]);
    assert!(error.contains("already exists"), "{error}");
    // Only the admin key enrols or revokes: an operator's key is refused by the command, and a
    // key made with the admin key's name is refused by the registry.
    let rogue = ok(&[
        "key",
        "generate",
        "--name",
        "op.204072.juki.local/rogue",
        "--out",
        p(&town.file("rogue.key")),
    ]);
    let enrol_with = |admin_key: &str, out: &Path| {
        run(&[
            "operator",
            "enroll",
            "--admin-key",
            admin_key,
            "--vkey",
            rogue.trim(),
            "--role",
            "supervisor",
            "--out",
            p(out),
        ])
    };
    let by_clerk = town.file("rogue-by-clerk.enrol");
    let error = failure(&["operator", "enroll"], &enrol_with(&tanaka, &by_clerk));
    assert!(
        error.contains("holds the key op.204072.juki.local/tanaka")
            && error.contains("its admin key, admin.204072.juki.local"),
        "{error}"
    );
    assert!(!by_clerk.exists(), "nothing is signed");
    let fake_admin = p(&town.file("fake-admin.key")).to_owned();
    ok(&["key", "generate", "--name", "admin.204072.juki.local", "--out", &fake_admin]);
    let forged = town.file("rogue-forged.enrol");
    assert!(enrol_with(&fake_admin, &forged).status.success());
    let error = fails(&["registry", "submit", "--dir", &dir, p(&forged)]);
    assert!(
        error.contains("[unsigned]") && error.contains("no signature by the municipality's admin"),
        "{error}"
    );
    // An enrolment for another town is refused by the registry too.
    let foreign_vkey = ok(&[
        "key",
        "generate",
        "--name",
        "op.202029.juki.local/ito",
        "--out",
        p(&town.file("ito.key")),
    ]);
    let foreign_enrolment = town.file("ito.enrol");
    ok(&[
        "operator",
        "enroll",
        "--admin-key",
        p(&matsumoto.file("admin.key")),
        "--vkey",
        foreign_vkey.trim(),
        "--role",
        "clerk",
        "--out",
        p(&foreign_enrolment),
    ]);
    let error = fails(&["registry", "submit", "--dir", &dir, p(&foreign_enrolment)]);
    assert!(error.contains("[wrong-municipality]"), "{error}");
    // A verifier key that is no operator's is refused before anything is signed.
    let error = fails(&[
        "operator",
        "enroll",
        "--admin-key",
        &admin,
        "--admin-passphrase-env",
        "ADMIN_PASSPHRASE",
        "--vkey",
        &town.node_vkey,
        "--role",
        "clerk",
        "--out",
        p(&town.file("node.enrol")),
    ]);
    assert!(error.contains("an operator's key is named op.CODE.HOST/HANDLE"), "{error}");
    assert!(!town.file("node.enrol").exists());
    assert_eq!(town.events(), before);
    // Sato comes back with a new key that she generates herself.
    let new_key = p(&town.file("sato-new.key")).to_owned();
    let new_vkey =
        ok(&["key", "generate", "--name", "op.204072.juki.local/sato", "--out", &new_key]);
    town.enrol_vkey(new_vkey.trim(), "clerk");
    town.resident("move", &["--key", &new_key, "--code", &hanako, "--address", "大字駒場 2番地"]);

    // Bad input: told what is wrong, without repeating it.
    let error = town.refused(
        "birth",
        &[
            "--key",
            &tanaka,
            "--name",
            "熊谷 次郎",
            "--reading",
            "くまがい じろう",
            "--birth",
            "2026-01-01",
            "--sex",
            "1",
            "--address",
            "大字智里 1番地",
        ],
    );
    assert!(error.contains("--reading") && error.contains("hiragana"), "{error}");
    assert!(!error.contains("くまがい"), "{error}");
    let mut typo = hanako.clone().into_bytes();
    typo[10] = if typo[10] == b'9' { b'0' } else { typo[10] + 1 };
    let typo = String::from_utf8(typo).unwrap();
    let error =
        town.refused("move", &["--key", &tanaka, "--code", &typo, "--address", "大字駒場 1番地"]);
    assert!(error.contains("--code") && error.contains("check digit"), "{error}");
    assert!(!error.contains(&typo), "{error}");
    let error = town.two_people_refused(
        "correct",
        &tanaka,
        &suzuki,
        &["--code", &hanako, "--kind", "clerical"],
    );
    assert!(error.contains("nothing to correct"), "{error}");
    let error = town.refused(
        "move",
        &[
            "--key",
            &tanaka,
            "--code",
            &hanako,
            "--address",
            "大字駒場 1番地",
            "--effective",
            "2025-02-30",
        ],
    );
    assert!(error.contains("--effective"), "{error}");

    // Code blocks: for another town, or the same block twice.
    let block = town.file("matsumoto-block.note");
    juki_env(
        &[
            "code-block",
            "issue",
            "--national-key",
            p(&town.file("national.key")),
            "--municipality",
            "202029",
            "--first",
            "2020290000",
            "--count",
            "10",
            "--out",
            p(&block),
            "--passphrase-env",
            "ADMIN_PASSPHRASE",
        ],
        &[],
    );
    let before = town.events();
    let error = fails(&["code-block", "add", "--dir", &dir, p(&block)]);
    assert!(error.contains("is a block for 202029"), "{error}");
    let error = fails(&["code-block", "add", "--dir", &dir, p(&town.file("block.note"))]);
    assert!(error.contains("overlaps a code block"), "{error}");
    // A block signed by a key other than the national key (松本市's national key).
    let forged = town.file("forged.note");
    juki_env(
        &[
            "code-block",
            "issue",
            "--national-key",
            p(&matsumoto.file("national.key")),
            "--municipality",
            "204072",
            "--first",
            "2040730000",
            "--count",
            "10",
            "--out",
            p(&forged),
            "--passphrase-env",
            "ADMIN_PASSPHRASE",
        ],
        &[],
    );
    let error = fails(&["code-block", "add", "--dir", &dir, p(&forged)]);
    assert!(error.contains("no signature by the national key"), "{error}");
    assert_eq!(town.events(), before);

    // A registry is created once.
    let error = fails(&[
        "init",
        "municipal",
        "--code",
        "204072",
        "--dir",
        &dir,
        "--admin-out",
        p(&town.file("admin2.key")),
        "--national-key-out",
        p(&town.file("national2.key")),
    ]);
    assert!(error.contains("already holds a registry"), "{error}");
    assert!(!town.file("admin2.key").exists());
    let error = fails(&[
        "init",
        "municipal",
        "--code",
        "204071",
        "--dir",
        p(&town.file("x")),
        "--admin-out",
        p(&town.file("admin3.key")),
        "--national-key-out",
        p(&town.file("national3.key")),
    ]);
    assert!(error.contains("check digit"), "{error}");
    assert!(!town.file("x").exists() && !town.file("admin3.key").exists());

    // After all that, the registry is exactly what its log says.
    ok(&["registry", "checkpoint", "--dir", &dir]);
    ok(&["registry", "verify", "--dir", &dir]);
}

/// `juki resident move-in` arguments for a person of 阿智村 moving in to 松本市.
fn move_in_args<'a>(
    key: &'a str,
    code: &'a str,
    (name, reading, birth, sex): (&'a str, &'a str, &'a str, &'a str),
    certificate: Option<&'a str>,
) -> Vec<&'a str> {
    let mut args = vec![
        "--key",
        key,
        "--code",
        code,
        "--name",
        name,
        "--reading",
        reading,
        "--birth",
        birth,
        "--sex",
        sex,
        "--address",
        "中央1丁目 2番3号",
    ];
    if let Some(certificate) = certificate {
        args.extend(["--move-out", certificate]);
    }
    args
}

#[test]
fn a_move_between_two_towns_is_certified_moved_in_and_notified() {
    let achi = Town::new("204072", "2040720000", false);
    let matsumoto = Town::beside("202029", "2020290000", &achi);
    let (tanaka, suzuki) = (achi.key("tanaka"), achi.key("suzuki"));
    let (clerk, supervisor) = (matsumoto.key("tanaka"), matsumoto.key("suzuki"));
    let hanako_identity = ("熊谷 花子", "クマガイ ハナコ", "2025-04-01", "2");
    let hanako = achi.birth(&tanaka, "熊谷 花子", "クマガイ ハナコ", "2025-04-01", "2");
    let ichiro = achi.birth(&tanaka, "熊谷 一郎", "クマガイ イチロウ", "2025-04-01", "1");
    let taro = achi.birth(&tanaka, "熊谷 太郎", "クマガイ タロウ", "2025-06-15", "1");
    let jiro = achi.birth(&tanaka, "熊谷 次郎", "クマガイ ジロウ", "2025-06-15", "1");
    for (code, to) in [(&hanako, "202029"), (&ichiro, "203611"), (&taro, "202029")] {
        let out = achi.two_people("move-out", &tanaka, &suzuki, &["--code", code, "--to", to]);
        assert_eq!(field(&out, "reason"), "move-out 国内転出");
    }
    let personal = ["熊谷", "花子", "クマガイ", "ハナコ", "2025-04-0", "中央1丁目"];
    let no_personal_data = |error: &str| {
        for secret in personal {
            assert!(!error.contains(secret), "the error repeats personal data: {error}");
        }
    };

    // The national key certifies each move-out, reading 阿智村's registry.
    let national = p(&achi.national_key).to_owned();
    let certify = |code: &str, file: &str| -> String {
        let out = p(&achi.file(file)).to_owned();
        let before = achi.events();
        ok(&[
            "move",
            "certify",
            "--national-key",
            &national,
            "--from-registry",
            p(&achi.dir()),
            "--resident",
            code,
            "--out",
            &out,
        ]);
        assert_eq!(achi.events(), before, "certifying records nothing");
        out
    };
    let hanako_certificate = certify(&hanako, "hanako.move-out");
    let ichiro_certificate = certify(&ichiro, "ichiro.move-out");
    let taro_certificate = certify(&taro, "taro.move-out");
    let text = std::fs::read_to_string(&hanako_certificate).unwrap();
    assert!(text.starts_with("juki.move-out/v1\nfrom 204072\nto 202029\nresident "), "{text}");
    assert!(text.contains("\n— national.juki.local "), "signed by the national key: {text}");
    let printed = ok(&[
        "move",
        "certify",
        "--national-key",
        &national,
        "--from-registry",
        p(&achi.dir()),
        "--resident",
        &hanako,
    ]);
    assert!(printed.starts_with("juki.move-out/v1\n"), "without --out, to stdout: {printed}");
    // Only a move-out is certified, and only with the national key of the registry.
    let error = fails(&[
        "move",
        "certify",
        "--national-key",
        &national,
        "--from-registry",
        p(&achi.dir()),
        "--resident",
        &jiro,
    ]);
    assert!(error.contains("was not closed by a move-out"), "{error}");
    assert!(error.contains("the change is birth"), "{error}");
    let stranger = p(&achi.file("stranger-national.key")).to_owned();
    ok(&["key", "generate", "--name", "national.juki.local", "--out", &stranger]);
    let error = fails(&[
        "move",
        "certify",
        "--national-key",
        &stranger,
        "--from-registry",
        p(&achi.dir()),
        "--resident",
        &hanako,
    ]);
    assert!(error.contains("is not the national key of the registry of 204072"), "{error}");

    // 松本市 refuses a move-in without a certificate, with one signed by another key, with one
    // for a move elsewhere, and with an identity other than the certificate's.
    let error = matsumoto.refused("move-in", &move_in_args(&clerk, &hanako, hanako_identity, None));
    assert!(error.contains("needs the move-out certificate: --move-out FILE"), "{error}");
    let forged = p(&matsumoto.file("forged.move-out")).to_owned();
    {
        let note = tlog::note::Note::parse(text.as_bytes()).unwrap();
        let mut forgery = tlog::note::Note::new(note.text()).unwrap();
        let key = tlog::note::Signer::from_seed(
            "national.juki.local",
            tlog::note::KeyKind::Ed25519,
            [7; 32],
        )
        .unwrap();
        forgery.sign(&key).unwrap();
        std::fs::write(&forged, forgery.to_bytes()).unwrap();
    }
    let error = matsumoto
        .refused("move-in", &move_in_args(&clerk, &hanako, hanako_identity, Some(&forged)));
    assert!(error.contains("no signature by the national key"), "{error}");
    no_personal_data(&error);
    let error = matsumoto.refused(
        "move-in",
        &move_in_args(
            &clerk,
            &ichiro,
            ("熊谷 一郎", "クマガイ イチロウ", "2025-04-01", "1"),
            Some(&ichiro_certificate),
        ),
    );
    assert!(error.contains("is for a move to 203611, not to 202029"), "{error}");
    let error = matsumoto.refused(
        "move-in",
        &move_in_args(
            &clerk,
            &hanako,
            ("熊谷 花子", "クマガイ ハナコ", "2025-04-02", "2"),
            Some(&hanako_certificate),
        ),
    );
    assert!(error.contains("the date of birth differs from the move-out certificate's"), "{error}");
    no_personal_data(&error);
    let error = matsumoto.refused(
        "move-in",
        &move_in_args(&clerk, &taro, hanako_identity, Some(&hanako_certificate)),
    );
    assert!(error.contains(&format!("is for resident {hanako}, not {taro}")), "{error}");

    // With the certificate and the identity it states, Hanako moves in, keeping her code.
    let out = matsumoto.resident(
        "move-in",
        &move_in_args(&clerk, &hanako, hanako_identity, Some(&hanako_certificate)),
    );
    assert_eq!(field(&out, "resident"), hanako);
    assert_eq!(field(&out, "reason"), "move-in 国内転入");
    assert_eq!(field(&out, "moved-in-from"), "204072 阿智村 (長野県)");
    let shown = matsumoto.read("show", &clerk, &["--code", &hanako]);
    assert!(shown.contains("status active (住民)") && shown.contains("松本市中央1丁目"), "{shown}");
    let error = matsumoto.refused(
        "move-in",
        &move_in_args(&clerk, &hanako, hanako_identity, Some(&hanako_certificate)),
    );
    assert!(error.contains("already a resident"), "{error}");

    // The national key tells 阿智村, which records the notice: the move is complete there.
    let notice = |code: &str| -> Vec<String> {
        [
            "move",
            "notice",
            "--national-key",
            &national,
            "--from-registry",
            p(&achi.dir()),
            "--to-registry",
            p(&matsumoto.dir()),
            "--resident",
            code,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let args = notice(&hanako);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let before = achi.events();
    let out = ok(&args);
    assert!(out.contains(&format!("move-in notice for resident {hanako} in 204072")), "{out}");
    assert!(out.contains("is complete"), "{out}");
    assert_eq!(achi.events(), before + 1);
    let shown = achi.read("show", &tanaka, &["--code", &hanako]);
    assert!(shown.contains("status closed (除票): move-out 国内転出"), "{shown}");
    let error = fails(&args);
    assert!(error.contains("already recorded"), "{error}");
    let error = achi.two_people_refused("cancel", &tanaka, &suzuki, &["--code", &hanako]);
    assert!(error.contains("can no longer be cancelled"), "{error}");
    assert_eq!(achi.events(), before + 1);

    // A notice for someone who did not move in there, or whose move-out was cancelled.
    let args = notice(&ichiro);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let error = fails(&args);
    assert!(error.contains(&format!("no resident {ichiro} is recorded in the registry of 202029")));
    matsumoto.resident(
        "move-in",
        &move_in_args(
            &clerk,
            &taro,
            ("熊谷 太郎", "クマガイ タロウ", "2025-06-15", "1"),
            Some(&taro_certificate),
        ),
    );
    // Cancelling the move-out needs the national key's activation certificate; offline, the
    // key's holder certifies what 阿智村's registry shows (on a network the signer would first
    // withdraw the certificate 松本市 has used, and refuse).
    let error = achi.two_people_refused("cancel", &tanaka, &suzuki, &["--code", &taro]);
    assert!(error.contains("[activation-missing]"), "{error}");
    let activation = p(&achi.file("taro.activation")).to_owned();
    ok(&[
        "move",
        "activate",
        "--national-key",
        &national,
        "--from-registry",
        p(&achi.dir()),
        "--resident",
        &taro,
        "--out",
        &activation,
    ]);
    achi.two_people("cancel", &tanaka, &suzuki, &["--code", &taro, "--activation", &activation]);
    let before = achi.events();
    let args = notice(&taro);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let error = fails(&args);
    assert!(error.contains(&format!("resident {taro}'s record here is not closed by a move-out")));
    assert_eq!(achi.events(), before);

    // A certificate is used once: Hanako's move-in is cancelled in 松本市, and neither the same
    // certificate nor a new one for the same move-out moves her in again.
    matsumoto.two_people("cancel", &clerk, &supervisor, &["--code", &hanako]);
    let again = certify(&hanako, "hanako-again.move-out");
    for certificate in [&hanako_certificate, &again] {
        let error = matsumoto
            .refused("move-in", &move_in_args(&clerk, &hanako, hanako_identity, Some(certificate)));
        assert!(error.contains("was already used for a move-in here"), "{error}");
        no_personal_data(&error);
    }

    // Both registries are what their logs say.
    for town in [&achi, &matsumoto] {
        ok(&["registry", "checkpoint", "--dir", p(&town.dir())]);
        ok(&["registry", "verify", "--dir", p(&town.dir())]);
    }
}

/// Copies a directory tree (a registry directory whose processes have all exited).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the town's registry, edited with `sql` behind the log's back; returns the
/// output of `juki registry verify`, which must fail.
fn tamper(town: &Town, name: &str, sql: &[(&str, Vec<String>)]) -> String {
    let copy = town.file(name);
    copy_dir(&town.dir(), &copy);
    let conn = rusqlite::Connection::open(copy.join("registry.db")).unwrap();
    for (statement, params) in sql {
        let changed = conn.execute(statement, rusqlite::params_from_iter(params)).unwrap();
        assert!(changed >= 1, "{statement}");
    }
    drop(conn);
    fails(&["registry", "verify", "--dir", p(&copy)])
}

#[test]
fn edits_behind_the_logs_back_are_named_by_registry_verify() {
    let town = Town::new("204072", "2040720000", false);
    let (tanaka, suzuki) = (town.key("tanaka"), town.key("suzuki"));
    let a = town.birth(&tanaka, "熊谷 花子", "クマガイ ハナコ", "2025-04-01", "2");
    let b = town.birth(&tanaka, "熊谷 一郎", "クマガイ イチロウ", "2025-05-01", "1");
    town.resident("move", &["--key", &tanaka, "--code", &a, "--address", "大字駒場 5番地"]);
    town.two_people("death", &tanaka, &suzuki, &["--code", &b]);
    ok(&["registry", "checkpoint", "--dir", p(&town.dir())]);
    ok(&["registry", "verify", "--dir", p(&town.dir())]);
    let values = ["駒場", "智里", "熊谷", "クマガイ", "999番地"];
    let no_values = |report: &str| {
        for value in values {
            assert!(!report.contains(value), "verify repeats a value: {report}");
        }
    };

    // An address changed.
    let report = tamper(
        &town,
        "address",
        &[("UPDATE residents SET address = '大字駒場 999番地' WHERE code = ?1", vec![a.clone()])],
    );
    assert!(
        report.contains(&format!("resident {a}: field address differs from the log")),
        "{report}"
    );
    assert!(!report.contains(&format!("resident {b}")), "{report}");
    no_values(&report);

    // A resident deleted.
    let report =
        tamper(&town, "deleted", &[("DELETE FROM residents WHERE code = ?1", vec![b.clone()])]);
    assert!(
        report.contains(&format!(
            "resident {b}: is missing from the residents table (deleted behind the log's back)"
        )),
        "{report}"
    );
    no_values(&report);

    // A resident invented.
    let invented = ResidentCode::from_ten_digits(2_040_720_999).unwrap().to_string();
    let copy_row = "INSERT INTO residents SELECT ?1, history, status, name, reading, former_name, \
                    former_reading, birth, sex, address_municipality, address, individual_number, \
                    reason, effective, event_idx, name_key, reading_key, address_key FROM residents \
                    WHERE code = ?2";
    let report = tamper(&town, "inserted", &[(copy_row, vec![invented.clone(), a.clone()])]);
    assert!(
        report.contains(&format!(
            "resident {invented}: is in the residents table but not in the log"
        )),
        "{report}"
    );
    no_values(&report);

    // A stored event rewritten: it no longer matches its log entry, and the record it made
    // differs from what the log says.
    let rewrite = "UPDATE events SET note = CAST(replace(CAST(note AS TEXT), '駒場 5番地', '駒場 6番地') AS BLOB) \
                   WHERE idx = (SELECT event_idx FROM residents WHERE code = ?1)";
    let report = tamper(&town, "rewritten", &[(rewrite, vec![a.clone()])]);
    assert!(
        report.contains("does not match its log entry: it was rewritten behind the log's back"),
        "{report}"
    );
    assert!(report.contains(&format!("resident {a}'s history entry 2")), "{report}");
    assert!(
        report.contains(&format!("resident {a}: field history differs from the log")),
        "{report}"
    );
    no_values(&report);

    // The event and its log entry both rewritten (the commitment recomputed): the published
    // tiles no longer match the entries.
    let copy = town.file("rewritten-with-entry");
    copy_dir(&town.dir(), &copy);
    {
        let conn = rusqlite::Connection::open(copy.join("registry.db")).unwrap();
        let idx: i64 = conn
            .query_row("SELECT event_idx FROM residents WHERE code = ?1", [&a], |r| r.get(0))
            .unwrap();
        let note: Vec<u8> =
            conn.query_row("SELECT note FROM events WHERE idx = ?1", [idx], |r| r.get(0)).unwrap();
        let forged =
            String::from_utf8(note).unwrap().replace("駒場 5番地", "駒場 6番地").into_bytes();
        conn.execute("UPDATE events SET note = ?1 WHERE idx = ?2", rusqlite::params![forged, idx])
            .unwrap();
        let entry = registry_store::commitment(&forged);
        conn.execute(
            "UPDATE log_entries SET entry = ?1 WHERE idx = ?2",
            rusqlite::params![entry, idx],
        )
        .unwrap();
    }
    let report = fails(&["registry", "verify", "--dir", p(&copy)]);
    assert!(report.contains("the log's entries do not match the tiles"), "{report}");
    no_values(&report);

    // The original is untouched and still verifies.
    ok(&["registry", "verify", "--dir", p(&town.dir())]);
}

#[test]
fn code_check_tells_valid_codes_from_mistyped_ones() {
    let out = ok(&["code", "check", "204072", "011011", "131016", "12345678903", "123456789018"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(
        lines[0].starts_with("204072: valid municipality code: 阿智村 (あちむら), 長野県"),
        "{out}"
    );
    assert!(lines[1].contains("札幌市 中央区") && lines[1].contains("北海道"), "{out}");
    assert!(lines[2].contains("千代田区") && lines[2].contains("東京都"), "{out}");
    assert_eq!(lines[3], "argument 4: valid resident code (住民票コード)");
    assert_eq!(lines[4], "argument 5: valid individual number (個人番号)");

    let output = run(&[
        "code",
        "check",
        "204072",
        "204071",
        "200000",
        "12345678904",
        "123456789017",
        "12345",
        "２０４０７２",
    ]);
    assert!(!output.status.success());
    let out = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("valid municipality code"), "{out}");
    assert!(lines[1].starts_with("204071: invalid: wrong check digit"), "{out}");
    assert!(
        lines[2].starts_with("200000: invalid: no such municipality")
            && lines[2].contains("valid check digit"),
        "{out}"
    );
    assert!(
        lines[3].starts_with("argument 4: invalid") && lines[3].contains("check digit"),
        "{out}"
    );
    assert!(lines[4].starts_with("argument 5: invalid") && lines[4].contains("個人番号"), "{out}");
    assert!(lines[5].contains("5 characters is no code"), "{out}");
    assert!(lines[6].contains("full-width"), "{out}");
    assert!(
        !out.contains("12345678904") && !out.contains("123456789017"),
        "personal codes are not echoed: {out}"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("error: 6 of 7 codes are invalid"), "{stderr}");
}
