//! The differential test of local validation: every manifest of a corpus goes through
//! Converge's validation (what `converge local`, `--watch` and `plan` run) and through a real
//! kube-apiserver with the CRDs installed (`kubectl apply --dry-run=server`; a server-side
//! update for transition rules; a real create where only etcd can refuse, for size), and the
//! two decisions must agree. The corpus is hand-written (tests/invalid, tests/validation/cases)
//! and generated from the CRD schemas (tests/validation/corpus.rs) by mutating the examples.
//! The test prints the counts and fails naming every disagreement.

mod common;
#[path = "validation/corpus.rs"]
mod corpus;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::controlplane::{self, ControlPlane};
use converge_local::manifests::{self, yaml};
use converge_local::validation::{self, FieldValidation};
use serde_json::Value;

const NS: &str = "differential";

fn repo(p: &str) -> PathBuf {
    std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo")).join(p)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn kubectl(cp: &ControlPlane, args: &[&str]) -> Output {
    cp.kubectl().args(args).output().expect("kubectl runs")
}

async fn with_crds() -> &'static ControlPlane {
    let cp = controlplane::shared().await;
    common::converge::install_crds(cp);
    let out = kubectl(cp, &["create", "namespace", NS]);
    assert!(
        out.status.success() || text(&out).contains("AlreadyExists"),
        "{}",
        text(&out)
    );
    cp
}

/// A manifest file of the corpus and what each side decided.
struct Entry {
    what: String,
    /// The file applied (the new object of an update).
    file: PathBuf,
    /// The old object's file, for an update.
    old_file: Option<PathBuf>,
    /// Hand-written: the message both sides must show ("accept" for none).
    expect: Option<String>,
    size: bool,
    local: Option<Result<(), String>>,
    /// What Converge would store (a create it accepts): defaults applied.
    stored: Vec<Value>,
    server: Option<Result<(), String>>,
}

/// Converge's decision for a file: what `converge local` does on reading it.
fn local_create(file: &Path) -> (Result<(), String>, Vec<Value>) {
    let text = std::fs::read_to_string(file).unwrap();
    let loaded = manifests::parse(&text, file, NS);
    let objects: Vec<Value> = loaded.objects.iter().map(|l| l.object.clone()).collect();
    // What `kubectl apply` would refuse for its annotation is said, not refused.
    for o in &objects {
        if serde_json::to_vec(o).unwrap().len() > validation::CLIENT_SIDE_APPLY_BYTES {
            assert!(
                loaded
                    .warnings
                    .iter()
                    .any(|w| w.contains("kubectl apply --server-side")),
                "{}: no warning about client-side apply: {:?}",
                file.display(),
                loaded.warnings
            );
        }
    }
    if loaded.errors.is_empty() {
        (Ok(()), objects)
    } else {
        (Err(loaded.errors.join("\n")), objects)
    }
}

/// Converge's decision for an update: what `converge local --watch` does on a reload (the new
/// file read and admitted, then admitted as an update of the object it replaces).
fn local_update(old: &Path, new: &Path) -> Result<(), String> {
    let (created, olds) = local_create(old);
    if let Err(e) = created {
        return Err(format!("the old object is refused: {e}"));
    }
    let (read, news) = local_create(new);
    read?;
    for (new, old) in news.into_iter().zip(&olds) {
        validation::admit(new, Some(old), FieldValidation::Strict).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs kubectl on a directory; each file it names in its errors was refused.
fn server_decisions(
    cp: &ControlPlane,
    args: &[&str],
    files: &[&PathBuf],
) -> Vec<Result<(), String>> {
    if files.is_empty() {
        return Vec::new();
    }
    let dir = files[0].parent().unwrap();
    let mut all = args.to_vec();
    all.extend(["-n", NS, "-f", dir.to_str().unwrap()]);
    let out = kubectl(cp, &all);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let decisions: Vec<Result<(), String>> = files
        .iter()
        .map(|f| {
            let path = f.to_str().unwrap();
            let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(path)).collect();
            if lines.is_empty() {
                Ok(())
            } else {
                Err(lines.join("\n"))
            }
        })
        .collect();
    // Every file is accounted for: refused, or one object accepted.
    let accepted = stdout
        .lines()
        .filter(|l| {
            l.ends_with("(server dry run)")
                || l.ends_with(" created")
                || l.ends_with(" configured")
                || l.ends_with(" unchanged")
        })
        .count();
    let ok = decisions.iter().filter(|d| d.is_ok()).count();
    if accepted != ok {
        let _ = std::fs::write(dir.with_extension("stdout"), &stdout);
        let _ = std::fs::write(dir.with_extension("stderr"), &stderr);
    }
    assert_eq!(
        accepted,
        ok,
        "kubectl {args:?}: {accepted} object(s) accepted for {ok} file(s) without an error (output in {}.stdout and .stderr)",
        dir.display()
    );
    decisions
}

/// The CEL rules' messages, to check that each is exercised.
fn rule_messages() -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(rules) = o.get("x-kubernetes-validations").and_then(Value::as_array) {
                    out.extend(rules.iter().map(|r| {
                        r["message"].as_str().map(String::from).unwrap_or_else(|| {
                            format!("failed rule: {}", r["rule"].as_str().unwrap_or_default())
                        })
                    }));
                }
                o.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(
        &serde_json::to_value(converge_api::crds::all()).unwrap(),
        &mut out,
    );
    out.sort();
    out.dedup();
    out
}

fn seeds() -> Vec<Value> {
    let mut files = Vec::new();
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                collect(&p, out);
            } else if p.extension().is_some_and(|e| e == "yaml") {
                out.push(p);
            }
        }
    }
    collect(&repo("examples"), &mut files);
    let mut out = Vec::new();
    for f in files {
        for d in yaml::documents(&std::fs::read_to_string(&f).unwrap()).unwrap() {
            if let Some(v) = d.value
                && v["apiVersion"] == "converge.dev/v1alpha1"
            {
                out.push(v);
            }
        }
    }
    out
}

fn to_yaml(v: &Value) -> String {
    serde_yaml_ng::to_string(v).unwrap()
}

#[tokio::test]
async fn local_validation_decides_as_the_apiserver_does() {
    let cp = with_crds().await;
    let tmp = tempfile::tempdir().unwrap();
    // CONVERGE_KEEP_CORPUS=1 keeps the corpus as it was applied, to look at a disagreement.
    let (root, _guard) = if std::env::var_os("CONVERGE_KEEP_CORPUS").is_some() {
        let kept = tmp.keep();
        eprintln!("corpus kept in {}", kept.display());
        (kept, None)
    } else {
        (tmp.path().to_path_buf(), Some(tmp))
    };
    let sub = |name: &str| {
        let p = root.join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let (create_dir, old_dir, new_dir, size_dir) =
        (sub("create"), sub("old"), sub("new"), sub("size"));
    let mut entries: Vec<Entry> = Vec::new();

    // Generated: the examples mutated along their schemas. Each object gets its own name so
    // that the updates' old objects do not collide (unless the case is about the name).
    let generated = corpus::generate(&seeds());
    for (i, mut case) in generated.into_iter().enumerate() {
        let name = format!("g{i:04}");
        let seed_name = case.old.as_ref().unwrap_or(&case.new)["metadata"]["name"].clone();
        for v in std::iter::once(&mut case.new).chain(case.old.iter_mut()) {
            if v["metadata"]["name"] == seed_name {
                v["metadata"]["name"] = name.clone().into();
            }
        }
        let file_name = format!("{i:05}.yaml");
        // Over 256 KiB, `kubectl apply` (client-side) refuses an object for its own reason:
        // its copy in the last-applied-configuration annotation. Such objects are created
        // (`kubectl create`) to reach the apiserver's decision; Converge warns about them.
        let big = serde_json::to_vec(&case.new).unwrap().len()
            > validation::CLIENT_SIDE_APPLY_BYTES - 4096;
        if big && case.old.is_none() {
            case.size = true;
        }
        let (file, old_file) = match (&case.old, case.size) {
            (Some(old), _) => {
                let old_file = old_dir.join(&file_name);
                std::fs::write(&old_file, to_yaml(old)).unwrap();
                (new_dir.join(&file_name), Some(old_file))
            }
            (None, true) => (size_dir.join(&file_name), None),
            (None, false) => (create_dir.join(&file_name), None),
        };
        std::fs::write(&file, to_yaml(&case.new)).unwrap();
        entries.push(Entry {
            what: case.what,
            file,
            old_file,
            expect: None,
            size: case.size,
            local: None,
            stored: Vec::new(),
            server: None,
        });
    }
    let generated_count = entries.len();

    // Hand-written: each file on its own (some are not even YAML a batch would survive).
    let mut hand: Vec<(PathBuf, String)> = Vec::new();
    for dir in ["tests/invalid", "tests/validation/cases"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let name = f.file_name().unwrap().to_str().unwrap().to_string();
            // JSON has no comments: its file name says accept or refuse.
            let expect = if name.ends_with(".json") {
                if name.starts_with("json-accept") {
                    "accept"
                } else {
                    "refuse"
                }
                .to_string()
            } else {
                text.lines()
                    .next()
                    .and_then(|l| l.strip_prefix("# expect: "))
                    .unwrap_or_else(|| panic!("{}: first line is `# expect: ...`", f.display()))
                    .to_string()
            };
            hand.push((f, expect));
        }
    }
    for (i, (f, expect)) in hand.iter().enumerate() {
        let text = std::fs::read_to_string(f).unwrap();
        // An update: two documents, the old object and the new one (tests/invalid's
        // transition cases; `*.update.yaml` here).
        let update = f.to_str().unwrap().ends_with(".update.yaml")
            || (f.starts_with(repo("tests/invalid")) && text.contains("\n---\n"));
        let case_dir = sub(&format!("hand{i:03}"));
        let name = f.file_name().unwrap().to_str().unwrap();
        if update {
            let docs: Vec<&str> = text.splitn(2, "\n---\n").collect();
            assert_eq!(docs.len(), 2, "{}: an update is two documents", f.display());
            let old_file = case_dir.join(format!("old-{name}"));
            let new_dir = sub(&format!("hand{i:03}/new"));
            std::fs::write(&old_file, docs[0]).unwrap();
            let file = new_dir.join(name);
            std::fs::write(&file, docs[1]).unwrap();
            entries.push(Entry {
                what: format!("{} (hand-written update)", f.display()),
                file,
                old_file: Some(old_file),
                expect: Some(expect.clone()),
                size: false,
                local: None,
                stored: Vec::new(),
                server: None,
            });
        } else {
            let file = case_dir.join(name);
            std::fs::write(&file, &text).unwrap();
            entries.push(Entry {
                what: format!("{} (hand-written)", f.display()),
                file,
                old_file: None,
                expect: Some(expect.clone()),
                size: false,
                local: None,
                stored: Vec::new(),
                server: None,
            });
        }
    }

    // Converge's decisions.
    for e in entries.iter_mut() {
        e.local = Some(match &e.old_file {
            Some(old) => local_update(old, &e.file),
            None => {
                let (decision, stored) = local_create(&e.file);
                e.stored = stored;
                decision
            }
        });
    }

    // The apiserver's: generated creates in one batch; updates: the old objects created for
    // real, then the new ones applied as a dry run; large objects created for real.
    let pick = |f: &dyn Fn(&Entry) -> bool| -> Vec<usize> {
        (0..generated_count).filter(|i| f(&entries[*i])).collect()
    };
    let creates = pick(&|e| e.old_file.is_none() && !e.size);
    let updates = pick(&|e| e.old_file.is_some());
    let sizes = pick(&|e| e.size);
    fn files(entries: &[Entry], idx: &[usize], old: bool) -> Vec<PathBuf> {
        idx.iter()
            .map(|i| {
                if old {
                    entries[*i].old_file.clone().unwrap()
                } else {
                    entries[*i].file.clone()
                }
            })
            .collect()
    }
    let create_files = files(&entries, &creates, false);
    let decided = server_decisions(
        cp,
        &["apply", "--dry-run=server"],
        &create_files.iter().collect::<Vec<_>>(),
    );
    for (i, d) in creates.iter().zip(decided) {
        entries[*i].server = Some(d);
    }
    let old_files = files(&entries, &updates, true);
    let created = server_decisions(cp, &["apply"], &old_files.iter().collect::<Vec<_>>());
    // An update whose old object is refused is decided there (on both sides).
    let mut applied = Vec::new();
    for (i, c) in updates.iter().zip(created) {
        match c {
            Ok(()) => applied.push(*i),
            Err(e) => {
                entries[*i].server = Some(Err(format!("the old object is refused: {e}")));
                std::fs::remove_file(&entries[*i].file).unwrap();
            }
        }
    }
    let new_files = files(&entries, &applied, false);
    let decided = server_decisions(
        cp,
        &["apply", "--dry-run=server"],
        &new_files.iter().collect::<Vec<_>>(),
    );
    for (i, d) in applied.iter().zip(decided) {
        entries[*i].server = Some(d);
    }
    let size_files = files(&entries, &sizes, false);
    let decided = server_decisions(cp, &["create"], &size_files.iter().collect::<Vec<_>>());
    for (i, d) in sizes.iter().zip(decided) {
        entries[*i].server = Some(d);
    }
    for e in entries[generated_count..].iter_mut() {
        let decide = |args: &[&str], file: &Path| -> Result<(), String> {
            let mut all = args.to_vec();
            all.extend(["-n", NS, "-f", file.to_str().unwrap()]);
            let out = kubectl(cp, &all);
            if out.status.success() {
                Ok(())
            } else {
                Err(text(&out))
            }
        };
        e.server = Some(match &e.old_file {
            Some(old) => {
                decide(&["apply"], old).unwrap_or_else(|err| {
                    panic!("{}: the old object must be accepted: {err}", e.what)
                });
                decide(&["apply", "--dry-run=server"], &e.file)
            }
            None => decide(&["apply", "--dry-run=server"], &e.file),
        });
    }

    // Compare.
    let mut disagreements = Vec::new();
    // What both accept is stored alike: the apiserver's defaults are Converge's.
    let accepted: Vec<usize> = creates
        .iter()
        .copied()
        .filter(|i| {
            entries[*i].server.as_ref().unwrap().is_ok()
                && entries[*i].local.as_ref().unwrap().is_ok()
        })
        .collect();
    let mut args = vec!["apply", "--dry-run=server", "-o", "json", "-n", NS];
    let paths: Vec<String> = accepted
        .iter()
        .map(|i| entries[*i].file.to_str().unwrap().to_string())
        .collect();
    for p in &paths {
        args.extend(["-f", p.as_str()]);
    }
    let out = kubectl(cp, &args);
    assert!(out.status.success(), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = listed["items"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![listed.clone()]);
    let mut compared = 0;
    for i in &accepted {
        let e = &entries[*i];
        for local in &e.stored {
            let server = items
                .iter()
                .find(|o| {
                    o["kind"] == local["kind"] && o["metadata"]["name"] == local["metadata"]["name"]
                })
                .unwrap_or_else(|| panic!("{}: not in the apiserver's answer", e.what));
            for part in ["spec", "status", "data", "stringData", "type"] {
                if server.get(part) != local.get(part) {
                    disagreements.push(format!(
                        "{}: stored differently ({part})\n  file: {}\n  converge: {}\n  apiserver: {}",
                        e.what,
                        e.file.display(),
                        local.get(part).map(Value::to_string).unwrap_or_default(),
                        server.get(part).map(Value::to_string).unwrap_or_default()
                    ));
                }
            }
            compared += 1;
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &entries {
        let (local, server) = (e.local.as_ref().unwrap(), e.server.as_ref().unwrap());
        *counts
            .entry(match (local.is_ok(), server.is_ok()) {
                (true, true) => "both accept",
                (false, false) => "both refuse",
                (true, false) => "DISAGREE: only the apiserver refuses",
                (false, true) => "DISAGREE: only Converge refuses",
            })
            .or_default() += 1;
        if local.is_ok() != server.is_ok() {
            disagreements.push(format!(
                "{}\n  file: {}\n  converge: {}\n  apiserver: {}",
                e.what,
                e.file.display(),
                local
                    .as_ref()
                    .err()
                    .map_or("accepts".to_string(), |m| format!("refuses: {m}")),
                server
                    .as_ref()
                    .err()
                    .map_or("accepts".to_string(), |m| format!("refuses: {m}")),
            ));
            continue;
        }
        if let Some(expect) = &e.expect {
            let ok = match (expect.as_str(), local, server) {
                ("accept", Ok(()), Ok(())) => true,
                ("accept", _, _) => false,
                ("refuse", Err(_), Err(_)) => true,
                (m, Err(l), Err(s)) => l.contains(m) && s.contains(m),
                _ => false,
            };
            if !ok {
                disagreements.push(format!(
                    "{}: both {} but not with the expected message\n  expected: {expect}\n  converge: {local:?}\n  apiserver: {server:?}",
                    e.what,
                    if local.is_ok() { "accept" } else { "refuse" }
                ));
            }
        }
    }
    // Every CEL rule was exercised: some case the apiserver refused with its message.
    let refusals: String = entries
        .iter()
        .filter_map(|e| e.server.as_ref().unwrap().as_ref().err())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    let unexercised: Vec<String> = rule_messages()
        .into_iter()
        .filter(|m| !refusals.contains(m.as_str()))
        .collect();

    let refused = entries
        .iter()
        .filter(|e| e.server.as_ref().unwrap().is_err())
        .count();
    eprintln!(
        "differential corpus: {} manifests ({} generated from the CRD schemas, {} hand-written; {} updates, {} large); the apiserver refused {refused}, accepted {}",
        entries.len(),
        generated_count,
        entries.len() - generated_count,
        entries.iter().filter(|e| e.old_file.is_some()).count(),
        entries.iter().filter(|e| e.size).count(),
        entries.len() - refused,
    );
    for (k, v) in &counts {
        eprintln!("  {k}: {v}");
    }
    eprintln!(
        "  CEL rules exercised: {}/{}",
        rule_messages().len() - unexercised.len(),
        rule_messages().len()
    );
    eprintln!("  accepted objects stored alike (defaults applied): {compared}");
    assert!(
        entries.len() >= 150,
        "the corpus has {} manifests",
        entries.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n\n")
    );
    assert!(
        unexercised.is_empty(),
        "CEL rules no case exercises: {unexercised:#?}"
    );
}
