//! Opening hours: whether the shop is open at a moment, when it opens again, and how to say it. Hours are
//! in the shop's time zone (Côte d'Ivoire's, UTC all year, unless the shop chose another).

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::lang::Lang;

/// One opening slot: `day` 0 = Monday … 6 = Sunday, minutes since midnight, `open < close`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub day: u8,
    pub open: u16,
    pub close: u16,
}

/// The shop's week in its time zone; no slot means open at all times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningHours {
    pub slots: Vec<Slot>,
    #[serde(with = "zone_name")]
    pub zone: Tz,
}

impl Default for OpeningHours {
    fn default() -> Self {
        OpeningHours {
            slots: Vec::new(),
            zone: DEFAULT_ZONE,
        }
    }
}

/// Côte d'Ivoire's time zone, the default.
const DEFAULT_ZONE: Tz = chrono_tz::Africa::Abidjan;

/// A zone (de)serialised by its IANA name.
mod zone_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(zone: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(zone.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The shop at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// No hours set: the shop answers at any time.
    Always,
    Open,
    /// Closed; `reopens` is the next opening within a week (none when no day has hours).
    Closed {
        reopens: Option<Reopening>,
    },
}

/// When the shop opens next: in `days_ahead` days (0 = today) at `minute` past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reopening {
    pub days_ahead: u8,
    pub day: u8,
    pub minute: u16,
}

const DAYS_FR: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];
const DAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl OpeningHours {
    /// The stored `business_hours` (`[{"day": 0, "open": "08:00", "close": "20:00"}]`) in the zone named
    /// `zone` (Côte d'Ivoire's when it is not one); slots that do not read are left out (the API validates
    /// them on the way in).
    pub fn from_settings(value: &Value, zone: &str) -> Self {
        let slots = value
            .as_array()
            .map(|slots| {
                slots
                    .iter()
                    .filter_map(|s| {
                        let day = u8::try_from(s.get("day")?.as_u64()?).ok()?;
                        let open = minutes(s.get("open")?.as_str()?)?;
                        let close = minutes(s.get("close")?.as_str()?)?;
                        (day <= 6 && open < close).then_some(Slot { day, open, close })
                    })
                    .collect()
            })
            .unwrap_or_default();
        OpeningHours {
            slots,
            zone: zone.trim().parse().unwrap_or(DEFAULT_ZONE),
        }
    }

    pub fn at(&self, now: DateTime<Utc>) -> Opening {
        if self.slots.is_empty() {
            return Opening::Always;
        }
        let now = now.with_timezone(&self.zone);
        let today = u8::try_from(now.weekday().num_days_from_monday()).unwrap_or(0);
        let minute = u16::try_from(now.hour() * 60 + now.minute()).unwrap_or(0);
        if self
            .slots
            .iter()
            .any(|s| s.day == today && s.open <= minute && minute < s.close)
        {
            return Opening::Open;
        }
        let reopens = (0..=7u8).find_map(|ahead| {
            let day = (today + ahead) % 7;
            self.slots
                .iter()
                .filter(|s| s.day == day && (ahead > 0 || s.open > minute))
                .map(|s| s.open)
                .min()
                .map(|minute| Reopening {
                    days_ahead: ahead,
                    day,
                    minute,
                })
        });
        Opening::Closed { reopens }
    }

    /// The week in words, consecutive days with the same hours grouped: "du lundi au vendredi 08:00–18:00 ;
    /// samedi 09:00–13:00 ; fermé le dimanche". Empty when the shop has no hours.
    pub fn describe(&self, lang: Lang) -> String {
        if self.slots.is_empty() {
            return String::new();
        }
        let day_hours = |day: u8| -> String {
            let mut slots: Vec<&Slot> = self.slots.iter().filter(|s| s.day == day).collect();
            slots.sort_by_key(|s| s.open);
            slots
                .iter()
                .map(|s| format!("{}–{}", clock(s.open), clock(s.close)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let names = match lang {
            Lang::Fr => DAYS_FR,
            Lang::En => DAYS_EN,
        };
        let mut parts = Vec::new();
        let mut closed = Vec::new();
        let mut day = 0u8;
        while day < 7 {
            let hours = day_hours(day);
            let mut last = day;
            while last < 6 && day_hours(last + 1) == hours {
                last += 1;
            }
            let days = match (lang, last - day) {
                (_, 0) => names[day as usize].to_owned(),
                (Lang::Fr, 1) => format!("{} et {}", names[day as usize], names[last as usize]),
                (Lang::Fr, _) => format!("du {} au {}", names[day as usize], names[last as usize]),
                (Lang::En, 1) => format!("{} and {}", names[day as usize], names[last as usize]),
                (Lang::En, _) => format!("{} to {}", names[day as usize], names[last as usize]),
            };
            if hours.is_empty() {
                closed.push(days);
            } else {
                parts.push(format!("{days} {hours}"));
            }
            day = last + 1;
        }
        if !closed.is_empty() {
            parts.push(match lang {
                Lang::Fr => format!("fermé le {}", closed.join(" et le ")),
                Lang::En => format!("closed on {}", closed.join(" and ")),
            });
        }
        parts.join(" ; ")
    }
}

impl Reopening {
    /// "aujourd'hui à 08:00", "demain à 08:00", "lundi à 08:00".
    pub fn describe(&self, lang: Lang) -> String {
        let time = clock(self.minute);
        match (lang, self.days_ahead) {
            (Lang::Fr, 0) => format!("aujourd'hui à {time}"),
            (Lang::Fr, 1) => format!("demain à {time}"),
            (Lang::Fr, _) => format!("{} à {time}", DAYS_FR[usize::from(self.day)]),
            (Lang::En, 0) => format!("today at {time}"),
            (Lang::En, 1) => format!("tomorrow at {time}"),
            (Lang::En, _) => format!("{} at {time}", DAYS_EN[usize::from(self.day)]),
        }
    }
}

/// "08:30" → 510.
fn minutes(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

/// 510 → "08:30".
fn clock(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn at(day_of_december_2026: u32, h: u32, m: u32) -> DateTime<Utc> {
        // 2026-12-07 is a Monday.
        Utc.with_ymd_and_hms(2026, 12, day_of_december_2026, h, m, 0)
            .single()
            .expect("date")
    }

    #[test]
    fn a_shop_open_monday_8_to_9_is_closed_on_a_friday_evening_until_monday() {
        let hours = OpeningHours::from_settings(
            &json!([{"day": 0, "open": "08:00", "close": "09:00"}]),
            "Africa/Abidjan",
        );
        assert_eq!(hours.at(at(7, 8, 30)), Opening::Open);
        let friday_evening = hours.at(at(11, 19, 0));
        let Opening::Closed {
            reopens: Some(reopens),
        } = friday_evening
        else {
            panic!("{friday_evening:?}");
        };
        assert_eq!(reopens.describe(Lang::Fr), "lundi à 08:00");
        assert_eq!(
            hours.at(at(7, 7, 0)),
            Opening::Closed {
                reopens: Some(Reopening {
                    days_ahead: 0,
                    day: 0,
                    minute: 480
                })
            }
        );
        assert_eq!(
            hours.at(at(7, 9, 0)),
            Opening::Closed {
                reopens: Some(Reopening {
                    days_ahead: 7,
                    day: 0,
                    minute: 480
                })
            },
            "closing time itself is closed; next Monday"
        );
    }

    #[test]
    fn no_hours_means_always_open_and_bad_slots_are_ignored() {
        assert_eq!(
            OpeningHours::from_settings(&json!([]), "Africa/Abidjan").at(at(7, 3, 0)),
            Opening::Always
        );
        let odd = OpeningHours::from_settings(
            &json!([{"day": 9, "open": "08:00", "close": "09:00"},
                    {"day": 1, "open": "18:00", "close": "09:00"}, "x"]),
            "Nowhere/City",
        );
        assert_eq!(
            odd,
            OpeningHours::default(),
            "no slot, and the default zone for an unknown one"
        );
    }

    #[test]
    fn hours_are_read_in_the_shop_s_time_zone() {
        // Douala is an hour ahead of Abidjan: 07:30 UTC on a Monday is 08:30 there.
        let slot = json!([{"day": 0, "open": "08:00", "close": "09:00"}]);
        assert_eq!(
            OpeningHours::from_settings(&slot, "Africa/Douala").at(at(7, 7, 30)),
            Opening::Open
        );
        assert!(matches!(
            OpeningHours::from_settings(&slot, "Africa/Abidjan").at(at(7, 7, 30)),
            Opening::Closed { .. }
        ));
    }

    #[test]
    fn the_week_is_described_with_days_grouped() {
        let week: Vec<Value> = (0..5)
            .map(|day| json!({"day": day, "open": "08:00", "close": "18:00"}))
            .chain([json!({"day": 5, "open": "09:00", "close": "13:00"})])
            .collect();
        let hours = OpeningHours::from_settings(&Value::Array(week), "Africa/Abidjan");
        assert_eq!(
            hours.describe(Lang::Fr),
            "du lundi au vendredi 08:00–18:00 ; samedi 09:00–13:00 ; fermé le dimanche"
        );
        assert_eq!(
            hours.describe(Lang::En),
            "Monday to Friday 08:00–18:00 ; Saturday 09:00–13:00 ; closed on Sunday"
        );
    }
}
