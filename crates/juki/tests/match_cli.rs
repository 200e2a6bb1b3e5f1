//! `juki match`: the four-item match over a registry directory made through the CLI, with
//! requests as CSV from a file and as JSON Lines from standard input, one JSON answer per
//! request, and a bad request answered with its error while the next is still read.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use registry_domain::ResidentCode;

const ADMIN_PASSPHRASE: &str = "offline stick in the mountain safe";

fn juki() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_juki"));
    command.env_remove("JUKI_PASSPHRASE").env("ADMIN_PASSPHRASE", ADMIN_PASSPHRASE);
    command
}

fn ok(args: &[&str]) -> String {
    let output = juki().args(args).output().expect("running juki");
    succeeded(args, output)
}

fn succeeded(args: &[&str], output: Output) -> String {
    assert!(
        output.status.success(),
        "juki {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A registry for 阿智村 with a pool of 1,000 codes and one clerk (an unsealed key), and the
/// clerk's key file.
fn town(tmp: &Path) -> (std::path::PathBuf, String) {
    let dir = tmp.join("registry");
    let (admin, national, block) =
        (tmp.join("admin.key"), tmp.join("national.key"), tmp.join("block.note"));
    ok(&[
        "init",
        "municipal",
        "--code",
        "204072",
        "--dir",
        p(&dir),
        "--admin-out",
        p(&admin),
        "--national-key-out",
        p(&national),
    ]);
    ok(&[
        "code-block",
        "issue",
        "--national-key",
        p(&national),
        "--municipality",
        "204072",
        "--first",
        "2040720000",
        "--count",
        "1000",
        "--out",
        p(&block),
    ]);
    ok(&["code-block", "add", "--dir", p(&dir), p(&block)]);
    let key = tmp.join("sato.key");
    let vkey = ok(&["key", "generate", "--name", "op.204072.juki.local/sato", "--out", p(&key)]);
    let enrolment = tmp.join("enrolment");
    ok(&[
        "operator",
        "enroll",
        "--admin-key",
        p(&admin),
        "--vkey",
        vkey.trim(),
        "--role",
        "clerk",
        "--out",
        p(&enrolment),
    ]);
    ok(&["registry", "submit", "--dir", p(&dir), p(&enrolment)]);
    (dir, p(&key).to_owned())
}

/// Registers a person moving in from abroad under the pool's code `ten`; returns the code.
fn move_in(dir: &Path, key: &str, ten: u64, identity: &[&str]) -> String {
    let code = ResidentCode::from_ten_digits(ten).unwrap().to_string();
    let mut args = vec!["resident", "move-in", "--dir", p(dir), "--key", key, "--code", &code];
    args.extend_from_slice(identity);
    args.push("--from-abroad");
    ok(&args);
    code
}

fn answers(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect()
}

#[test]
fn match_answers_csv_and_json_lines_one_line_each() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, key) = town(tmp.path());
    let sakiko = move_in(
        &dir,
        &key,
        2_040_720_101,
        &[
            "--name",
            "髙橋 﨑子",
            "--reading",
            "タカハシ サキコ",
            "--birth",
            "1975-03-04",
            "--sex",
            "2",
            "--address",
            "大字智里 1234番地",
        ],
    );
    let twin = move_in(
        &dir,
        &key,
        2_040_720_102,
        &[
            "--name",
            "髙橋 美咲",
            "--reading",
            "タカハシ ミサキ",
            "--birth",
            "1975-03-04",
            "--sex",
            "2",
            "--address",
            "大字智里 1234番地",
        ],
    );
    let hanako = move_in(
        &dir,
        &key,
        2_040_720_103,
        &[
            "--name",
            "山田 花子",
            "--reading",
            "ヤマダ ハナコ",
            "--birth",
            "1980-01-02",
            "--sex",
            "2",
            "--address",
            "大字駒場 10番地",
            "--former-name",
            "佐藤",
            "--former-reading",
            "サトウ",
        ],
    );
    let hajime = move_in(
        &dir,
        &key,
        2_040_720_104,
        &[
            "--name",
            "\u{FA19}田 一",
            "--reading",
            "カンダ ハジメ",
            "--birth",
            "1960-05-05",
            "--sex",
            "1",
            "--address",
            "大字春日 5番地",
        ],
    );

    // CSV from a file, with a byte-order mark as spreadsheets write it.
    let csv = tmp.path().join("requests.csv");
    std::fs::write(
        &csv,
        "\u{FEFF}name,reading,birth,sex,address\n\
         高橋　崎子,たかはし さきこ,S50.3.4,女,長野県下伊那郡阿智村智里1234\n\
         髙橋 優子,,1975-03-04,F,阿智村大字智里1234番地\n\
         佐藤 花子,さとう はなこ,昭和55年1月2日,female,阿智村駒場十番地\n\
         山田 花子,,1980-01-02,X,\n\
         山田 花子,,1980-01-02\n\
         \"山田 花子\",\"\",\"19800102\",\"2\",\"阿智村 駒場 10\"\n",
    )
    .unwrap();
    let args = ["match", "--dir", p(&dir), p(&csv)];
    let out = answers(&ok(&args));
    assert_eq!(out.len(), 6, "one answer per request: {out:?}");
    assert_eq!(out[0]["match"], sakiko.as_str());
    let first = &out[0]["candidates"][0];
    assert_eq!(first["code"], sakiko.as_str());
    assert_eq!(first["items"]["name"], "variant", "髙/高 and 﨑/崎: {first}");
    assert_eq!(first["items"]["birth"], "exact");
    assert_eq!(first["items"]["sex"], "exact");
    assert_eq!(first["items"]["address"], "variant");
    assert!(first["score"].as_f64().unwrap() > 0.9);
    assert_eq!(out[0]["candidates"][1]["code"], twin.as_str(), "the twin, behind");
    assert_eq!(out[1]["match"], serde_json::Value::Null, "a third twin is nobody: {}", out[1]);
    assert_eq!(out[2]["match"], hanako.as_str(), "by her former surname: {}", out[2]);
    assert_eq!(out[3]["error"]["code"], "bad-sex");
    assert_eq!(out[4]["error"]["code"], "bad-line");
    assert_eq!(out[5]["match"], hanako.as_str());
    for answer in &out[3..5] {
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(!message.contains("山田") && !message.contains("1980"), "{message}");
    }

    // JSON Lines on standard input.
    let mut child = juki()
        .args(["match", "--dir", p(&dir), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            "{\"name\":\"神田 一\",\"birth\":\"昭和35年5月5日\",\"sex\":\"男\",\"address\":\"阿智村大字春日5番地\"}\n\
             {\"name\":\"神田 一\",\"reading\":null,\"birth\":19600505}\n\
             \n\
             {\"name\":\"神田 一\"}\n\
             {\"name\":\"ｶﾝﾀﾞ ﾊｼﾞﾒ\",\"birth\":\"1960/5/5\"}\n\
             not json\n"
                .as_bytes(),
        )
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let out = answers(&succeeded(&["match"], output));
    assert_eq!(out.len(), 5, "{out:?}");
    assert_eq!(out[0]["match"], hajime.as_str(), "神 U+795E finds 神 U+FA19: {}", out[0]);
    assert_eq!(out[0]["candidates"][0]["items"]["name"], "variant");
    assert_eq!(out[1]["error"]["code"], "bad-line");
    assert!(!out[1]["error"]["message"].as_str().unwrap().contains("19600505"));
    assert_eq!(out[2]["error"]["code"], "not-enough-items");
    assert_eq!(out[3]["match"], hajime.as_str(), "by the reading alone: {}", out[3]);
    assert_eq!(out[3]["candidates"][0]["items"]["name"], "folded");
    assert_eq!(out[4]["error"]["code"], "bad-line");

    // A header without the name column is refused before anything is read.
    std::fs::write(&csv, "birth,sex\n1975-03-04,2\n").unwrap();
    let output = juki().args(["match", "--dir", p(&dir), p(&csv)]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no name column"));
}
