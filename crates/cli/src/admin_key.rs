//! `jifen admin-key rotate`: revoke every admin key and make a new one, shown once. For a
//! generated admin key that may have leaked (a chosen one is rotated by setting a new
//! `JIFEN_ADMIN_KEY` and restarting).

use jifen_server::keys::{self, KeyRecord, Role, KEYS_SCOPE};

use crate::store_cmds::StoreArgs;
use crate::usage;

#[derive(clap::Subcommand)]
pub enum AdminKeyCmd {
    /// Revoke every admin key and print a new one, once (with the server stopped).
    Rotate,
}

pub fn run(store: &StoreArgs, cmd: AdminKeyCmd) -> anyhow::Result<()> {
    match cmd {
        AdminKeyCmd::Rotate => rotate(store),
    }
}

fn rotate(store: &StoreArgs) -> anyhow::Result<()> {
    let _lock = store.lock_for_writing("jifen admin-key rotate")?;
    let mut s = store.open()?;
    let now = jifen_journal::time::now_ms();
    let mut revoked = 0;
    for (id, text) in s.kv_list(KEYS_SCOPE)? {
        let Ok(mut record) = serde_json::from_str::<KeyRecord>(&text) else {
            continue;
        };
        if record.role == Role::Admin && record.revoked_ms.is_none() {
            record.revoked_ms = Some(now);
            s.kv_put(KEYS_SCOPE, &id, &serde_json::to_string(&record)?)?;
            revoked += 1;
        }
    }
    let (key, record) = keys::generate(Role::Admin, None, None, now)
        .map_err(|e| usage(format!("no randomness: {e}")))?;
    s.kv_put(KEYS_SCOPE, &record.id, &serde_json::to_string(&record)?)?;
    eprintln!(
        "revoked {revoked} admin key(s); a server started with JIFEN_ADMIN_KEY adds that one back"
    );
    println!("admin key (shown once; only its hash is stored): {key}");
    Ok(())
}
