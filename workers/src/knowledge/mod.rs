//! The shop's own facts besides its catalogue: questions and answers, delivery zones, opening hours. Shared
//! by the offline assistant, the `shop_info` tool and the pipeline (the out-of-hours message), so every
//! engine answers from the same facts and none invents one.

mod hours;
mod lookup;

pub use hours::{Opening, OpeningHours, Reopening, Slot};
pub use lookup::{Found, Topic, lookup, topics, zone_named};
