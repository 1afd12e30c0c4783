//! Verification (phase 5): per destination folder, the source messages against the destination's,
//! by identity and counted (a message the source holds twice must be there twice), with the list
//! of source messages missing on the destination and the reason on record for each.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::error::{ErrorClass, SyncError};
use crate::identity::{pair_up, Identity, IdentityCounter};
use crate::mapping::{self, MappingRules};
use crate::report::{FolderVerification, MissingMessage, Verification};
use crate::side::{Destination, Source};
use crate::{account_key, SharedState};

/// Compares every mapped source folder with its destination folder. Reads only.
pub async fn verify_account<S: Source, D: Destination>(
    source: Arc<S>,
    dest: Arc<D>,
    state: Option<SharedState>,
    rules: &MappingRules,
) -> Result<Verification, SyncError> {
    let src_err = |error| SyncError::Source {
        source_name: source.describe(),
        error,
    };
    let dst_err = |error| SyncError::Destination {
        dest: dest.describe(),
        error,
    };
    let account = account_key(source.as_ref(), dest.as_ref());
    let sfolders = source.folders().await.map_err(src_err)?;
    let sns = source.namespace().await.map_err(src_err)?;
    let dfolders = dest.folders().await.map_err(dst_err)?;
    let dns = dest.namespace().await.map_err(dst_err)?;
    let listed: Vec<_> = sfolders.iter().map(|f| f.folder.clone()).collect();
    let plan = mapping::plan(&listed, &sns, &dfolders, &dns, rules);

    // Reasons on record, by (folder, key).
    let mut reasons: HashMap<(String, String), String> = HashMap::new();
    // Messages the review phase resolved (delivered wrapped, or exported to an mbox): not
    // missing, counted apart.
    let mut resolved: std::collections::HashSet<(String, String)> = Default::default();
    if let Some(st) = &state {
        let rows = {
            let db = st.lock().unwrap_or_else(|p| p.into_inner());
            db.resolutions(Some(&account))?
        };
        resolved.extend(
            rows.into_iter()
                .filter(|r| r.done)
                .map(|r| (r.failure.source_folder, r.failure.source_key)),
        );
    }
    if let Some(st) = &state {
        let rows = {
            let db = st.lock().unwrap_or_else(|p| p.into_inner());
            db.failures(&account)?
        };
        for r in rows {
            let class: ErrorClass =
                serde_json::from_value(serde_json::Value::String(r.class.clone()))
                    .unwrap_or(ErrorClass::Other);
            reasons.insert(
                (r.source_folder.clone(), r.source_key.clone()),
                format!("{}: {} ({})", r.class, r.server_text, class.advice()),
            );
        }
    }

    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &plan.folders {
        groups
            .entry(m.dest.clone())
            .or_default()
            .push(m.source.clone());
    }
    let mut out = Verification {
        account,
        ..Default::default()
    };
    for (dest_folder, sources) in groups {
        let exists = dfolders.iter().any(|f| f.name == dest_folder);
        let mut counter = IdentityCounter::new();
        if exists {
            for d in dest.identities(&dest_folder, 1).await.map_err(dst_err)? {
                counter.add(d.identity, d.uid, d.size);
            }
        }
        let dest_total = counter.total() as u64;
        let mut fv = FolderVerification {
            sources: sources.clone(),
            dest: dest_folder.clone(),
            ..Default::default()
        };
        for folder in &sources {
            let metas = source.list(folder, 1).await.map_err(src_err)?;
            let headers = source
                .identity_headers(folder, &metas)
                .await
                .map_err(src_err)?;
            let ids: HashMap<String, Identity> = headers
                .iter()
                .map(|(k, h)| (k.clone(), Identity::of(h)))
                .collect();
            fv.source_messages += metas.len() as u64;
            let wanted: Vec<(Identity, usize, u64)> = metas
                .iter()
                .enumerate()
                .filter_map(|(i, m)| ids.get(&m.key).map(|id| (id.clone(), i, m.size)))
                .collect();
            let (_, missing) = pair_up(wanted, &mut counter);
            for i in missing {
                let m = &metas[i];
                if resolved.contains(&(folder.clone(), m.key.clone())) {
                    fv.resolved += 1;
                    continue;
                }
                fv.missing.push(MissingMessage {
                    folder: folder.clone(),
                    uid: m.uid,
                    key: m.key.clone(),
                    size: m.size,
                    reason: reasons.get(&(folder.clone(), m.key.clone())).cloned(),
                });
            }
        }
        fv.dest_other = counter.total() as u64;
        fv.dest_matching = dest_total - fv.dest_other;
        out.source_messages += fv.source_messages;
        out.missing += fv.missing.len() as u64;
        out.folders.push(fv);
    }
    Ok(out)
}
