//! The placeholders of a lookup's query: `$1` for the key and nothing else, found the
//! way PostgreSQL's lexer would, outside string literals, quoted identifiers,
//! dollar-quoted strings and comments (so `'$2'` in a literal is not a parameter).

/// The query's placeholders are exactly `$1` (as often as it likes).
pub fn check_query(query: &str) -> Result<(), String> {
    if query.trim().is_empty() {
        return Err("is empty: write the query, with $1 for the key".into());
    }
    let params = placeholders(query);
    if let Some(other) = params.iter().find(|&&n| n != 1) {
        return Err(format!(
            "uses ${other}: the key is the only parameter, write it $1"
        ));
    }
    if params.is_empty() {
        return Err("has no $1: the key is passed as $1, e.g. `... WHERE phone = $1`".into());
    }
    Ok(())
}

/// The numbers of the `$n` placeholders in `query`, skipping string literals, quoted
/// identifiers, dollar-quoted strings and comments.
fn placeholders(query: &str) -> Vec<u64> {
    let b = query.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                // E'...' strings take backslash escapes; '' is a quote in any string.
                let escapes =
                    i > 0 && matches!(b[i - 1], b'e' | b'E') && (i < 2 || !ident(b[i - 2]));
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'$' if i == 0 || !ident(b[i - 1]) => {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                if end > start {
                    found.push(query[start..end].parse().unwrap_or(u64::MAX));
                    i = end;
                    continue;
                }
                // A dollar quote: $tag$ ... $tag$ (the tag may be empty).
                while end < b.len()
                    && (b[end].is_ascii_alphanumeric() || b[end] == b'_' || b[end] >= 0x80)
                {
                    end += 1;
                }
                if b.get(end) == Some(&b'$') {
                    let tag = &query[i..=end];
                    match query[end + 1..].find(tag) {
                        Some(close) => i = end + 1 + close + tag.len(),
                        None => i = b.len(),
                    }
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_outside_literals_and_comments() {
        assert_eq!(placeholders("SELECT a FROM t WHERE k = $1"), [1]);
        assert_eq!(placeholders("SELECT $1, $2, $10"), [1, 2, 10]);
        assert_eq!(placeholders("SELECT '$2', \"$3\" FROM t WHERE k = $1"), [1]);
        assert_eq!(placeholders("SELECT 'it''s $2' WHERE k = $1"), [1]);
        assert_eq!(placeholders("SELECT E'\\' $2' WHERE k = $1"), [1]);
        assert_eq!(
            placeholders("SELECT $$ $2 $$, $tag$ $3 $tag$ WHERE k = $1"),
            [1]
        );
        assert_eq!(
            placeholders("SELECT 1 -- $2\nWHERE k = $1 /* $3 /* $4 */ */"),
            [1]
        );
        assert_eq!(placeholders("SELECT a$2 FROM t WHERE k = $1"), [1]);
        assert_eq!(placeholders("SELECT 'unterminated $2"), Vec::<u64>::new());
    }

    #[test]
    fn the_query_must_use_exactly_dollar_one() {
        assert!(check_query("SELECT name FROM c WHERE phone = $1 OR alt = $1").is_ok());
        let none = check_query("SELECT name FROM c").unwrap_err();
        assert!(none.contains("$1"), "{none}");
        let two = check_query("SELECT name FROM c WHERE a = $1 AND b = $2").unwrap_err();
        assert!(two.contains("$2"), "{two}");
        assert!(check_query("  ").is_err());
    }
}
