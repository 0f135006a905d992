//! `CHANGEME` placeholders still in the spec's values (not in its comments): the
//! example's guesses a user must replace before anything touches a real system.
//! `homelabgen check` lists them as warnings; `check --strict` (which the operator
//! targets of the Makefile run) refuses while any remains.

/// One placeholder: 1-based line and column, the line's text, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Placeholder {
    pub line: usize,
    pub column: usize,
    pub text: String,
    pub what: &'static str,
}

/// The all-zero ed25519 key of the example: a valid key nobody holds the private half of.
const ZERO_ED25519: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Every placeholder in the spec text, in file order. A YAML comment (`#` at the start
/// or after a blank, outside quotes) does not count: the example's comments say where
/// to change things and may stay. Inside a block scalar (`|`, `>`) every line is value.
pub fn find(text: &str) -> Vec<Placeholder> {
    let mut found = Vec::new();
    // Where each needle occurs: one search of the whole text each, not one per line
    // (each search sets up its own matcher, which cost more than the search itself).
    let changeme: Vec<usize> = text.match_indices("CHANGEME").map(|(at, _)| at).collect();
    let zero: Vec<usize> = text.match_indices(ZERO_ED25519).map(|(at, _)| at).collect();
    // Indentation of the line that opened a block scalar, while inside it.
    let mut block: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let value = match block {
            Some(opener) if line.trim().is_empty() || indent > opener => line,
            _ => {
                block = None;
                let value = strip_comment(line);
                let trimmed = value.trim_end();
                if trimmed.ends_with(['|', '>'])
                    || trimmed
                        .rsplit_once(' ')
                        .is_some_and(|(_, last)| is_block_indicator(last))
                {
                    block = Some(indent);
                }
                value
            }
        };
        // The line's value as a byte range of `text`.
        let start = line.as_ptr() as usize - text.as_ptr() as usize;
        let end = start + value.len();
        for at in within(&changeme, start, end.checked_sub("CHANGEME".len())) {
            let column = at - start;
            found.push(Placeholder {
                line: index + 1,
                column: value[..column].chars().count() + 1,
                text: line.trim().to_owned(),
                what: "a CHANGEME placeholder",
            });
        }
        if let Some(&at) = within(&zero, start, end.checked_sub(ZERO_ED25519.len())).first() {
            let at = at - start;
            if !value[at..].contains("CHANGEME") {
                found.push(Placeholder {
                    line: index + 1,
                    column: value[..at].chars().count() + 1,
                    text: line.trim().to_owned(),
                    what: "the example's all-zero SSH key",
                });
            }
        }
    }
    found
}

/// The offsets in `sorted` from `first` to `last` (inclusive): the matches that start
/// and end inside a value. None without a `last` or when `last < first`.
fn within(sorted: &[usize], first: usize, last: Option<usize>) -> &[usize] {
    let Some(last) = last.filter(|&last| last >= first) else {
        return &[];
    };
    let from = sorted.partition_point(|&at| at < first);
    let to = sorted.partition_point(|&at| at <= last);
    &sorted[from..to.max(from)]
}

fn is_block_indicator(word: &str) -> bool {
    let mut chars = word.chars();
    matches!(chars.next(), Some('|' | '>')) && chars.all(|c| matches!(c, '+' | '-' | '0'..='9'))
}

/// The line without its comment: `#` at the start or after whitespace, outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match quote {
            Some('\'') if c == '\'' => quote = None,
            Some('"') if c == '"' && previous != '\\' => quote = None,
            Some(_) => {}
            None if c == '#' && previous.is_whitespace() => return &line[..at],
            None if (c == '"' || c == '\'')
                && (previous.is_whitespace() || "[{:,".contains(previous)) =>
            {
                quote = Some(c)
            }
            None => {}
        }
        previous = c;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_count_comments_do_not() {
        let text = "# CHANGEME everything\nsite:\n  node: pve # CHANGEME: your node\n  url: https://github.com/CHANGEME/x.git # CHANGEME\n  keys:\n    - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA me@host\n  q: \"a # CHANGEME in quotes\"\n";
        let found = find(text);
        let at: Vec<(usize, usize)> = found.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(at, [(4, 27), (6, 19), (7, 11)], "{found:?}");
        assert_eq!(found[1].what, "the example's all-zero SSH key");
    }

    #[test]
    fn block_scalar_lines_are_values() {
        let text = "user_data: |\n  #cloud-config\n  # password: CHANGEME\nnext: 1 # CHANGEME\n";
        let found = find(text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].line, found[0].column), (3, 15));
    }

    #[test]
    fn a_placeholder_cut_by_a_comment_or_a_line_end_is_none() {
        assert!(find("a: CHANGE # ME\nb: CHANGEM\nE\n").is_empty());
        let found = find("CHANGEME\nx: CHANGEME CHANGEME\n");
        let at: Vec<(usize, usize)> = found.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(at, [(1, 1), (2, 4), (2, 13)]);
        assert!(find("k: AAAAC3NzaC1lZDI1NTE5 # AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n").is_empty());
    }

    #[test]
    fn a_clean_spec_has_none() {
        assert!(find("site:\n  node: pve1 # CHANGEME: was pve\n").is_empty());
    }
}
