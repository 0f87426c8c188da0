//! Files and directories readable by their owner only.

use std::path::Path;

/// Creates `dir` (and its parents) readable by its owner only, or tightens it (and `files` in
/// it) when they exist with wider permissions. Returns what it tightened, for a warning.
pub fn ensure_private_dir(dir: &Path, files: &[&str]) -> Result<Vec<String>, String> {
    let shown = dir.display();
    let mut tightened = Vec::new();
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| format!("cannot create the data directory {shown}: {e}"))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let tighten = |path: &Path, mode: u32, tightened: &mut Vec<String>| {
            let Ok(meta) = std::fs::metadata(path) else {
                return Ok(());
            };
            let now = meta.permissions().mode() & 0o777;
            if now & 0o077 == 0 {
                return Ok(());
            }
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("cannot make {} private: {e}", path.display()))?;
            tightened.push(format!("{} (was {now:o}, now {mode:o})", path.display()));
            Ok::<(), String>(())
        };
        tighten(dir, 0o700, &mut tightened)?;
        for file in files {
            tighten(&dir.join(file), 0o600, &mut tightened)?;
        }
    }
    Ok(tightened)
}
