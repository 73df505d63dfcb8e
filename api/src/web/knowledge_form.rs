//! The knowledge form of the settings page: the shop's questions and answers and its delivery zones, as rows
//! (the saved ones, then a few blank ones to add more; a blank row is ignored, so emptying a row deletes it).

use std::collections::HashMap;

use store::knowledge::Knowledge;

use super::view::FieldErrors;
use crate::knowledge::{FaqInput, KnowledgeInput, ZoneInput};
use crate::validate::parse_xof;

/// Blank rows offered under the saved ones.
const BLANK_ROWS: usize = 3;

pub struct FaqRow {
    pub index: usize,
    pub question: String,
    pub answer: String,
}

pub struct ZoneRow {
    pub index: usize,
    pub name: String,
    pub fee: String,
}

pub struct KnowledgeForm {
    pub faq: Vec<FaqRow>,
    pub zones: Vec<ZoneRow>,
    pub errors: FieldErrors,
}

impl KnowledgeForm {
    pub fn of(knowledge: &Knowledge) -> Self {
        Self::with_rows(
            knowledge
                .faq
                .iter()
                .map(|e| (e.question.clone(), e.answer.clone()))
                .collect(),
            knowledge
                .delivery_zones
                .iter()
                .map(|z| (z.name.clone(), z.fee_xof.get().to_string()))
                .collect(),
        )
    }

    /// The posted rows, blank ones dropped (so row `i` here is entry `i` of the API's lists and its errors).
    pub fn posted(fields: &HashMap<String, String>) -> Self {
        let get = |k: String| {
            fields
                .get(&k)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let rows = |prefix: &str| {
            let mut indices: Vec<usize> = fields
                .keys()
                .filter_map(|k| k.strip_prefix(prefix)?.parse().ok())
                .collect();
            indices.sort_unstable();
            indices.dedup();
            indices
        };
        let faq = rows("faq_question_")
            .into_iter()
            .map(|i| {
                (
                    get(format!("faq_question_{i}")),
                    get(format!("faq_answer_{i}")),
                )
            })
            .filter(|(q, a)| !q.is_empty() || !a.is_empty())
            .collect();
        let zones = rows("zone_name_")
            .into_iter()
            .map(|i| (get(format!("zone_name_{i}")), get(format!("zone_fee_{i}"))))
            .filter(|(n, f)| !n.is_empty() || !f.is_empty())
            .collect();
        Self::with_rows(faq, zones)
    }

    fn with_rows(faq: Vec<(String, String)>, zones: Vec<(String, String)>) -> Self {
        let blank = || std::iter::repeat_n((String::new(), String::new()), BLANK_ROWS);
        KnowledgeForm {
            faq: faq
                .into_iter()
                .chain(blank())
                .enumerate()
                .map(|(index, (question, answer))| FaqRow {
                    index,
                    question,
                    answer,
                })
                .collect(),
            zones: zones
                .into_iter()
                .chain(blank())
                .enumerate()
                .map(|(index, (name, fee))| ZoneRow { index, name, fee })
                .collect(),
            errors: FieldErrors::default(),
        }
    }

    /// The API's input, or the fee fields that are not amounts (reported like the API's errors).
    pub fn input(&self) -> Result<KnowledgeInput, Vec<crate::error::FieldError>> {
        let mut errors = Vec::new();
        let faq = self
            .faq
            .iter()
            .filter(|r| !r.question.is_empty() || !r.answer.is_empty())
            .map(|r| FaqInput {
                question: r.question.clone(),
                answer: r.answer.clone(),
            })
            .collect();
        let mut delivery_zones = Vec::new();
        for row in self
            .zones
            .iter()
            .filter(|r| !r.name.is_empty() || !r.fee.is_empty())
        {
            let fee = if row.fee.is_empty() {
                Err("Indiquez les frais de livraison (0 si elle est gratuite).")
            } else {
                parse_xof(&row.fee).map_err(|_| {
                    "Frais invalides : écrivez un nombre entier de francs CFA (ex. 1000 ou 1 000 F)."
                })
            };
            match fee {
                Ok(fee_xof) => delivery_zones.push(ZoneInput {
                    name: row.name.clone(),
                    fee_xof,
                }),
                Err(message) => errors.push(crate::error::FieldError {
                    field: format!("delivery_zones[{}].fee_xof", row.index),
                    message: message.to_owned(),
                }),
            }
        }
        if errors.is_empty() {
            Ok(KnowledgeInput {
                faq,
                delivery_zones,
            })
        } else {
            Err(errors)
        }
    }

    /// The error of one row's field (`faq`, 2, `answer` → `faq[2].answer`).
    pub fn error(&self, list: &str, index: &usize, field: &str) -> &str {
        self.errors.of(&format!("{list}[{index}].{field}"))
    }

    /// An error about a whole list (too many rows).
    pub fn list_error(&self, list: &str) -> &str {
        self.errors
            .0
            .iter()
            .find(|e| e.field == list)
            .map_or("", |e| e.message.as_str())
    }
}
