//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), off the async runtime.

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use secrecy::{ExposeSecret, SecretString};

/// Hashes a password into a PHC string. CPU-heavy, so it runs on the blocking pool.
pub async fn hash_password(password: SecretString) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
    })
    .await
    .context("password hashing task panicked")?
}

/// Checks a password against a stored hash. With no hash (unknown e-mail), a fixed dummy hash is checked
/// instead so that the answer takes the same time and does not reveal which e-mails exist.
pub async fn verify_password(
    password: SecretString,
    hash: Option<SecretString>,
) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let stored = hash
            .map(|h| h.expose_secret().to_owned())
            .unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
        let matches = Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .context("password verification task panicked")?
}

/// argon2id hash of a random string nobody knows, with the default parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5MeLtQ3t7xwyiY7Fw4Bd0vlm7PCGr+TyTK1u2iz8Pl4";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let hash = hash_password(SecretString::from("mot de passe 1"))
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        let ok = verify_password(
            SecretString::from("mot de passe 1"),
            Some(SecretString::from(hash.clone())),
        );
        assert!(ok.await.expect("verify"));
        let wrong = verify_password(
            SecretString::from("mot de passe 2"),
            Some(SecretString::from(hash)),
        );
        assert!(!wrong.await.expect("verify"));
    }

    #[tokio::test]
    async fn unknown_users_never_verify() {
        assert!(
            !verify_password(SecretString::from("x"), None)
                .await
                .expect("dummy hash parses")
        );
    }
}
