//! The one way an enum of the domain spells itself: the snake_case words stored in its `text` column (checked
//! by the table's CHECK constraint) and written in JSON.

/// `as_str`, `parse` and `Display` for an enum stored and serialised as snake_case words.
macro_rules! words {
    ($name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $name {
            /// Every value, in the order of the database's CHECK constraint.
            pub const ALL: [$name; [$($word),+].len()] = [$($name::$variant),+];

            /// The word stored in the database and written in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }

            /// The value a word names, or `None` if it names none.
            pub fn parse(word: &str) -> Option<Self> {
                match word {
                    $($word => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
