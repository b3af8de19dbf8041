//! Malformed platform responses never panic: a bounded, seeded fuzz run on stable over every
//! response decoder of the five clients (`converge_platforms::decoders`), the same functions the
//! cargo-fuzz targets in `fuzz/` drive without bounds.
//!
//! Inputs: the recorded sandbox answers in `fuzz/seeds/<platform>/`, structurally mutated
//! (a node replaced by another type, a huge or negative number, a deep nesting, a key renamed),
//! cut at every kind of byte offset, bit-flipped, plus JSON generated from the platforms' field
//! names. `CONVERGE_FUZZ_SEED` replays a run, `CONVERGE_FUZZ_ITERATIONS` changes its size.

use std::panic::{AssertUnwindSafe, catch_unwind};

use converge_platforms::decoders::{PLATFORMS, decode};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Map, Number, Value, json};

/// Field names the platforms' answers use, so that generated JSON reaches past the first
/// "missing field" error into the decoders' deeper paths.
const KEYS: &[&str] = &[
    "data",
    "payload",
    "status",
    "code",
    "message",
    "error",
    "errors",
    "detail",
    "details",
    "title",
    "type",
    "id",
    "name",
    "list",
    "count",
    "pagination",
    "paging",
    "index",
    "size",
    "total",
    "attributes",
    "relationships",
    "meta",
    "source",
    "pointer",
    "percent",
    "state",
    "app_id",
    "canonical",
    "environments",
    "created_at",
    "updated_at",
    "createdAt",
    "orgId",
    "projectId",
    "version",
    "versions",
    "basePath",
    "activeVersion",
    "pagination_concourse",
    "next",
    "previous",
    "since",
    "until",
    "upstreams",
    "targets",
    "host",
    "port",
    "labels",
    "active",
    "spec",
    "steps",
    "value",
    "Retry-After",
    "totalCount",
    "currentPage",
    "description",
];

fn seeds(platform: &str) -> Vec<Vec<u8>> {
    let dir =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("../../fuzz/seeds")
            .join(platform);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

fn scalar(rng: &mut StdRng) -> Value {
    match rng.random_range(0..12) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => json!(rng.random::<i64>()),
        3 => json!(u64::MAX),
        4 => json!(-1),
        5 => Number::from_f64(rng.random::<f64>() * 1e308).map_or(Value::Null, Value::Number),
        6 => json!(""),
        7 => json!("\u{0}\u{ffff}\u{1F600}"),
        8 => json!("x".repeat(rng.random_range(1..5_000))),
        9 => json!(KEYS.choose(rng).unwrap()),
        10 => json!("2026-13-45T99:99:99Z"),
        _ => json!(rng.random_range(0..3)),
    }
}

fn generate(rng: &mut StdRng, depth: usize) -> Value {
    if depth == 0 || rng.random_bool(0.3) {
        return scalar(rng);
    }
    if rng.random_bool(0.4) {
        Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| generate(rng, depth - 1))
                .collect(),
        )
    } else {
        let mut map = Map::new();
        for _ in 0..rng.random_range(0..6) {
            map.insert(
                KEYS.choose(rng).unwrap().to_string(),
                generate(rng, depth - 1),
            );
        }
        Value::Object(map)
    }
}

/// Every node of a JSON tree, as a path of steps.
fn paths(v: &Value, here: Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for k in m.keys() {
                let mut p = here.clone();
                p.push(Step::Key(k.clone()));
                paths(&m[k], p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = here.clone();
                p.push(Step::Index(i));
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(v, |v, s| match s {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Index(i) => &mut v[*i],
    })
}

fn deep(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// A structurally mutated copy of a valid answer.
fn mutate_tree(rng: &mut StdRng, mut doc: Value) -> Vec<u8> {
    for _ in 0..rng.random_range(1..4) {
        let mut all = Vec::new();
        paths(&doc, vec![], &mut all);
        let path = all.choose(rng).unwrap().clone();
        let node = at(&mut doc, &path);
        match rng.random_range(0..6) {
            0 => *node = scalar(rng),
            1 => *node = generate(rng, 4),
            2 => *node = Value::Array(vec![node.clone(), node.clone()]),
            3 => {
                if let Value::Object(m) = node
                    && let Some(k) = m.keys().next().cloned()
                {
                    let v = m.remove(&k).unwrap();
                    m.insert(format!("{k}_"), v);
                }
            }
            4 => {
                // Nesting just past serde_json's recursion limit, where the node was.
                *node = serde_json::from_str(&deep(120)).unwrap();
                *node = Value::Array(vec![node.clone(); 2]);
            }
            _ => *node = json!({"data": node.clone()}),
        }
    }
    serde_json::to_vec(&doc).unwrap()
}

/// A byte-level mutation: cut, flipped, spliced, or wrapped in garbage.
fn mutate_bytes(rng: &mut StdRng, mut body: Vec<u8>) -> Vec<u8> {
    match rng.random_range(0..6) {
        0 => {
            body.truncate(rng.random_range(0..=body.len()));
        }
        1 => {
            for _ in 0..rng.random_range(1..8) {
                if !body.is_empty() {
                    let i = rng.random_range(0..body.len());
                    body[i] ^= 1 << rng.random_range(0..8);
                }
            }
        }
        2 => {
            let i = rng.random_range(0..=body.len());
            let junk: &[u8] = [
                b"\xff\xfe".as_slice(),
                b"1e999999",
                b"-0.0e-999",
                b"18446744073709551616",
                b"\"\\ud800\"",
                b"null",
                b"}}]]",
                b"{\"a\":",
            ]
            .choose(rng)
            .unwrap();
            body.splice(i..i, junk.iter().copied());
        }
        3 => body = deep(rng.random_range(100..20_000)).into_bytes(),
        4 => {
            body = (0..rng.random_range(0..256))
                .map(|_| rng.random())
                .collect()
        }
        _ => {
            body.extend_from_slice(b" trailing");
        }
    }
    body
}

fn show(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    format!("{text:?} ({} bytes)", body.len())
}

#[test]
fn malformed_responses_never_panic_any_decoder() {
    let seed: u64 = std::env::var("CONVERGE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::random::<u32>() as u64);
    let iterations: usize = std::env::var("CONVERGE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3_000);
    let mut rng = StdRng::seed_from_u64(seed);
    // A panic is caught and reported with its input; keep the default hook's noise out.
    std::panic::set_hook(Box::new(|_| {}));

    let mut panics = Vec::new();
    let mut runs = 0;
    let mut accepted = 0;
    for platform in PLATFORMS {
        let seeds = seeds(platform);
        // The recorded answers decode: the decoders are wired to something real.
        let valid: usize = seeds.iter().map(|s| decode(platform, s)).sum();
        assert!(
            valid >= seeds.len(),
            "{platform}: seeds accepted {valid} times"
        );
        let trees: Vec<Value> = seeds
            .iter()
            .map(|s| serde_json::from_slice(s).unwrap())
            .collect();
        for i in 0..iterations {
            let pick = rng.random_range(0..seeds.len());
            let body = match i % 4 {
                0 => mutate_tree(&mut rng, trees[pick].clone()),
                1 => mutate_bytes(&mut rng, seeds[pick].clone()),
                2 => {
                    let tree = mutate_tree(&mut rng, trees[pick].clone());
                    mutate_bytes(&mut rng, tree)
                }
                _ => serde_json::to_vec(&generate(&mut rng, 6)).unwrap(),
            };
            runs += 1;
            match catch_unwind(AssertUnwindSafe(|| decode(platform, &body))) {
                Ok(n) => accepted += n,
                Err(e) => {
                    let why = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    panics.push(format!("{platform}: {why} on {}", show(&body)));
                }
            }
        }
    }
    let _ = std::panic::take_hook();
    eprintln!(
        "decoders: seed {seed} (CONVERGE_FUZZ_SEED replays it), {runs} malformed bodies over 5 \
         platforms, {accepted} decodes accepted, {} panics",
        panics.len()
    );
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}
