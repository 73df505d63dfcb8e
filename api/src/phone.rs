//! Phone numbers as shop owners and customers type them, normalised to E.164 once, here.
//!
//! Côte d'Ivoire is the default region: `0707070707`, `07 07 07 07 07`, `+225 07 07 07 07 07`,
//! `2250707070707` and `00225 07 07 07 07 07` are all `+2250707070707`. Numbers of other countries need
//! their `+` (or `00`) prefix. What libphonenumber's metadata does not recognise as a valid number is
//! refused, with a French message.

use std::fmt;

use phonenumber::country::Id;
use phonenumber::{Mode, PhoneNumber as Parsed};

use crate::validate::Check;

/// A valid phone number in E.164 form (`+2250707070707`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

/// Why a text is not a phone number (the French message is [`PhoneNumber::MESSAGE`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid phone number")]
pub struct InvalidPhoneNumber;

impl PhoneNumber {
    /// What a form shows next to a number that is not one.
    pub const MESSAGE: &'static str = "Numéro de téléphone invalide : indiquez un numéro ivoirien \
        (ex. 07 07 07 07 07) ou international avec l'indicatif (ex. +225 07 07 07 07 07).";

    /// Reads a number as typed, Côte d'Ivoire by default.
    pub fn parse(raw: &str) -> Result<Self, InvalidPhoneNumber> {
        let raw = raw.trim();
        // libphonenumber reads letters as keypad digits ("1-800-FLOWERS"); nobody types a number so here.
        if raw.is_empty() || raw.chars().any(char::is_alphabetic) || raw.len() > 40 {
            return Err(InvalidPhoneNumber);
        }
        let parsed = parse_valid(Some(Id::CI), raw)
            // A foreign number written with its country code but without `+` (the WhatsApp JID form).
            .or_else(|| {
                let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
                (!raw.starts_with('0') && digits.len() > 9)
                    .then(|| parse_valid(None, &format!("+{digits}")))
                    .flatten()
            })
            .ok_or(InvalidPhoneNumber)?;
        Ok(PhoneNumber(parsed.format().mode(Mode::E164).to_string()))
    }

    /// `+2250707070707`.
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// `+225 07 07 07 07 07`: how the dashboard shows a number. Ivorian numbers are grouped by pairs, the way
    /// shops write them (libphonenumber's own format groups the last four digits).
    pub fn international(&self) -> String {
        if let Some(national) = self.0.strip_prefix("+225")
            && national.len() == 10
        {
            let pairs: Vec<&str> = (0..5).map(|i| &national[i * 2..i * 2 + 2]).collect();
            return format!("+225 {}", pairs.join(" "));
        }
        phonenumber::parse(None, &self.0)
            .map(|parsed| parsed.format().mode(Mode::International).to_string())
            .unwrap_or_else(|_| self.0.clone())
    }

    /// How the dashboard shows a stored number or WhatsApp JID user part (as typed when it is not one).
    pub fn display(raw: &str) -> String {
        let user = raw.split('@').next().unwrap_or_default();
        PhoneNumber::parse(user).map_or_else(|_| user.to_owned(), |p| p.international())
    }

    /// The digits without `+` (`2250707070707`): the user part of a WhatsApp JID, and what WhatsApp's
    /// pairing-code linking expects.
    pub fn digits(&self) -> &str {
        self.0.trim_start_matches('+')
    }
}

fn parse_valid(region: Option<Id>, raw: &str) -> Option<Parsed> {
    phonenumber::parse(region, raw)
        .ok()
        .filter(phonenumber::is_valid)
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads a phone number field, reporting an invalid one into `check`.
pub fn field(check: &mut Check, field: &str, raw: &str) -> Option<PhoneNumber> {
    match PhoneNumber::parse(raw) {
        Ok(phone) => Some(phone),
        Err(InvalidPhoneNumber) => {
            check.fail(field, PhoneNumber::MESSAGE);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shown_the_way_people_write_them() {
        assert_eq!(PhoneNumber::display("2250701020304"), "+225 07 01 02 03 04");
        assert_eq!(
            PhoneNumber::display("2250701020304@s.whatsapp.net"),
            "+225 07 01 02 03 04"
        );
        assert_eq!(
            PhoneNumber::display("+2250701020304"),
            "+225 07 01 02 03 04"
        );
        assert_eq!(PhoneNumber::display("pas un numéro"), "pas un numéro");
        assert_eq!(PhoneNumber::display("33612345678"), "+33 6 12 34 56 78");
    }

    #[test]
    fn ivorian_numbers_are_read_however_they_are_typed() {
        for raw in [
            "0707070707",
            "07 07 07 07 07",
            "07.07.07.07.07",
            "+225 07 07 07 07 07",
            "+2250707070707",
            "2250707070707",
            "225 07 07 07 07 07",
            "00225 07 07 07 07 07",
        ] {
            assert_eq!(
                PhoneNumber::parse(raw).map(|p| p.e164().to_owned()),
                Ok("+2250707070707".to_owned()),
                "{raw:?}"
            );
        }
        let orange = PhoneNumber::parse("05 44 12 34 56").expect("MTN");
        assert_eq!(orange.e164(), "+2250544123456");
        assert_eq!(orange.digits(), "2250544123456");
        assert_eq!(
            PhoneNumber::parse("2250700000001").map(|p| p.e164().to_owned()),
            Ok("+2250700000001".to_owned())
        );
    }

    #[test]
    fn foreign_numbers_keep_their_country() {
        assert_eq!(
            PhoneNumber::parse("+33 6 12 34 56 78").map(|p| p.e164().to_owned()),
            Ok("+33612345678".to_owned())
        );
        assert_eq!(
            PhoneNumber::parse("33612345678").map(|p| p.e164().to_owned()),
            Ok("+33612345678".to_owned()),
            "the JID form of a French number"
        );
    }

    #[test]
    fn what_is_not_a_number_is_refused() {
        for raw in [
            "",
            "abc",
            "12",
            "0707",
            "07070707070707070707",
            "+225 12",
            "1-800-FLOWERS",
        ] {
            assert_eq!(PhoneNumber::parse(raw), Err(InvalidPhoneNumber), "{raw:?}");
        }
    }
}
