//! What the thorough store check adds to SQLite's own: the text of the settings rows.

use crate::error::StoreResult;

/// Settings rows whose text is not UTF-8: damage inside a page, which SQLite's own check
/// cannot see, but which would stop the server reading them.
pub(crate) fn settings_not_text(conn: &rusqlite::Connection) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare("SELECT scope, key, value FROM settings")?;
    let mut rows = stmt.query([])?;
    let mut problems = Vec::new();
    while let Some(r) = rows.next()? {
        let text = |i| r.get_ref(i).map(|v| v.as_str().is_ok());
        if !(text(0)? && text(1)? && text(2)?) {
            let name = |i| {
                String::from_utf8_lossy(
                    r.get_ref(i)
                        .map_or(&[][..], |v| v.as_bytes().unwrap_or(&[])),
                )
                .into_owned()
            };
            problems.push(format!(
                "settings {}/{}: not valid UTF-8 text",
                name(0),
                name(1)
            ));
        }
    }
    Ok(problems)
}
