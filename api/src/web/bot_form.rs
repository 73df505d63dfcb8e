//! The bot form (name, tone, language, instructions, opening hours, out-of-hours message), shared by the
//! settings page and the onboarding's last step.

use std::collections::HashMap;

use store::bot_settings::BotSettings;

use super::i18n::Lang;
use super::view::FieldErrors;
use crate::bot::{BotSettingsInput, OpeningSlot, TIME_ZONES, TONES};

/// One day of the opening-hours grid (one slot a day; both empty = closed that day).
pub struct DayRow {
    pub day: u8,
    pub label: String,
    pub open: String,
    pub close: String,
}

/// The bot form's values and errors.
pub struct BotForm {
    pub bot_name: String,
    pub tone: String,
    pub language: String,
    pub instructions: String,
    pub out_of_hours_message: String,
    pub time_zone: String,
    /// (zone, what it covers) offered in the form, the shop's own first when it is not a usual one.
    pub zones: Vec<(String, String)>,
    pub days: Vec<DayRow>,
    pub tones: Vec<(&'static str, String)>,
    pub errors: FieldErrors,
    /// Where the form returns to (`settings` or `onboarding`).
    pub from: &'static str,
}

impl BotForm {
    pub fn of(lang: Lang, settings: &BotSettings, from: &'static str) -> Self {
        let slots: Vec<OpeningSlot> =
            serde_json::from_value(settings.business_hours.clone()).unwrap_or_default();
        let days = (0..7u8)
            .map(|day| {
                let slot = slots.iter().find(|s| s.day == day);
                DayRow {
                    day,
                    label: lang.t(&format!("day.{day}")).into_owned(),
                    open: slot.map(|s| s.open.clone()).unwrap_or_default(),
                    close: slot.map(|s| s.close.clone()).unwrap_or_default(),
                }
            })
            .collect();
        BotForm {
            bot_name: settings.bot_name.clone(),
            tone: settings.tone.clone(),
            language: settings.language.clone(),
            instructions: settings.instructions.clone(),
            out_of_hours_message: settings.out_of_hours_message.clone(),
            zones: zones(&settings.time_zone),
            time_zone: settings.time_zone.clone(),
            days,
            tones: tones(lang),
            errors: FieldErrors::default(),
            from,
        }
    }

    /// The posted values, kept to re-render the form with its errors.
    pub fn posted(lang: Lang, fields: &HashMap<String, String>, from: &'static str) -> Self {
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        BotForm {
            bot_name: get("bot_name"),
            tone: get("tone"),
            language: get("language"),
            instructions: get("instructions"),
            out_of_hours_message: get("out_of_hours_message"),
            zones: zones(&get("time_zone")),
            time_zone: get("time_zone"),
            days: (0..7u8)
                .map(|day| DayRow {
                    day,
                    label: lang.t(&format!("day.{day}")).into_owned(),
                    open: get(&format!("open_{day}")),
                    close: get(&format!("close_{day}")),
                })
                .collect(),
            tones: tones(lang),
            errors: FieldErrors::default(),
            from,
        }
    }

    pub fn input(&self) -> BotSettingsInput {
        BotSettingsInput {
            bot_name: self.bot_name.clone(),
            tone: self.tone.clone(),
            language: self.language.clone(),
            instructions: self.instructions.clone(),
            business_hours: self
                .days
                .iter()
                .filter(|d| !d.open.trim().is_empty() || !d.close.trim().is_empty())
                .map(|d| OpeningSlot {
                    day: d.day,
                    open: d.open.trim().to_owned(),
                    close: d.close.trim().to_owned(),
                })
                .collect(),
            out_of_hours_message: self.out_of_hours_message.clone(),
            time_zone: (!self.time_zone.trim().is_empty()).then(|| self.time_zone.clone()),
        }
    }

    /// The day rows' errors, by day, for the grid.
    pub fn hours_error(&self) -> String {
        self.errors
            .0
            .iter()
            .filter(|e| e.field.starts_with("business_hours"))
            .map(|e| e.message.clone())
            .next()
            .unwrap_or_default()
    }
}

/// The usual zones, with `current` first when it is another one (so saving the form never changes it).
fn zones(current: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    if !current.is_empty() && !TIME_ZONES.iter().any(|(zone, _)| *zone == current) {
        out.push((current.to_owned(), current.to_owned()));
    }
    out.extend(
        TIME_ZONES
            .iter()
            .map(|(zone, covers)| ((*zone).to_owned(), (*covers).to_owned())),
    );
    out
}

fn tones(lang: Lang) -> Vec<(&'static str, String)> {
    TONES
        .iter()
        .map(|t| (*t, lang.t(&format!("tone.{t}")).into_owned()))
        .collect()
}
