//! The Spotify credentials and refresh token in AWS Secrets Manager: the deployed Lambda's
//! secret store (the secret's shape: docs/lambda-contracts.md#secret).
//!
//! The secret's `SecretString` is one JSON object:
//! `{"client_id": "…", "client_secret": "… (optional)", "refresh_token": "… (optional)"}`.
//! `infra/` creates it with only `client_id`; `tracklake auth` (or the README's steps) adds the
//! refresh token. When Spotify rotates the refresh token, [`SecretStore::save`] writes the whole
//! JSON back with PutSecretValue, every other key kept as it was.

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::Client;
use serde_json::{Map, Value};

use super::{SecretStore, SecretStoreError};
use spotify_client::{json_error_position, Secret};

/// Service error text quoted in errors is cut to this many characters.
const MAX_DETAIL_CHARS: usize = 300;

/// What the secret holds. `Debug` prints the secrets redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpotifySecret {
    /// The app's client id (not a secret itself, but it lives with the others).
    pub client_id: String,
    /// For client credentials (catalog only: search). Absent or empty means none.
    pub client_secret: Option<Secret>,
    /// From `tracklake auth` (PKCE): the user's data. Absent or empty means none yet.
    pub refresh_token: Option<Secret>,
}

impl SpotifySecret {
    /// Reads a `SecretString`. Parse errors name only a position, never a value: serde's own
    /// message could quote a token.
    pub fn parse(text: &str, secret_id: &str) -> Result<SpotifySecret, SecretStoreError> {
        let invalid = |detail: String| SecretStoreError::InvalidSecret {
            secret_id: secret_id.to_string(),
            detail,
        };
        let doc = parse_object(text).map_err(invalid)?;
        let text_field = |key: &str| -> Result<Option<String>, SecretStoreError> {
            match doc.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(invalid(format!("`{key}` is not a string"))),
            }
        };
        let client_id = text_field("client_id")?.ok_or_else(|| invalid("`client_id` is missing".into()))?;
        Ok(SpotifySecret {
            client_id,
            client_secret: text_field("client_secret")?.map(Secret::new),
            refresh_token: text_field("refresh_token")?.map(Secret::new),
        })
    }
}

fn parse_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(doc)) => Ok(doc),
        Ok(_) => Err("not a JSON object".to_string()),
        Err(e) => Err(json_error_position(&e)),
    }
}

/// One Secrets Manager secret, by name or ARN.
#[derive(Debug, Clone)]
pub struct SecretsManagerStore {
    client: Client,
    secret_id: String,
}

impl SecretsManagerStore {
    /// A store over a client built elsewhere (the Lambda builds one per process).
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerStore {
            client,
            secret_id: secret_id.into(),
        }
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// Everything the secret holds (GetSecretValue, the `AWSCURRENT` version).
    pub async fn load_spotify(&self) -> Result<SpotifySecret, SecretStoreError> {
        let text = self.secret_string().await?;
        SpotifySecret::parse(&text, &self.secret_id)
    }

    async fn secret_string(&self) -> Result<String, SecretStoreError> {
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| self.remote("read", &e))?;
        answer
            .secret_string()
            .map(str::to_string)
            .ok_or_else(|| SecretStoreError::InvalidSecret {
                secret_id: self.secret_id.clone(),
                detail: "it has no SecretString (a binary secret?)".to_string(),
            })
    }

    /// Replaces `refresh_token` in the stored JSON and writes it back as a new `AWSCURRENT`
    /// version. Read again just before the write, so a client id or secret changed by an operator
    /// during the run is kept, not overwritten with what the run started with.
    async fn save_refresh_token(&self, refresh_token: &Secret) -> Result<(), SecretStoreError> {
        let mut doc =
            parse_object(&self.secret_string().await?).map_err(|detail| SecretStoreError::InvalidSecret {
                secret_id: self.secret_id.clone(),
                detail,
            })?;
        doc.insert(
            "refresh_token".to_string(),
            Value::String(refresh_token.expose().to_string()),
        );
        let text = Value::Object(doc).to_string();
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(text)
            .send()
            .await
            .map_err(|e| self.remote("write", &e))?;
        Ok(())
    }

    fn remote<E, R>(&self, operation: &'static str, error: &SdkError<E, R>) -> SecretStoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        // Secrets Manager's errors name the secret and the failure, never its value.
        let detail = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => DisplayErrorContext(error).to_string(),
        };
        SecretStoreError::Remote {
            secret_id: self.secret_id.clone(),
            operation,
            detail: detail.chars().take(MAX_DETAIL_CHARS).collect(),
        }
    }
}

impl SecretStore for SecretsManagerStore {
    async fn load(&self) -> Result<Option<Secret>, SecretStoreError> {
        Ok(self.load_spotify().await?.refresh_token)
    }

    async fn save(&self, refresh_token: &Secret) -> Result<(), SecretStoreError> {
        self.save_refresh_token(refresh_token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_missing_optional_fields_are_none_and_a_bad_secret_names_no_value() {
        let secret = SpotifySecret::parse(
            r#"{"client_id":"id","client_secret":"","refresh_token":null}"#,
            "s",
        )
        .unwrap();
        assert_eq!(secret.client_id, "id");
        assert_eq!((secret.client_secret, secret.refresh_token), (None, None));
        let err = SpotifySecret::parse(r#"{"client_secret":"hunter2"}"#, "s").unwrap_err();
        assert!(err.to_string().contains("`client_id` is missing"), "{err}");
        let err = SpotifySecret::parse(r#"{"client_id":"id","refresh_token":"hunter2""#, "s").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
