//! Field validation with French messages, collected so a form shows every mistake at once.

use crate::error::FieldError;
use crate::{Error, Result};

#[derive(Default)]
pub struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Trimmed text with a length (in characters) between `min` and `max`.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        let value = value.trim();
        let len = value.chars().count();
        if len < min {
            if min == 1 {
                self.fail(field, "Ce champ est obligatoire.");
            } else {
                self.fail(field, format!("Doit contenir au moins {min} caractères."));
            }
        } else if len > max {
            self.fail(field, format!("Ne doit pas dépasser {max} caractères."));
        }
        value.to_owned()
    }

    /// Optional text: empty or blank becomes `None`.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        Some(self.text(field, value, 1, max))
    }

    pub fn range_i64(&mut self, field: &str, value: i64, min: i64, max: i64, message: &str) -> i64 {
        if value < min || value > max {
            self.fail(field, message);
        }
        value
    }

    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.errors))
        }
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }
}

/// Normalises and checks an e-mail address: lower case, one `@`, a dotted domain, no spaces.
pub fn email(check: &mut Check, field: &str, value: &str) -> String {
    let email = value.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        })
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c));
    if !valid {
        check.fail(field, "Adresse e-mail invalide.");
    }
    email
}

/// An absolute http(s) URL.
pub fn url(check: &mut Check, field: &str, value: &str) {
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() > "https://".len()
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        check.fail(field, "Doit être une adresse web complète (https://…).");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        for (input, ok) in [
            ("Awa@Example.CI", true),
            ("  kone.ibrahim@gmail.com ", true),
            ("no-at-sign.ci", false),
            ("a@b", false),
            ("a@@b.ci", false),
            ("a b@c.ci", false),
            ("@c.ci", false),
            ("a@.ci", false),
        ] {
            let mut check = Check::default();
            let email = email(&mut check, "email", input);
            assert_eq!(check.finish().is_ok(), ok, "{input:?}");
            if ok {
                assert_eq!(email, input.trim().to_lowercase());
            }
        }
    }

    #[test]
    fn text_length_counts_characters_not_bytes() {
        let mut check = Check::default();
        assert_eq!(check.text("name", "  Éé  ", 2, 2), "Éé");
        assert!(
            check.finish().is_ok(),
            "two accented characters are two characters"
        );
    }
}
