//! Envelope encryption of stored secrets (WhatsApp session keys, provider credentials).
//!
//! The platform master key (32 bytes, from `TDJ_MASTER_KEY`) wraps one random data key per tenant, stored in
//! `tenant_key`. Secrets are sealed with the tenant's data key under AES-256-GCM, with associated data that binds
//! the tenant and the purpose (for example `wa/session/<address>`): a ciphertext copied to another tenant or
//! another row fails to open instead of decrypting to the wrong secret.
//!
//! Sealed layout: `version (1) || nonce (12) || ciphertext+tag`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hkdf::Hkdf;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;
use uuid::Uuid;

use crate::{Error, Result, TenantTx};

const SEALED_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// How the master key is obtained.
#[derive(Debug, Clone, clap::Args)]
pub struct CryptoConfig {
    /// Base64 of 32 random bytes. Required in production; in development a key is generated into
    /// TDJ_MASTER_KEY_FILE on first start. Losing it makes every stored secret unreadable.
    #[arg(long, env = "TDJ_MASTER_KEY", value_parser = parse_secret)]
    pub master_key: Option<SecretString>,
    /// Where the development master key is kept when TDJ_MASTER_KEY is unset.
    #[arg(
        long,
        env = "TDJ_MASTER_KEY_FILE",
        default_value = ".tdjaasa/master.key"
    )]
    pub master_key_file: PathBuf,
}

fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_owned()))
}

/// The platform's key-encryption key.
#[derive(Clone)]
pub struct MasterKey(Arc<SecretBox<[u8; 32]>>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Arc::new(SecretBox::new(Box::new(bytes))))
    }

    pub fn from_base64(encoded: &str) -> anyhow::Result<Self> {
        let bytes = BASE64
            .decode(encoded.trim())
            .context("TDJ_MASTER_KEY is not valid base64")?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("TDJ_MASTER_KEY must decode to exactly 32 bytes"))?;
        Ok(Self::from_bytes(bytes))
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// Loads the key from the environment; outside production, falls back to (and creates) the key file.
    pub fn load(config: &CryptoConfig, production: bool) -> anyhow::Result<Self> {
        if let Some(key) = &config.master_key {
            return Self::from_base64(key.expose_secret());
        }
        anyhow::ensure!(
            !production,
            "TDJ_MASTER_KEY is required in production (base64 of 32 random bytes)"
        );
        Self::load_or_create_file(&config.master_key_file)
    }

    fn load_or_create_file(path: &Path) -> anyhow::Result<Self> {
        if path.exists() {
            let encoded = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the master key file {}", path.display()))?;
            return Self::from_base64(&encoded);
        }
        let key = Self::generate();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_private(path, BASE64.encode(key.0.expose_secret()).as_bytes())
            .with_context(|| format!("cannot write the master key file {}", path.display()))?;
        tracing::warn!(
            path = %path.display(),
            "TDJ_MASTER_KEY is not set: generated a development master key. Set TDJ_MASTER_KEY in production; \
             losing this key makes every stored secret unreadable"
        );
        Ok(key)
    }

    /// A key for another purpose (for example signing tokens), derived with HKDF-SHA256 so it never equals
    /// the master key itself.
    pub fn derive(&self, info: &str) -> [u8; 32] {
        let hk = Hkdf::<Sha256>::new(Some(b"tdjaasa"), self.0.expose_secret());
        let mut out = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        hk.expand(info.as_bytes(), &mut out)
            .unwrap_or_else(|_| unreachable!("HKDF output length is valid"));
        out
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(*self.0.expose_secret()))
    }

    fn wrap(&self, tenant_id: Uuid, data_key: &[u8; 32]) -> Result<Vec<u8>> {
        seal_with(&self.cipher(), &wrap_aad(tenant_id), data_key)
    }

    fn unwrap_key(&self, tenant_id: Uuid, wrapped: &[u8]) -> Result<[u8; 32]> {
        let bytes = open_with(&self.cipher(), &wrap_aad(tenant_id), wrapped)?;
        bytes.try_into().map_err(|_| Error::Crypto)
    }

    /// The tenant's data key, created and stored (wrapped) on first use.
    pub async fn data_key(&self, tx: &mut TenantTx<'_>) -> Result<DataKey> {
        let tenant_id = tx.tenant_id();
        let existing = sqlx::query_scalar!(
            "select wrapped_key from tenant_key where tenant_id = $1",
            tenant_id
        )
        .fetch_optional(&mut **tx)
        .await?;
        let wrapped = match existing {
            Some(wrapped) => wrapped,
            None => {
                let mut fresh = [0u8; 32];
                OsRng.fill_bytes(&mut fresh);
                let wrapped = self.wrap(tenant_id, &fresh)?;
                // A concurrent first use may win the insert; whichever key landed is the tenant's key.
                sqlx::query!(
                    "insert into tenant_key (tenant_id, wrapped_key) values ($1, $2) on conflict do nothing",
                    tenant_id,
                    &wrapped
                )
                .execute(&mut **tx)
                .await?;
                sqlx::query_scalar!(
                    "select wrapped_key from tenant_key where tenant_id = $1",
                    tenant_id
                )
                .fetch_one(&mut **tx)
                .await?
            }
        };
        let key = self.unwrap_key(tenant_id, &wrapped)?;
        Ok(DataKey {
            tenant_id,
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(key)),
        })
    }
}

fn wrap_aad(tenant_id: Uuid) -> Vec<u8> {
    format!("tdjaasa/data-key/v1/{tenant_id}").into_bytes()
}

/// One tenant's data key, unwrapped in memory.
#[derive(Clone)]
pub struct DataKey {
    tenant_id: Uuid,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

impl DataKey {
    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    fn aad(&self, purpose: &str) -> Vec<u8> {
        let mut aad = self.tenant_id.as_bytes().to_vec();
        aad.push(0);
        aad.extend_from_slice(purpose.as_bytes());
        aad
    }

    /// Encrypts `plaintext` for `purpose` (namespace and key, e.g. `wa/session/123@s.whatsapp.net`).
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        seal_with(&self.cipher, &self.aad(purpose), plaintext)
    }

    /// Decrypts what `seal` produced for the same tenant and purpose; anything else is `Error::Crypto`.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        open_with(&self.cipher, &self.aad(purpose), sealed)
    }
}

fn seal_with(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::Crypto)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(SEALED_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

fn open_with(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    let (&version, rest) = sealed.split_first().ok_or(Error::Crypto)?;
    if version != SEALED_VERSION || rest.len() < NONCE_LEN {
        return Err(Error::Crypto);
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::Crypto)?;
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| Error::Crypto)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_for(tenant: Uuid) -> DataKey {
        let mut bytes = [7u8; 32];
        bytes[0] = tenant.as_bytes()[0];
        DataKey {
            tenant_id: tenant,
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(bytes)),
        }
    }

    #[test]
    fn sealed_secret_opens_only_for_its_purpose() {
        let key = key_for(Uuid::new_v4());
        let sealed = key.seal("wa/session/a", b"secret").expect("seal");
        assert_eq!(key.open("wa/session/a", &sealed).expect("open"), b"secret");
        assert!(
            matches!(key.open("wa/session/b", &sealed), Err(Error::Crypto)),
            "AAD mismatch must fail"
        );
    }

    #[test]
    fn tampered_ciphertext_is_rejected() {
        let key = key_for(Uuid::new_v4());
        let mut sealed = key.seal("p", b"secret").expect("seal");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.open("p", &sealed).is_err());
        assert!(key.open("p", &[]).is_err(), "empty input");
        assert!(
            key.open("p", &[SEALED_VERSION, 1, 2]).is_err(),
            "truncated input"
        );
    }

    #[test]
    fn another_tenants_key_cannot_open() {
        let tenant = Uuid::new_v4();
        let sealed = key_for(tenant).seal("p", b"secret").expect("seal");
        let mut other = key_for(tenant);
        other.tenant_id = Uuid::new_v4();
        assert!(
            other.open("p", &sealed).is_err(),
            "the AAD binds the tenant id"
        );
    }

    #[test]
    fn wrapped_data_key_is_bound_to_its_tenant() {
        let master = MasterKey::generate();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let wrapped = master.wrap(a, &[9u8; 32]).expect("wrap");
        assert_eq!(master.unwrap_key(a, &wrapped).expect("unwrap"), [9u8; 32]);
        assert!(master.unwrap_key(b, &wrapped).is_err());
        assert!(
            MasterKey::generate().unwrap_key(a, &wrapped).is_err(),
            "another master key"
        );
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_from_the_master() {
        let master = MasterKey::from_bytes([1u8; 32]);
        assert_ne!(master.derive("jwt"), master.derive("other"));
        assert_ne!(master.derive("jwt"), [1u8; 32]);
        assert_eq!(
            master.derive("jwt"),
            MasterKey::from_bytes([1u8; 32]).derive("jwt")
        );
    }

    #[test]
    fn master_key_must_be_32_bytes_of_base64() {
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64(&BASE64.encode([0u8; 16])).is_err());
        assert!(MasterKey::from_base64(&BASE64.encode([0u8; 32])).is_ok());
    }
}
