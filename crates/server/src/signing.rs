//! The deployment's Ed25519 key: it signs tree heads (see `proofs`), and keys derived from it
//! sign wallet links and console sessions, so both survive restarts and cannot be made without
//! the key. It lives in the data directory (`tree-signing.key`, created on first start,
//! readable only by its owner) unless `--signing-key FILE` names another.

use std::path::Path;
use std::sync::Arc;

use jifen_journal::ed25519_dalek::{SigningKey, VerifyingKey};
use jifen_journal::heads::key_id;
use jifen_journal::JournalError;
use serde_json::{json, Value};

/// The deployment's signing key.
pub struct TreeSigner {
    pub(crate) key: SigningKey,
}

impl TreeSigner {
    /// Reads the key file (64 hex digits: the Ed25519 seed), creating it when absent.
    pub fn load_or_create(path: &Path) -> Result<TreeSigner, String> {
        let shown = path.display();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                refuse_if_shared(path)?;
                let seed: [u8; 32] = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| format!("{shown}: not an Ed25519 seed (64 hex digits)"))?;
                Ok(TreeSigner {
                    key: SigningKey::from_bytes(&seed),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                write_private(path, &hex::encode(seed)).map_err(|e| format!("{shown}: {e}"))?;
                Ok(TreeSigner {
                    key: SigningKey::from_bytes(&seed),
                })
            }
            Err(e) => Err(format!("{shown}: {e}")),
        }
    }

    /// The key wallet links are signed with: derived from the seed, so links survive restarts.
    pub fn wallet_key(&self) -> [u8; 32] {
        self.derived_key(b"jifen-wallet-link-v1")
    }

    /// The key console sessions are signed with.
    pub fn session_key(&self) -> [u8; 32] {
        self.derived_key(b"jifen-console-session-v1")
    }

    /// A key for one purpose, derived from the seed.
    fn derived_key(&self, purpose: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::new()
            .chain_update(purpose)
            .chain_update(self.key.to_bytes())
            .finalize()
            .into()
    }

    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn public_json(&self) -> Value {
        let public = self.public();
        json!({
            "algorithm": "ed25519",
            "public_key": hex::encode(public.as_bytes()),
            "key_id": key_id(&public),
        })
    }
}

/// Refuses a key file that the file's group or other users can read or write: whoever reads
/// the seed can sign tree heads, console sessions and wallet links as this server.
fn refuse_if_shared(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "the signing key {} can be read by other users (mode {:o}); anyone who reads it can sign sessions, wallet links and tree heads as this server. Run `chmod 600 {}`, and if others may already have read it, replace it with a new key (see docs/API.md, Security model)",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// The deployment's signer: `--signing-key`, or the data directory's key file.
pub fn signer_for(data_dir: &Path, file: Option<&Path>) -> Result<Arc<TreeSigner>, JournalError> {
    let path = file.map_or_else(|| data_dir.join("tree-signing.key"), Path::to_path_buf);
    TreeSigner::load_or_create(&path)
        .map(Arc::new)
        .map_err(JournalError::Invalid)
}
