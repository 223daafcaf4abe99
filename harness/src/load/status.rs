//! Which answers a request template expects: `status: 404`, `status: [200, 404]` or
//! `status: 4xx`. A route that answers 404 or 401 by design is as worth leak-testing as one
//! that answers 200, so the expected statuses are part of the template, and only an answer
//! outside them counts as a failed request. Without `status`, any 2xx is expected.

use std::fmt;

/// One accepted status: an exact code or a class such as `4xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    /// Exactly this code, from 100 to 599.
    Code(u16),
    /// Any code of this hundred: `Class(4)` is `4xx`, 400 to 499.
    Class(u8),
}

impl StatusPattern {
    /// What a template without `status` expects: any 2xx.
    pub const SUCCESS: StatusPattern = StatusPattern::Class(2);

    /// Parses `404` or `4xx` (also `4XX`); `None` for anything else, including codes outside
    /// 100-599.
    pub fn parse(text: &str) -> Option<StatusPattern> {
        let text = text.trim();
        if let Some(digit) = text
            .strip_suffix("xx")
            .or_else(|| text.strip_suffix("XX"))
            .filter(|d| d.len() == 1)
        {
            let class = digit.parse::<u8>().ok().filter(|c| (1..=5).contains(c))?;
            return Some(StatusPattern::Class(class));
        }
        let code = text.parse::<u16>().ok()?;
        Self::code(code)
    }

    /// `Code(code)` when it is a real HTTP status (100 to 599).
    pub fn code(code: u16) -> Option<StatusPattern> {
        (100..=599)
            .contains(&code)
            .then_some(StatusPattern::Code(code))
    }

    /// Whether `status` is accepted.
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Code(code) => code == status,
            StatusPattern::Class(class) => status / 100 == u16::from(class),
        }
    }
}

impl fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusPattern::Code(code) => write!(f, "{code}"),
            StatusPattern::Class(class) => write!(f, "{class}xx"),
        }
    }
}

/// Whether `status` is one of `expected`.
pub fn expected(expected: &[StatusPattern], status: u16) -> bool {
    expected.iter().any(|p| p.matches(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_classes() {
        assert_eq!(StatusPattern::parse("404"), Some(StatusPattern::Code(404)));
        assert_eq!(StatusPattern::parse("4xx"), Some(StatusPattern::Class(4)));
        assert_eq!(StatusPattern::parse("5XX"), Some(StatusPattern::Class(5)));
        for bad in ["", "99", "600", "6xx", "0xx", "44xx", "x", "20o", "-1"] {
            assert_eq!(StatusPattern::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn matches_codes_and_classes() {
        let expect = [StatusPattern::Code(200), StatusPattern::Class(4)];
        assert!(expected(&expect, 200) && expected(&expect, 404) && expected(&expect, 499));
        assert!(!expected(&expect, 201) && !expected(&expect, 500));
        assert!(expected(&[StatusPattern::SUCCESS], 204));
        assert_eq!(StatusPattern::Class(4).to_string(), "4xx");
    }
}
