//! Sections of Markdown files that tasks regenerate, between two marker
//! comments, leaving the hand-written text around them alone.

use std::path::Path;

/// Replaces the section of `path` between the markers `begin` and `end`
/// with `section` (appending it, with its markers, when the file has none
/// yet).
pub(crate) fn splice(path: &Path, begin: &str, end: &str, section: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{begin}\n{section}{end}\n");
    let updated = match (text.find(begin), text.find(end)) {
        (Some(from), Some(to)) if from < to => format!(
            "{}{block}{}",
            &text[..from],
            &text[to + end.len()..].trim_start_matches('\n')
        ),
        _ if text.is_empty() => block,
        _ => format!("{}\n\n{block}", text.trim_end()),
    };
    std::fs::write(path, updated).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_between_the_markers_and_appends_when_missing() {
        let dir = std::env::temp_dir().join(format!("xtask-splice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("BENCH.md");
        std::fs::write(&path, "# Title\n\nintro\n").unwrap();
        splice(&path, "<!-- a -->", "<!-- /a -->", "one\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# Title\n\nintro\n\n<!-- a -->\none\n<!-- /a -->\n"
        );
        std::fs::write(&path, "# Title\n<!-- a -->\nold\n<!-- /a -->\n\nafter\n").unwrap();
        splice(&path, "<!-- a -->", "<!-- /a -->", "new\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# Title\n<!-- a -->\nnew\n<!-- /a -->\nafter\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
