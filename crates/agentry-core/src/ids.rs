//! Identifiers: workflow slugs, node ids, prefixed ULIDs (api.md §1 "ID formats").

/// The slug rule (dsl.md §8): lowercase + trim; keep ASCII letters, digits, `_`, whitespace and
/// `-`; runs of whitespace/`_` become `-`; repeated `-` collapse; trim `-`; empty → `workflow`.
/// The result is cut to 100 characters so it always passes [`check_slug`].
pub fn slugify(name: &str) -> String {
    let lowered = name.trim().to_lowercase();
    let mut out = String::with_capacity(lowered.len());
    let mut pending_dash = false;
    for c in lowered.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c);
        } else if c == '-' || c == '_' || c.is_whitespace() {
            pending_dash = true;
        }
    }
    // Keep room for a `-NNN` suffix within the 100-char limit.
    out.truncate(90);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "workflow".to_string()
    } else {
        out
    }
}

/// `^[a-z0-9][a-z0-9_-]{0,99}$`
pub fn check_slug(slug: &str) -> Result<(), String> {
    let bytes = slug.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 100
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "slug '{slug}' must match ^[a-z0-9][a-z0-9_-]{{0,99}}$"
        ))
    }
}

/// Slugs that routing reserves (literal segments win over parameters).
pub const RESERVED_SLUGS: &[&str] = &[
    "node-types",
    "batch-delete",
    "validate-dsl",
    "dsl",
    "discover",
];

pub fn is_reserved_slug(slug: &str) -> bool {
    RESERVED_SLUGS.contains(&slug)
}

/// The n-th candidate for a taken slug: `base`, `base-1`, `base-2`, … (API), the DSL starts at 2.
pub fn slug_candidate(base: &str, n: u32) -> String {
    if n == 0 {
        base.to_string()
    } else {
        format!("{base}-{n}")
    }
}

/// Auto node id: `{component_type}_{hex}` (8 hex chars; 16 on a retry after a collision).
pub fn auto_node_id(component_type: &str, hex: &str) -> String {
    format!("{component_type}_{hex}")
}

/// A node id as the API accepts it: 1..100 printable characters without `/`, `?`, `#` or
/// whitespace, so it is usable in a URL path segment.
pub fn check_node_id(id: &str) -> Result<(), String> {
    let n = id.chars().count();
    if n == 0 || n > 100 {
        return Err("node_id must be 1 to 100 characters".into());
    }
    if id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '%'))
    {
        return Err(format!(
            "node_id '{id}' may not contain whitespace, '/', '?', '#' or '%'"
        ));
    }
    if id == "__end__" {
        return Err("node_id '__end__' is reserved".into());
    }
    Ok(())
}

/// `ep-` + ULID.
pub fn new_epic_id() -> String {
    format!("ep-{}", ulid::Ulid::generate())
}

/// `tk-` + ULID.
pub fn new_task_id() -> String {
    format!("tk-{}", ulid::Ulid::generate())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slug_examples() {
        assert_eq!(slugify("Hello Pipeline"), "hello-pipeline");
        assert_eq!(slugify("  Ops__Helper -- v2 "), "ops-helper-v2");
        assert_eq!(slugify("Café crème"), "caf-crme");
        assert_eq!(slugify("!!!"), "workflow");
        assert_eq!(slugify(""), "workflow");
        assert_eq!(slugify("-lead"), "lead");
        assert_eq!(slug_candidate("a", 0), "a");
        assert_eq!(slug_candidate("a", 2), "a-2");
    }

    #[test]
    fn slug_check() {
        assert!(check_slug("ops-helper").is_ok());
        assert!(check_slug("0_a").is_ok());
        assert!(check_slug("-a").is_err());
        assert!(check_slug("A").is_err());
        assert!(check_slug("").is_err());
        assert!(check_slug(&"a".repeat(101)).is_err());
        assert!(check_slug("héllo").is_err());
    }

    #[test]
    fn prefixed_ids() {
        let id = new_epic_id();
        assert!(id.starts_with("ep-"));
        assert_eq!(id.len(), 29);
        assert_eq!(new_task_id().len(), 29);
    }

    proptest! {
        #[test]
        fn slugify_always_yields_a_valid_slug(name in ".{0,200}") {
            let slug = slugify(&name);
            prop_assert!(check_slug(&slug).is_ok(), "{slug:?}");
            prop_assert!(check_slug(&slug_candidate(&slug, 999)).is_ok());
        }

        #[test]
        fn slugify_is_idempotent(name in ".{0,120}") {
            let once = slugify(&name);
            prop_assert_eq!(slugify(&once), once.clone());
        }
    }
}
