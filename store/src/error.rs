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
    /// Whether PostgreSQL was unavailable (no connection, pool exhausted, server shutting down or out of
    /// resources, statement timeout, a serialization conflict or deadlock): worth retrying the same work as it
    /// is. Anything else (a missing row, a constraint, bad data) comes from the work itself.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Database(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
                ["08", "53", "57", "40"]
                    .iter()
                    .any(|class| code.starts_with(class))
                    || code == "55P03"
            }),
            Error::Database(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
            ) => true,
            _ => false,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn only_an_unavailable_database_is_worth_retrying_as_is() {
        assert!(Error::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(
            Error::Database(sqlx::Error::Io(
                std::io::ErrorKind::ConnectionRefused.into()
            ))
            .is_unavailable()
        );
        assert!(!Error::NotFound.is_unavailable());
        assert!(!Error::Constraint("x".into()).is_unavailable());
        assert!(!Error::Crypto.is_unavailable());
    }
}
