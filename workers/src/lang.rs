//! The language the bot speaks to a shop's customers.

/// French (the default) or English, as the shop chose in its bot settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// The bot setting's code (`fr`, `en`); anything else is French.
    pub fn of(code: &str) -> Self {
        if code.trim().eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Fr
        }
    }
}
