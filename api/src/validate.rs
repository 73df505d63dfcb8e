//! Field validation with French messages, collected so a form shows every mistake at once.

use schemas::commerce::Invalid;

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

    /// The value a domain constructor (`schemas::commerce::Sku::new`, `Xof::price`…) built, or `None` with
    /// each of its messages reported against `field`.
    pub fn value<T>(&mut self, field: &str, built: Result<T, Invalid>) -> Option<T> {
        match built {
            Ok(value) => Some(value),
            Err(invalid) => {
                for message in invalid.messages() {
                    self.fail(field, *message);
                }
                None
            }
        }
    }

    pub fn range_i64(&mut self, field: &str, value: i64, min: i64, max: i64, message: &str) -> i64 {
        if value < min || value > max {
            self.fail(field, message);
        }
        value
    }

    // The form helpers below serve the dashboard (`api::web`), merged separately.

    /// An amount of francs CFA typed in a form ("5000", "5 000", "5 000 F"…): see [`parse_xof`]. A wrong
    /// value is reported and read as 0.
    #[allow(dead_code, reason = "used by the dashboard forms")]
    pub fn xof(&mut self, field: &str, raw: &str) -> i64 {
        parse_xof(raw).unwrap_or_else(|message| {
            self.fail(field, message);
            0
        })
    }

    /// A whole number typed in a form, spaces allowed ("1 200"); empty is `None`.
    #[allow(dead_code, reason = "used by the dashboard forms")]
    pub fn optional_integer(&mut self, field: &str, raw: &str) -> Option<i64> {
        let digits: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{202F}')
            .collect();
        if digits.is_empty() {
            return None;
        }
        match digits.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.fail(field, "Doit être un nombre entier (ex. 5000).");
                None
            }
        }
    }

    /// Adds errors found elsewhere (e.g. a service's `Error::Validation`), so a form shows them all.
    #[allow(dead_code, reason = "used by the dashboard forms")]
    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.errors.extend(errors);
    }

    #[allow(dead_code, reason = "used by the dashboard forms")]
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The refusal of one field, for a check that stops at its first problem.
    pub fn refuse(field: &str, message: &str) -> Error {
        Error::Validation(vec![FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        }])
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

/// "5000", "5 000", "5.000", "5 000 F", "5000 FCFA", "5000,00" → 5000. Decimals other than zero are refused:
/// the franc CFA has no cents. The error is the French message to show.
pub fn parse_xof(raw: &str) -> Result<i64, &'static str> {
    const MESSAGE: &str =
        "Prix invalide : écrivez un nombre entier de francs CFA (ex. 5000 ou 5 000 F).";
    let lower = raw.to_lowercase();
    let mut s: String = lower
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{202F}')
        .collect();
    for suffix in ["fcfa", "xof", "cfa", "f"] {
        if let Some(stripped) = s.strip_suffix(suffix) {
            s = stripped.to_owned();
            break;
        }
    }
    if s.is_empty() {
        return Err("Le prix est obligatoire.");
    }
    let thousands = s.split('.').skip(1).all(|g| g.len() == 3) && s.contains('.');
    let integer = if thousands {
        s.replace('.', "")
    } else if let Some((int, dec)) = s.split_once([',', '.']) {
        if dec.chars().all(|c| c == '0') {
            int.to_owned()
        } else {
            return Err(MESSAGE);
        }
    } else {
        s
    };
    if integer.starts_with('-') {
        return Err("Le prix ne peut pas être négatif.");
    }
    integer.parse::<i64>().map_err(|_| MESSAGE)
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

/// An optional client id making a send idempotent: up to 64 letters, digits, `-` or `_` (it becomes part of
/// a message id); blank is `None`.
pub fn client_message_id(check: &mut Check, field: &str, value: Option<&str>) -> Option<String> {
    let id = check.optional_text(field, value, 64)?;
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        check.fail(field, "Lettres, chiffres, « - » et « _ » uniquement.");
    }
    Some(id)
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
    fn form_numbers_are_read_as_shop_owners_type_them() {
        let mut check = Check::default();
        assert_eq!(check.xof("price_xof", "5 000 F"), 5000);
        assert_eq!(check.optional_integer("stock", " 1 200 "), Some(1200));
        assert_eq!(check.optional_integer("stock", ""), None);
        assert!(check.is_empty());
        assert_eq!(check.xof("price_xof", "cinq mille"), 0);
        assert_eq!(check.optional_integer("stock", "beaucoup"), None);
        let fields: Vec<String> = check.into_errors().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["price_xof", "stock"]);
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
