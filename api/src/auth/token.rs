//! Access tokens: HS256 JWTs carrying the user, the tenant and the role, valid for a short time.
//! The signing key is derived from the platform master key, so there is no second secret to manage.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use store::crypto::MasterKey;
use store::users::Role;
use uuid::Uuid;

const ISSUER: &str = "tdjaasa";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The tenant.
    pub tid: Uuid,
    pub role: String,
    /// The user's token version when issued; a token older than the user's current version is revoked.
    #[serde(default)]
    pub ver: i32,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: i64,
}

impl TokenKeys {
    pub fn from_master_key(master: &MasterKey, ttl_minutes: u64) -> Self {
        Self::from_secret(&master.derive("tdjaasa/jwt/hs256/v1"), ttl_minutes)
    }

    pub fn from_secret(secret: &[u8], ttl_minutes: u64) -> Self {
        // Only HS256 is accepted: `alg: none` and algorithm-confusion tokens fail validation.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_secs: i64::try_from(ttl_minutes.saturating_mul(60)).unwrap_or(i64::MAX),
        }
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn issue(
        &self,
        user_id: Uuid,
        tenant_id: Uuid,
        role: Role,
        token_version: i32,
    ) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            tid: tenant_id,
            role: role.as_str().to_owned(),
            ver: token_version,
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + self.ttl_secs,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
    }
}
