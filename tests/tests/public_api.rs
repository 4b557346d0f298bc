//! latchkey-core's public API stays Latchkey's own: no public item (type, field, function
//! signature, trait implementation) mentions a rustls, rustls-pki-types or webpki type, so a
//! rustls upgrade cannot break an integrator, and no public path hands out the TLS handshake
//! secrets (the TLS 1.2 master secret or the TLS 1.3 exporter secret).
//!
//! Read from rustdoc's JSON output (`cargo +nightly rustdoc --output-format json`, default
//! features, as an integrator builds it). Needs the nightly toolchain: `.ci/run` installs it,
//! and this test fails, never skips, without it.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const FOREIGN: &[&str] = &["rustls", "rustls_pki_types", "webpki"];
/// Names that would mean the handshake secrets are reachable.
const SECRET_NAMES: &[&str] = &[
    "HandshakeSecrets",
    "SecretCatcher",
    "take_secrets",
    "master_secret",
    "exporter_secret",
];

fn rustdoc_json() -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target").join("public-api");
    let status = Command::new("cargo")
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .args([
            "+nightly",
            "rustdoc",
            "-q",
            "-p",
            "latchkey-core",
            "--lib",
            "--",
            "-Z",
            "unstable-options",
            "--output-format",
            "json",
        ])
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "cargo +nightly rustdoc failed ({status}): install the nightly toolchain \
         (rustup toolchain install nightly --profile minimal)"
    );
    let path = target.join("doc").join("latchkey_core.json");
    serde_json::from_slice(&std::fs::read(&path).expect("rustdoc JSON written"))
        .expect("rustdoc JSON parses")
}

/// Every item reachable from the crate root through public modules, re-exports, types'
/// fields, variants and impls (inherent and trait impls alike).
fn reachable(doc: &Value) -> Vec<&Value> {
    let index = doc["index"].as_object().expect("index");
    let mut seen = HashSet::new();
    let mut todo = vec![doc["root"].clone()];
    let mut out = Vec::new();
    while let Some(id) = todo.pop() {
        let key = id.to_string();
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(item) = index.get(&key) else {
            continue; // an item of another crate
        };
        out.push(item);
        let inner = &item["inner"];
        let mut push = |v: &Value| {
            if let Some(a) = v.as_array() {
                todo.extend(a.iter().filter(|x| !x.is_null()).cloned());
            }
        };
        if let Some(m) = inner.get("module") {
            push(&m["items"]);
        }
        if let Some(u) = inner.get("use") {
            push(&Value::Array(vec![u["id"].clone()]));
        }
        for kind in ["struct", "enum", "union", "trait"] {
            if let Some(t) = inner.get(kind) {
                push(&t["impls"]);
                push(&t["variants"]);
                push(&t["items"]);
                if let Some(k) = t.get("kind") {
                    push(&k["plain"]["fields"]);
                    push(&k["tuple"]);
                }
            }
        }
        if let Some(v) = inner.get("variant") {
            if let Some(k) = v.get("kind") {
                push(&k["tuple"]);
                push(&k["struct"]["fields"]);
            }
        }
        if let Some(i) = inner.get("impl") {
            push(&i["items"]);
        }
    }
    out
}

/// The foreign paths an item's JSON mentions.
fn foreign_refs(
    v: &Value,
    paths: &serde_json::Map<String, Value>,
    crates: &Value,
    acc: &mut BTreeSet<String>,
) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "resolved_path" || k == "trait" {
                    if let Some(p) = paths.get(&x["id"].to_string()) {
                        let krate = crates[p["crate_id"].to_string()]["name"]
                            .as_str()
                            .unwrap_or("");
                        if FOREIGN.contains(&krate) {
                            acc.insert(
                                p["path"]
                                    .as_array()
                                    .map(|a| {
                                        a.iter()
                                            .filter_map(|s| s.as_str())
                                            .collect::<Vec<_>>()
                                            .join("::")
                                    })
                                    .unwrap_or_default(),
                            );
                        }
                    }
                }
                foreign_refs(x, paths, crates, acc);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| foreign_refs(x, paths, crates, acc)),
        _ => {}
    }
}

#[test]
fn public_api_has_no_rustls_types_and_no_tls_secrets() {
    let doc = rustdoc_json();
    let paths = doc["paths"].as_object().expect("paths");
    let crates = &doc["external_crates"];
    let items = reachable(&doc);
    let mut offenders = Vec::new();
    let mut types = 0;
    let mut named = 0;
    for item in &items {
        let name = item["name"].as_str().unwrap_or("(impl)");
        let kind = item["inner"]
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default();
        if ["struct", "enum", "trait", "type_alias", "union"].contains(&kind.as_str()) {
            types += 1;
        }
        if !["impl", "use"].contains(&kind.as_str()) {
            named += 1;
        }
        let mut acc = BTreeSet::new();
        foreign_refs(&item["inner"], paths, crates, &mut acc);
        for f in acc {
            offenders.push(format!("{kind} {name}: {f}"));
        }
        if SECRET_NAMES.contains(&name) {
            offenders.push(format!("{kind} {name}: exposes TLS secrets"));
        }
    }
    println!("latchkey-core public API: {types} types, {named} named items");
    // The walk found the API (a broken walk would find nothing and pass).
    assert!(
        types > 40,
        "only {types} public types found: the walk is broken"
    );
    assert!(
        items
            .iter()
            .any(|i| i["name"].as_str() == Some("SupplicantBuilder")),
        "the front door was not found"
    );
    assert!(
        offenders.is_empty(),
        "public items that mention foreign TLS types or expose secrets:\n  {}",
        offenders.join("\n  ")
    );
}
