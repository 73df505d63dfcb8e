//! The store's error type.

/// Everything that can go wrong talking to PostgreSQL or opening a sealed secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The row does not exist for this tenant (or exists only for another one: RLS makes them the same).
    #[error("not found")]
    NotFound,
    /// A named unique or check constraint refused the write.
    #[error("constraint {0} violated")]
    Constraint(String),
    /// Sealing or opening a secret failed: wrong key, tampered ciphertext or mismatched AAD.
    #[error("decryption or encryption failed")]
    Crypto,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The constraint name when a write was refused by a unique, foreign-key or check constraint.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            Error::Constraint(name) => Some(name),
            Error::Database(sqlx::Error::Database(db)) => db.constraint(),
            _ => None,
        }
    }
}

/// Maps "no row" to `NotFound`, which the api turns into a 404 whatever tenant owns the id.
pub(crate) trait OptionalExt<T> {
    fn or_not_found(self) -> Result<T>;
}

impl<T> OptionalExt<T> for Option<T> {
    fn or_not_found(self) -> Result<T> {
        self.ok_or(Error::NotFound)
    }
}
