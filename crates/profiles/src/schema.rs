//! Checks a profile against Apple's own payload schema: the YAML files of apple/device-management
//! (`mdm/profiles/*.yaml`, with `TopLevel.yaml` and `CommonPayloadKeys.yaml`). Every key must be
//! known for its payload type, of the right type, within its `rangelist` and `format`, supported
//! on every platform the profile targets; required keys must be present; payload identifiers and
//! UUIDs unique within the profile.

use plist::Value;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

#[derive(Debug, Deserialize)]
struct SchemaFile {
    payload: PayloadHead,
    #[serde(default)]
    payloadkeys: Vec<KeySpec>,
}

#[derive(Debug, Deserialize)]
struct PayloadHead {
    payloadtype: String,
    #[serde(rename = "supportedOS", default)]
    supported_os: BTreeMap<String, OsSupport>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct OsSupport {
    introduced: Option<serde_yaml::Value>,
    removed: Option<serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
struct KeySpec {
    key: String,
    #[serde(rename = "type")]
    ty: String,
    presence: Option<String>,
    rangelist: Option<Vec<serde_yaml::Value>>,
    format: Option<String>,
    #[serde(rename = "supportedOS")]
    supported_os: Option<BTreeMap<String, OsSupport>>,
    #[serde(default)]
    subkeys: Vec<KeySpec>,
}

/// Apple's schema, loaded from a folder of its YAML files.
#[derive(Debug)]
pub struct Schema {
    top: SchemaFile,
    common: SchemaFile,
    payloads: HashMap<String, SchemaFile>,
}

/// Loading the schema failed.
#[derive(Debug, thiserror::Error)]
#[error("Apple schema file {path}: {reason}")]
pub struct SchemaError {
    pub path: String,
    pub reason: String,
}

impl Schema {
    /// Reads `TopLevel.yaml`, `CommonPayloadKeys.yaml` and every other `*.yaml` (one payload type
    /// each) in `dir`.
    pub fn load(dir: &Path) -> Result<Schema, SchemaError> {
        let read = |path: &Path| -> Result<SchemaFile, SchemaError> {
            let err = |reason: String| SchemaError {
                path: path.display().to_string(),
                reason,
            };
            let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
            serde_yaml::from_str(&text).map_err(|e| err(e.to_string()))
        };
        let entries = std::fs::read_dir(dir).map_err(|e| SchemaError {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut top = None;
        let mut common = None;
        let mut payloads = HashMap::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let file = read(&path)?;
            match file.payload.payloadtype.as_str() {
                "TopLevel" => top = Some(file),
                "CommonPayloadKeys" => common = Some(file),
                other => {
                    payloads.insert(other.to_string(), file);
                }
            }
        }
        let missing = |name: &str| SchemaError {
            path: dir.join(name).display().to_string(),
            reason: "missing".into(),
        };
        Ok(Schema {
            top: top.ok_or_else(|| missing("TopLevel.yaml"))?,
            common: common.ok_or_else(|| missing("CommonPayloadKeys.yaml"))?,
            payloads,
        })
    }

    /// Payload types the schema knows.
    pub fn payload_types(&self) -> Vec<&str> {
        self.payloads.keys().map(String::as_str).collect()
    }

    /// Every problem of `profile` (an unsigned profile's plist bytes) for installation on each of
    /// `platforms` (Apple's names: "macOS", "iOS", ...). Empty means valid.
    pub fn check(&self, profile: &[u8], platforms: &[&str]) -> Vec<String> {
        let mut problems = Vec::new();
        let root = match Value::from_reader(std::io::Cursor::new(profile)) {
            Ok(Value::Dictionary(d)) => d,
            Ok(_) => return vec!["the profile is not a dictionary".into()],
            Err(e) => return vec![format!("the profile does not parse as a plist: {e}")],
        };
        for os in platforms {
            if !supported(&self.top.payload.supported_os, None, os) {
                problems.push(format!("profiles are not supported on {os}"));
            }
        }
        // PayloadContent's items are checked against their own payload types below.
        let top_keys: Vec<&KeySpec> = self.top.payloadkeys.iter().collect();
        check_dict(
            "profile",
            &root,
            &top_keys,
            &self.top.payload.supported_os,
            platforms,
            &["PayloadContent"],
            &mut problems,
        );
        let items = match root.get("PayloadContent") {
            Some(Value::Array(items)) => items,
            _ => return problems,
        };
        let mut identifiers = HashSet::new();
        let mut uuids = HashSet::new();
        if let Some(Value::String(id)) = root.get("PayloadIdentifier") {
            identifiers.insert(id.clone());
        }
        if let Some(Value::String(uuid)) = root.get("PayloadUUID") {
            uuids.insert(uuid.to_ascii_uppercase());
        }
        for (i, item) in items.iter().enumerate() {
            let Value::Dictionary(dict) = item else {
                problems.push(format!("PayloadContent[{i}] is not a dictionary"));
                continue;
            };
            let Some(Value::String(ptype)) = dict.get("PayloadType") else {
                problems.push(format!("PayloadContent[{i}] has no PayloadType string"));
                continue;
            };
            let at = format!("PayloadContent[{i}] ({ptype})");
            let Some(schema) = self.payloads.get(ptype) else {
                problems.push(format!("{at}: payload type unknown to the schema"));
                continue;
            };
            for os in platforms {
                if !supported(&schema.payload.supported_os, None, os) {
                    problems.push(format!("{at}: payload type not supported on {os}"));
                }
            }
            let keys: Vec<&KeySpec> = self
                .common
                .payloadkeys
                .iter()
                .chain(schema.payloadkeys.iter())
                .collect();
            check_dict(
                &at,
                dict,
                &keys,
                &schema.payload.supported_os,
                platforms,
                &[],
                &mut problems,
            );
            if let Some(Value::String(id)) = dict.get("PayloadIdentifier") {
                if !identifiers.insert(id.clone()) {
                    problems.push(format!("{at}: PayloadIdentifier {id} is not unique"));
                }
            }
            if let Some(Value::String(uuid)) = dict.get("PayloadUUID") {
                if !uuids.insert(uuid.to_ascii_uppercase()) {
                    problems.push(format!("{at}: PayloadUUID {uuid} is not unique"));
                }
            }
        }
        problems
    }
}

fn check_dict(
    at: &str,
    dict: &plist::Dictionary,
    specs: &[&KeySpec],
    parent_os: &BTreeMap<String, OsSupport>,
    platforms: &[&str],
    skip_children_of: &[&str],
    problems: &mut Vec<String>,
) {
    let any = specs.iter().find(|s| s.key == "ANY");
    for (key, value) in dict {
        let spec = specs.iter().find(|s| s.key == *key).or(any);
        let Some(spec) = spec else {
            problems.push(format!("{at}: key {key} is not in the schema"));
            continue;
        };
        let here = format!("{at}.{key}");
        for os in platforms {
            if !supported(parent_os, spec.supported_os.as_ref(), os) {
                problems.push(format!("{here}: not supported on {os}"));
            }
        }
        check_value(&here, value, spec, problems);
        if skip_children_of.contains(&key.as_str()) {
            continue;
        }
        let inherited = effective_os(parent_os, spec.supported_os.as_ref());
        match value {
            Value::Dictionary(child) if !spec.subkeys.is_empty() => {
                // Apple writes a dictionary of free keys (ConsentText: language -> text) as one
                // required `<Key>Item` dictionary whose subkey is ANY: its entries are the
                // dictionary's own.
                let entries = match spec.subkeys.as_slice() {
                    [item] if item.ty == "<dictionary>" && item.key == format!("{key}Item") => {
                        &item.subkeys
                    }
                    _ => &spec.subkeys,
                };
                let child_specs: Vec<&KeySpec> = entries.iter().collect();
                check_dict(
                    &here,
                    child,
                    &child_specs,
                    &inherited,
                    platforms,
                    &[],
                    problems,
                );
            }
            Value::Array(items) if !spec.subkeys.is_empty() => {
                let item_spec = &spec.subkeys[0];
                for (i, item) in items.iter().enumerate() {
                    let item_at = format!("{here}[{i}]");
                    check_value(&item_at, item, item_spec, problems);
                    if let Value::Dictionary(child) = item {
                        let child_specs: Vec<&KeySpec> = item_spec.subkeys.iter().collect();
                        if !child_specs.is_empty() {
                            check_dict(
                                &item_at,
                                child,
                                &child_specs,
                                &inherited,
                                platforms,
                                &[],
                                problems,
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for spec in specs {
        if spec.key != "ANY"
            && spec.presence.as_deref() == Some("required")
            && !dict.contains_key(&spec.key)
        {
            problems.push(format!("{at}: required key {} is missing", spec.key));
        }
    }
}

fn check_value(at: &str, value: &Value, spec: &KeySpec, problems: &mut Vec<String>) {
    let type_ok = match spec.ty.as_str() {
        "<string>" => matches!(value, Value::String(_)),
        "<integer>" => matches!(value, Value::Integer(_)),
        "<boolean>" => matches!(value, Value::Boolean(_)),
        "<real>" => matches!(value, Value::Real(_) | Value::Integer(_)),
        "<date>" => matches!(value, Value::Date(_)),
        "<data>" => matches!(value, Value::Data(_)),
        "<array>" => matches!(value, Value::Array(_)),
        "<dictionary>" => matches!(value, Value::Dictionary(_)),
        "<any>" => true,
        other => {
            problems.push(format!("{at}: schema type {other} not understood"));
            return;
        }
    };
    if !type_ok {
        problems.push(format!("{at}: expected {}, found {}", spec.ty, kind(value)));
        return;
    }
    if let Some(range) = &spec.rangelist {
        if !range.iter().any(|allowed| same(value, allowed)) {
            problems.push(format!("{at}: value {value:?} is not in its rangelist"));
        }
    }
    if let (Some(format), Value::String(s)) = (&spec.format, value) {
        match regex::Regex::new(format) {
            Ok(re) if re.is_match(s) => {}
            Ok(_) => problems.push(format!("{at}: {s:?} does not match {format}")),
            Err(e) => problems.push(format!("{at}: schema format {format} unreadable: {e}")),
        }
    }
}

fn same(value: &Value, allowed: &serde_yaml::Value) -> bool {
    match (value, allowed) {
        (Value::String(a), serde_yaml::Value::String(b)) => a == b,
        (Value::Integer(a), serde_yaml::Value::Number(b)) => {
            a.as_signed().is_some_and(|a| b.as_i64() == Some(a))
        }
        (Value::Real(a), serde_yaml::Value::Number(b)) => b.as_f64() == Some(*a),
        (Value::Boolean(a), serde_yaml::Value::Bool(b)) => a == b,
        _ => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "<string>",
        Value::Integer(_) => "<integer>",
        Value::Boolean(_) => "<boolean>",
        Value::Real(_) => "<real>",
        Value::Date(_) => "<date>",
        Value::Data(_) => "<data>",
        Value::Array(_) => "<array>",
        Value::Dictionary(_) => "<dictionary>",
        _ => "<other>",
    }
}

/// A key's `supportedOS` overrides its payload's per platform; platforms it does not name inherit.
fn effective_os(
    parent: &BTreeMap<String, OsSupport>,
    own: Option<&BTreeMap<String, OsSupport>>,
) -> BTreeMap<String, OsSupport> {
    let mut out = parent.clone();
    for (os, support) in own.into_iter().flatten() {
        let entry = out.entry(os.clone()).or_default();
        if support.introduced.is_some() {
            entry.introduced = support.introduced.clone();
        }
        if support.removed.is_some() {
            entry.removed = support.removed.clone();
        }
    }
    out
}

fn supported(
    parent: &BTreeMap<String, OsSupport>,
    own: Option<&BTreeMap<String, OsSupport>>,
    os: &str,
) -> bool {
    let os_map = effective_os(parent, own);
    let Some(support) = os_map.get(os) else {
        return false;
    };
    let yes = |v: &Option<serde_yaml::Value>| match v {
        Some(serde_yaml::Value::String(s)) => s != "n/a",
        Some(serde_yaml::Value::Number(_)) => true,
        _ => false,
    };
    yes(&support.introduced) && !yes(&support.removed)
}
