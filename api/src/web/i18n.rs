//! The dashboard's languages and the formats shops expect: French by default, English on request; amounts as
//! shops write them ("15 000 F"), dates in Abidjan time (UTC, no daylight saving).

use std::borrow::Cow;

use chrono::{DateTime, Utc};

/// A language of the dashboard. Strings live in `api/locales/app.yml` (rust-i18n catalogue).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    pub fn parse(code: &str) -> Option<Self> {
        match code.trim() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The catalogue string for `key` (the key itself when missing, which a test forbids).
    pub fn t(self, key: &str) -> Cow<'static, str> {
        Cow::Owned(rust_i18n::t!(key, locale = self.code()).into_owned())
    }

    /// The string for `key` with `%{name}` placeholders replaced.
    pub fn tf(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.t(key).into_owned();
        for (name, value) in args {
            text = text.replace(&format!("%{{{name}}}"), value);
        }
        text
    }

    /// The first supported language in an `Accept-Language` header, French otherwise.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        header
            .into_iter()
            .flat_map(|h| h.split(','))
            .filter_map(|part| part.split(';').next())
            .filter_map(|tag| Lang::parse(tag.trim().get(..2).unwrap_or_default()))
            .next()
            .unwrap_or_default()
    }

    /// "15 000 F" (no-break spaces, so an amount never wraps).
    pub fn money(self, xof: i64) -> String {
        format!("{}\u{a0}F", group_thousands(xof))
    }

    /// "4 déc. 2026" / "4 Dec 2026".
    pub fn date(self, at: DateTime<Utc>) -> String {
        let month = self.t(&format!("month.{}", at.format("%m")));
        format!("{} {} {}", at.format("%-d"), month, at.format("%Y"))
    }

    /// "4 déc. 2026, 18:55".
    pub fn datetime(self, at: DateTime<Utc>) -> String {
        format!("{}, {}", self.date(at), at.format("%H:%M"))
    }

    /// A file's size: "12,4 Mo", "850 Ko" / "12.4 MB", "850 KB" (binary units, so 10 MiB reads "10 Mo").
    pub fn file_size(self, bytes: u64) -> String {
        const KIB: f64 = 1024.0;
        const MIB: f64 = 1024.0 * 1024.0;
        let (kb, mb, decimal) = match self {
            Lang::Fr => ("Ko", "Mo", ","),
            Lang::En => ("KB", "MB", "."),
        };
        // Precision beyond 2^53 bytes does not matter for one decimal place.
        let bytes = bytes as f64;
        if bytes < MIB {
            return format!("{} {kb}", (bytes / KIB).ceil());
        }
        let tenths = (bytes / MIB * 10.0).round() / 10.0;
        let number = if tenths.fract() == 0.0 {
            format!("{tenths:.0}")
        } else {
            format!("{tenths:.1}").replace('.', decimal)
        };
        format!("{number} {mb}")
    }
}

/// 1500000 → "1 500 000" with no-break spaces.
pub fn group_thousands(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 2);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    if amount < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn amounts_are_written_the_way_shops_write_them() {
        assert_eq!(Lang::Fr.money(15_000), "15\u{a0}000\u{a0}F");
        assert_eq!(Lang::Fr.money(500), "500\u{a0}F");
        assert_eq!(Lang::Fr.money(1_250_000), "1\u{a0}250\u{a0}000\u{a0}F");
        assert_eq!(Lang::Fr.money(0), "0\u{a0}F");
    }

    #[test]
    fn dates_are_spelled_in_the_users_language() {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 4, 18, 55, 0)
            .single()
            .expect("date");
        assert_eq!(Lang::Fr.datetime(at), "4 déc. 2026, 18:55");
        assert_eq!(Lang::En.date(at), "4 Dec 2026");
    }

    #[test]
    fn the_browser_language_picks_english_only_when_asked() {
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("fr-CI,fr;q=0.9,en;q=0.8")),
            Lang::Fr
        );
        assert_eq!(Lang::from_accept_language(Some("de-DE")), Lang::Fr);
        assert_eq!(Lang::from_accept_language(None), Lang::Fr);
    }

    #[test]
    fn file_sizes_are_written_in_the_users_language() {
        assert_eq!(Lang::Fr.file_size(10 * 1024 * 1024), "10 Mo");
        assert_eq!(Lang::Fr.file_size(13_002_342), "12,4 Mo");
        assert_eq!(Lang::En.file_size(13_002_342), "12.4 MB");
        assert_eq!(Lang::Fr.file_size(850 * 1024), "850 Ko");
        assert_eq!(Lang::Fr.file_size(1), "1 Ko");
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            Lang::Fr.tf("test.placeholder", &[("name", "Awa")]),
            "Bonjour Awa"
        );
    }

    /// Every key of the catalogue (every file of `locales/`), with whether it has both languages.
    fn catalogue() -> Vec<(String, bool)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        let mut keys = Vec::new();
        for entry in std::fs::read_dir(dir).expect("locales") {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("file");
            keys.extend(
                text.lines()
                    .filter(|l| !l.starts_with('_') && !l.starts_with('#') && l.contains(": {"))
                    .map(|l| {
                        let (key, rest) = l.split_once(": {").unwrap_or_default();
                        (
                            key.to_owned(),
                            rest.contains(" fr: \"") && rest.contains(" en: \""),
                        )
                    }),
            );
        }
        keys
    }

    /// The literal keys passed to `t("…")` / `tf("…"` in the templates and the dashboard's code.
    fn used_keys() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut keys = Vec::new();
        let mut files = Vec::new();
        let mut dirs = vec![root.join("templates"), root.join("src/web")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).expect("dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        for path in files {
            {
                let text = std::fs::read_to_string(path).expect("file");
                for marker in [".t(\"", ".tf(\""] {
                    for part in text.split(marker).skip(1) {
                        let key = part.split('"').next().unwrap_or_default();
                        if !key.is_empty() && !key.contains('{') && key.contains('.') {
                            keys.push(key.to_owned());
                        }
                    }
                }
            }
        }
        keys
    }

    #[test]
    fn every_string_of_the_dashboard_exists_in_french_and_english() {
        let catalogue = catalogue();
        for (key, both) in &catalogue {
            assert!(both, "{key} lacks a French or an English text");
        }
        let known = |k: &str| catalogue.iter().any(|(c, _)| c == k);
        let mut used = used_keys();
        // Keys built at run time, from each possible value.
        let families: [(&str, &[&str]); 15] = [
            ("plan.products", &["one", "many", "unlimited"]),
            ("plan.replies", &["one", "many", "unlimited"]),
            ("plan.users", &["one", "many", "unlimited"]),
            (
                "wa.status",
                &[
                    "disconnected",
                    "waiting_for_scan",
                    "connecting",
                    "connected",
                    "logged_out",
                    "banned",
                ],
            ),
            (
                "subscription",
                &["pending", "active", "past_due", "suspended"],
            ),
            ("payment", &["pending", "succeeded", "failed", "flagged"]),
            ("provider", &["wave", "orange_money", "stripe", "sandbox"]),
            (
                "order.status",
                &["new", "confirmed", "shipped", "delivered", "cancelled"],
            ),
            (
                "order.tab",
                &["new", "confirmed", "shipped", "delivered", "cancelled"],
            ),
            (
                "order.action",
                &["confirmed", "shipped", "delivered", "cancelled"],
            ),
            (
                "tone",
                &["friendly", "professional", "casual", "enthusiastic"],
            ),
            ("day", &["0", "1", "2", "3", "4", "5", "6"]),
            ("chat.author", &["customer", "bot", "owner"]),
            (
                "month",
                &[
                    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12",
                ],
            ),
            (
                "onboarding",
                &[
                    "plan.title",
                    "pay.title",
                    "whatsapp.title",
                    "products.title",
                    "bot.title",
                    "done.title",
                ],
            ),
        ];
        for (prefix, values) in families {
            used.extend(values.iter().map(|v| format!("{prefix}.{v}")));
        }
        used.extend(
            super::super::view::FLASHES
                .iter()
                .map(|f| format!("flash.{f}")),
        );
        let missing: Vec<_> = used.iter().filter(|k| !known(k)).collect();
        assert!(
            missing.is_empty(),
            "keys used but not in the catalogue: {missing:?}"
        );
    }
}
