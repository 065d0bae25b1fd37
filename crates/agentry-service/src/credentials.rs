//! Credentials (api.md §7): LLM provider keys and tool settings, owner-scoped (admins: all).
//!
//! * **Secrets at rest.** A credential's `detail.api_key` never reaches the `detail` column: it
//!   is sealed by the process's [`SecretBox`](crate::secrets::SecretBox) and stored in `secret`
//!   (`""` when there is none). Every read shows it masked ([`mask`]); the full key is never
//!   returned after creation and never logged. A PATCH that sends the masked value back leaves
//!   the stored key as it is; another value containing `****` is refused (a mask is never a key).
//! * **`detail` is normalized** on every write: LLM credentials get `provider_type`
//!   (`openai_compatible` default, `anthropic`, `glm`; others → 422), `base_url` (empty = the
//!   provider's default; else `http(s)://…`), `organization_id`, `custom_headers` (string
//!   values) and `pricing` (`{"<model prefix>": {"input", "output"}}`, $ per 1M tokens, ≥ 0);
//!   tool credentials get `tool_type` (`api`), `config` and `is_preferred`. Other keys are kept.
//!   PATCH merges the listed top-level `detail` keys; a key set to `null` returns to its default.
//! * **Provider calls.** `test` makes one real chat call of one token (the model: `detail.model`
//!   when set, else the provider's cheap default when it is listed, else the first listed model)
//!   and answers `{"ok": true}` or `{"ok": false, "error"}` with the client's error text (401/403
//!   → exactly "Authentication failed - invalid API key"). `models` is the client's listing.
//!   [`Services::chat_model`] hands the engine a ready client plus the credential's pricing.
//!
//! Dependency note: this is why `agentry-service` depends on `agentry-llm`. That crate is a leaf
//! on `agentry-core` only (no store, no service), so there is no cycle; the engine gets its
//! clients through here, where ownership and decryption are enforced once.
//!
//! Environment shortcuts (engine.md §12): [`Services::ensure_env_credentials`] creates
//! `env:openai` / `env:anthropic` / `env:ollama` for the first admin from `OPENAI_API_KEY`,
//! `ANTHROPIC_API_KEY`, `OLLAMA_HOST`, unless a credential of that name exists. `serve` calls it
//! at start, and first-run setup right after it creates the admin.

use crate::dto::{CredentialIn, CredentialOut, CredentialPatch, CredentialTestOut, ModelOut};
use crate::{Caller, ServiceError, ServiceResult, Services};
use agentry_core::Patch;
use agentry_core::page::{Page, PageRequest};
use agentry_core::time::iso;
use agentry_llm::{ChatModel, ChatRequest, ClientOptions, LlmError, Message, RetryPolicy};
use agentry_store::credentials::{self, CredentialRow};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const NOT_FOUND: &str = "Credential not found.";
pub const LLM_NOT_FOUND: &str = "LLM credential not found.";
pub const CREDENTIAL_TYPES: &[&str] = &["llm", "tool"];
pub const PROVIDER_TYPES: &[&str] = &["openai_compatible", "anthropic", "glm"];
/// What masking puts in the middle (and shows alone for keys shorter than 8 characters).
pub const MASK: &str = "****";
/// Per-attempt timeout of `test` and `models` (no retries: the answer should be quick).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// The environment shortcuts: (variable, credential name).
pub const ENV_SHORTCUTS: &[(&str, &str)] = &[
    ("OPENAI_API_KEY", "env:openai"),
    ("ANTHROPIC_API_KEY", "env:anthropic"),
    ("OLLAMA_HOST", "env:ollama"),
];

fn not_found() -> ServiceError {
    ServiceError::NotFound(NOT_FOUND.into())
}

fn llm_not_found() -> ServiceError {
    ServiceError::NotFound(LLM_NOT_FOUND.into())
}

/// api.md §7: first 4 characters + `****` + last 4, or `****` when shorter than 8; `""` for no
/// key at all.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    if chars.len() < 8 {
        return MASK.to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{MASK}{tail}")
}

/// Ids are integers; any other text names nothing (api.md §1: never parse ids → 404).
fn parse_id(id: &str) -> ServiceResult<i64> {
    id.trim().parse::<i64>().map_err(|_| not_found())
}

fn check_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ServiceError::invalid("name", "must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(ServiceError::invalid(
            "name",
            "must be at most 200 characters",
        ));
    }
    Ok(name.to_string())
}

fn check_type(credential_type: &str) -> ServiceResult<()> {
    if CREDENTIAL_TYPES.contains(&credential_type) {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "credential_type",
            "must be one of llm, tool",
        ))
    }
}

/// Takes `api_key` out of `detail`: `Some(key)` when present (null → `""`: no key).
fn take_api_key(detail: &mut Map<String, Value>) -> ServiceResult<Option<String>> {
    match detail.remove("api_key") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(String::new())),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(ServiceError::invalid("detail.api_key", "must be a string")),
    }
}

fn string_field(detail: &mut Map<String, Value>, key: &str, default: &str) -> ServiceResult<()> {
    let value = match detail.get(key) {
        None | Some(Value::Null) => default.to_string(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(_) => {
            return Err(ServiceError::invalid(
                &format!("detail.{key}"),
                "must be a string",
            ));
        }
    };
    detail.insert(key.to_string(), Value::String(value));
    Ok(())
}

fn object_field(detail: &mut Map<String, Value>, key: &str) -> ServiceResult<()> {
    match detail.get(key) {
        None | Some(Value::Null) => {
            detail.insert(key.to_string(), json!({}));
            Ok(())
        }
        Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(ServiceError::invalid(
            &format!("detail.{key}"),
            "must be an object",
        )),
    }
}

/// Validates `detail` (without `api_key`) and fills in the defaults of its type.
fn normalize_detail(credential_type: &str, detail: &mut Map<String, Value>) -> ServiceResult<()> {
    if credential_type == "llm" {
        string_field(detail, "provider_type", "openai_compatible")?;
        if detail["provider_type"] == json!("") {
            detail.insert("provider_type".into(), json!("openai_compatible"));
        }
        let provider = detail["provider_type"].as_str().unwrap_or_default();
        if !PROVIDER_TYPES.contains(&provider) {
            return Err(ServiceError::invalid(
                "detail.provider_type",
                "must be one of openai_compatible, anthropic, glm",
            ));
        }
        string_field(detail, "base_url", "")?;
        let base_url = detail["base_url"].as_str().unwrap_or_default();
        let scheme_ok = base_url.starts_with("http://") || base_url.starts_with("https://");
        if !base_url.is_empty() && !scheme_ok {
            return Err(ServiceError::invalid(
                "detail.base_url",
                "must be empty or start with http:// or https://",
            ));
        }
        string_field(detail, "organization_id", "")?;
        object_field(detail, "custom_headers")?;
        if let Some(headers) = detail["custom_headers"].as_object()
            && headers
                .iter()
                .any(|(name, value)| name.trim().is_empty() || !value.is_string())
        {
            return Err(ServiceError::invalid(
                "detail.custom_headers",
                "must map header names to string values",
            ));
        }
        object_field(detail, "pricing")?;
        check_pricing(&detail["pricing"])?;
    } else {
        string_field(detail, "tool_type", "api")?;
        if detail["tool_type"] == json!("") {
            detail.insert("tool_type".into(), json!("api"));
        }
        object_field(detail, "config")?;
        match detail.get("is_preferred") {
            None | Some(Value::Null) => {
                detail.insert("is_preferred".into(), json!(false));
            }
            Some(Value::Bool(_)) => {}
            Some(_) => {
                return Err(ServiceError::invalid(
                    "detail.is_preferred",
                    "must be a boolean",
                ));
            }
        }
    }
    Ok(())
}

/// `{"<model prefix>": {"input": n, "output": n}}` with non-negative numbers.
fn check_pricing(pricing: &Value) -> ServiceResult<()> {
    let bad = || {
        ServiceError::invalid(
            "detail.pricing",
            "must map model prefixes to {\"input\": number, \"output\": number} ($ per 1M tokens, >= 0)",
        )
    };
    for entry in pricing.as_object().into_iter().flat_map(|m| m.values()) {
        let entry = entry.as_object().ok_or_else(bad)?;
        for key in ["input", "output"] {
            match entry.get(key) {
                None => {}
                Some(v) if v.as_f64().is_some_and(|n| n >= 0.0) => {}
                Some(_) => return Err(bad()),
            }
        }
    }
    Ok(())
}

/// The cheap model `test` prefers when the provider lists it.
fn default_test_model(provider_type: &str) -> &'static str {
    match provider_type {
        "anthropic" => "claude-haiku-4-5-20251001",
        "glm" => "glm-4-flash",
        _ => "gpt-4o-mini",
    }
}

fn probe_options() -> ClientOptions {
    ClientOptions::default()
        .with_timeout(PROBE_TIMEOUT)
        .with_retry(RetryPolicy::none())
}

impl Services {
    /// The stored key in clear (`""` when there is none).
    fn open_secret(&self, row: &CredentialRow) -> Result<String, crate::secrets::SecretError> {
        if row.secret.is_empty() {
            Ok(String::new())
        } else {
            self.secrets.decrypt(&row.secret)
        }
    }

    /// The key as shown: masked; `****` when it cannot be decrypted (a changed secret key).
    fn masked_secret(&self, row: &CredentialRow) -> String {
        match self.open_secret(row) {
            Ok(key) => mask(&key),
            Err(error) => {
                tracing::warn!(credential = row.id, %error, "cannot decrypt a credential's key");
                MASK.to_string()
            }
        }
    }

    fn seal(&self, key: &str) -> String {
        if key.is_empty() {
            String::new()
        } else {
            self.secrets.encrypt(key)
        }
    }

    fn credential_out(&self, row: &CredentialRow) -> CredentialOut {
        let mut detail = row.detail.0.clone();
        if let Value::Object(map) = &mut detail {
            map.remove("api_key");
            if row.credential_type == "llm" || !row.secret.is_empty() {
                map.insert("api_key".into(), Value::String(self.masked_secret(row)));
            }
        }
        CredentialOut {
            id: row.id,
            name: row.name.clone(),
            credential_type: row.credential_type.clone(),
            detail,
            created_at: iso(row.created_at),
            updated_at: iso(row.updated_at),
        }
    }

    /// A credential the caller may see and change.
    async fn owned_credential(&self, caller: &Caller, id: &str) -> ServiceResult<CredentialRow> {
        let id = parse_id(id)?;
        match credentials::get(&self.db, id).await? {
            Some(row) if caller.owns(row.owner_id) => Ok(row),
            _ => Err(not_found()),
        }
    }

    /// An LLM credential the caller may use (`models`).
    async fn owned_llm_credential(
        &self,
        caller: &Caller,
        id: &str,
    ) -> ServiceResult<CredentialRow> {
        let id = id.trim().parse::<i64>().map_err(|_| llm_not_found())?;
        match credentials::get(&self.db, id).await? {
            Some(row) if caller.owns(row.owner_id) && row.credential_type == "llm" => Ok(row),
            _ => Err(llm_not_found()),
        }
    }

    async fn insert_credential(
        &self,
        owner_id: i64,
        input: CredentialIn,
    ) -> ServiceResult<CredentialRow> {
        let name = check_name(&input.name)?;
        let credential_type = input.credential_type.trim().to_string();
        check_type(&credential_type)?;
        let mut detail = input.detail.unwrap_or_default();
        let api_key = take_api_key(&mut detail)?.unwrap_or_default();
        normalize_detail(&credential_type, &mut detail)?;
        let secret = self.seal(&api_key);
        let mut tx = self.db.begin().await?;
        let row = credentials::insert(
            &mut tx,
            owner_id,
            &name,
            &credential_type,
            &Value::Object(detail),
            &secret,
        )
        .await?;
        self.commit(tx).await?;
        Ok(row)
    }

    pub async fn create_credential(
        &self,
        caller: &Caller,
        input: CredentialIn,
    ) -> ServiceResult<CredentialOut> {
        let row = self.insert_credential(caller.user_id, input).await?;
        tracing::info!(credential = row.id, name = %row.name, "credential created");
        Ok(self.credential_out(&row))
    }

    /// Newest first; the caller's own (admins: everyone's).
    pub async fn list_credentials(
        &self,
        caller: &Caller,
        page: PageRequest,
    ) -> ServiceResult<Page<CredentialOut>> {
        let (rows, total) = credentials::list(&self.db, caller.owner_filter(), page).await?;
        Ok(Page {
            items: rows.iter().map(|r| self.credential_out(r)).collect(),
            total,
        })
    }

    pub async fn get_credential(&self, caller: &Caller, id: &str) -> ServiceResult<CredentialOut> {
        let row = self.owned_credential(caller, id).await?;
        Ok(self.credential_out(&row))
    }

    pub async fn patch_credential(
        &self,
        caller: &Caller,
        id: &str,
        patch: CredentialPatch,
    ) -> ServiceResult<CredentialOut> {
        let current = self.owned_credential(caller, id).await?;
        let mut name = current.name.clone();
        match patch.name {
            Patch::Value(n) => name = check_name(&n)?,
            Patch::Null => return Err(ServiceError::invalid("name", "must not be null")),
            Patch::Absent => {}
        }
        let mut detail = current.detail.0.as_object().cloned().unwrap_or_default();
        detail.remove("api_key");
        let mut secret = current.secret.clone();
        match patch.detail {
            Patch::Value(mut changes) => {
                if let Some(key) = take_api_key(&mut changes)? {
                    let shown = self.masked_secret(&current);
                    if key != shown || key.is_empty() {
                        if key.contains(MASK) {
                            return Err(ServiceError::invalid(
                                "detail.api_key",
                                "a masked value cannot be stored; send the full key",
                            ));
                        }
                        secret = self.seal(&key);
                    }
                }
                for (key, value) in changes {
                    if value.is_null() {
                        detail.remove(&key);
                    } else {
                        detail.insert(key, value);
                    }
                }
            }
            Patch::Null => return Err(ServiceError::invalid("detail", "must not be null")),
            Patch::Absent => {}
        }
        normalize_detail(&current.credential_type, &mut detail)?;
        let mut tx = self.db.begin().await?;
        let row = credentials::update(&mut tx, current.id, &name, &Value::Object(detail), &secret)
            .await?;
        self.commit(tx).await?;
        Ok(self.credential_out(&row))
    }

    pub async fn delete_credential(&self, caller: &Caller, id: &str) -> ServiceResult<()> {
        let row = self.owned_credential(caller, id).await?;
        let mut tx = self.db.begin().await?;
        if !credentials::delete(&mut tx, row.id).await? {
            return Err(not_found());
        }
        self.commit(tx).await?;
        tracing::info!(credential = row.id, "credential deleted");
        Ok(())
    }

    /// Deletes the listed credentials the caller owns; unknown and foreign ids are skipped.
    pub async fn batch_delete_credentials(
        &self,
        caller: &Caller,
        ids: &[i64],
    ) -> ServiceResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        if ids.len() > 1000 {
            return Err(ServiceError::invalid("ids", "at most 1000 per request"));
        }
        let mut owned = Vec::new();
        for &id in ids {
            if let Some(row) = credentials::get(&self.db, id).await?
                && caller.owns(row.owner_id)
                && !owned.contains(&row.id)
            {
                owned.push(row.id);
            }
        }
        if owned.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        for id in owned {
            credentials::delete(&mut tx, id).await?;
        }
        self.commit(tx).await
    }

    /// The detail a client is built from: the stored one plus the key in clear.
    fn client_detail(&self, row: &CredentialRow) -> ServiceResult<Value> {
        let key = self
            .open_secret(row)
            .map_err(|e| ServiceError::Internal(format!("credential {}: {e}", row.id)))?;
        let mut detail = row.detail.0.clone();
        if let Value::Object(map) = &mut detail {
            map.insert("api_key".into(), Value::String(key));
        }
        Ok(detail)
    }

    pub(crate) fn client_for(
        &self,
        row: &CredentialRow,
        options: ClientOptions,
    ) -> ServiceResult<Arc<dyn ChatModel>> {
        let detail = self.client_detail(row)?;
        agentry_llm::from_credential_detail(&detail, options)
            .map_err(|e| ServiceError::Invalid(e.to_string()))
    }

    /// `POST /credentials/{id}/test/`: one real one-token chat call.
    pub async fn test_credential(
        &self,
        caller: &Caller,
        id: &str,
    ) -> ServiceResult<CredentialTestOut> {
        let row = self.owned_credential(caller, id).await?;
        if row.credential_type != "llm" {
            return Ok(CredentialTestOut {
                ok: false,
                error: Some("Only LLM credentials can be tested.".into()),
                detail: None,
            });
        }
        let client = match self.client_for(&row, probe_options()) {
            Ok(client) => client,
            Err(e) => {
                return Ok(CredentialTestOut {
                    ok: false,
                    error: Some(e.to_string()),
                    detail: None,
                });
            }
        };
        let provider_type = row.detail.0["provider_type"]
            .as_str()
            .unwrap_or("openai_compatible")
            .to_string();
        let model = match row.detail.0.get("model").and_then(Value::as_str) {
            Some(m) if !m.trim().is_empty() => m.trim().to_string(),
            _ => {
                let listed = client.list_models().await;
                let preferred = default_test_model(&provider_type);
                if listed.is_empty() || listed.iter().any(|m| m.id == preferred) {
                    preferred.to_string()
                } else {
                    listed[0].id.clone()
                }
            }
        };
        let request =
            ChatRequest::new(model.clone(), vec![Message::user("ping")]).with_max_tokens(1);
        match client.chat(&request).await {
            Ok(_) => Ok(CredentialTestOut {
                ok: true,
                error: None,
                detail: Some(json!({"provider": client.provider(), "model": model})),
            }),
            Err(e) => {
                let mut detail = json!({"provider": e.provider(), "model": model});
                if let Some(status) = e.status() {
                    detail["status"] = json!(status);
                }
                if let LlmError::Auth { .. } = e {
                    tracing::info!(
                        credential = row.id,
                        "credential test: authentication failed"
                    );
                }
                Ok(CredentialTestOut {
                    ok: false,
                    error: Some(e.to_string()),
                    detail: Some(detail),
                })
            }
        }
    }

    /// `GET /credentials/{id}/models/`: the provider's models, sorted by id (failures → `[]`).
    pub async fn credential_models(
        &self,
        caller: &Caller,
        id: &str,
    ) -> ServiceResult<Vec<ModelOut>> {
        let row = self.owned_llm_credential(caller, id).await?;
        let client = match self.client_for(&row, probe_options()) {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(credential = row.id, %error, "cannot list the models");
                return Ok(Vec::new());
            }
        };
        let mut models: Vec<ModelOut> = client
            .list_models()
            .await
            .into_iter()
            .map(|m| ModelOut {
                id: m.id,
                name: m.name,
            })
            .collect();
        models.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(models)
    }

    /// For the engine: the client of LLM credential `credential_id` and its `detail.pricing`
    /// (`{}` when none). The credential must belong to `owner_id` (`None`: anyone's). Default
    /// client options (retries, 120 s per attempt).
    pub async fn chat_model(
        &self,
        owner_id: Option<i64>,
        credential_id: i64,
    ) -> ServiceResult<(Arc<dyn ChatModel>, Value)> {
        self.chat_model_with(owner_id, credential_id, ClientOptions::default())
            .await
    }

    /// [`chat_model`](Services::chat_model) with explicit client options.
    pub async fn chat_model_with(
        &self,
        owner_id: Option<i64>,
        credential_id: i64,
        options: ClientOptions,
    ) -> ServiceResult<(Arc<dyn ChatModel>, Value)> {
        let row = match credentials::get(&self.db, credential_id).await? {
            Some(row)
                if row.credential_type == "llm"
                    && owner_id.is_none_or(|owner| owner == row.owner_id) =>
            {
                row
            }
            _ => return Err(llm_not_found()),
        };
        let client = self.client_for(&row, options)?;
        let pricing = match row.detail.0.get("pricing") {
            Some(p @ Value::Object(_)) => p.clone(),
            _ => json!({}),
        };
        Ok((client, pricing))
    }

    /// The base URL of the owner's SearXNG tool credential for `web_search` (tools.md §6): the
    /// preferred one first, then the lowest id; `None` when the owner has none.
    pub async fn searxng_url(&self, owner_id: i64) -> ServiceResult<Option<String>> {
        let rows = credentials::of_type(&self.db, owner_id, "tool").await?;
        let url = |r: &CredentialRow| {
            let d = &r.detail.0;
            (d.get("tool_type").and_then(Value::as_str) == Some("searxng"))
                .then(|| d.pointer("/config/url").and_then(Value::as_str))
                .flatten()
                .filter(|u| !u.is_empty())
                .map(String::from)
        };
        let preferred = |r: &&CredentialRow| {
            r.detail.0.get("is_preferred").and_then(Value::as_bool) == Some(true)
        };
        Ok(rows
            .iter()
            .filter(preferred)
            .find_map(url)
            .or_else(|| rows.iter().find_map(url)))
    }

    /// engine.md §12: `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` / `OLLAMA_HOST` → credentials
    /// `env:openai` / `env:anthropic` / `env:ollama` of the first admin, unless that name exists.
    /// Returns the names created (none before setup).
    pub async fn ensure_env_credentials(&self) -> ServiceResult<Vec<String>> {
        self.ensure_credentials_from(|name| std::env::var(name).ok())
            .await
    }

    /// [`ensure_env_credentials`](Services::ensure_env_credentials) reading the variables
    /// through `var` (tests).
    pub async fn ensure_credentials_from(
        &self,
        var: impl Fn(&str) -> Option<String>,
    ) -> ServiceResult<Vec<String>> {
        let wanted: Vec<(&str, &str, Map<String, Value>)> = ENV_SHORTCUTS
            .iter()
            .filter_map(|&(variable, name)| {
                let value = var(variable)?.trim().to_string();
                if value.is_empty() {
                    return None;
                }
                let detail = match variable {
                    "ANTHROPIC_API_KEY" => {
                        json!({"provider_type": "anthropic", "api_key": value})
                    }
                    "OLLAMA_HOST" => json!({
                        "provider_type": "openai_compatible",
                        "base_url": ollama_base_url(&value),
                        "api_key": "ollama",
                    }),
                    _ => json!({"provider_type": "openai_compatible", "api_key": value}),
                };
                Some((
                    variable,
                    name,
                    detail.as_object().cloned().unwrap_or_default(),
                ))
            })
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let Some(admin) = agentry_store::users::first_admin(&self.db).await? else {
            return Ok(Vec::new());
        };
        let mut created = Vec::new();
        for (variable, name, detail) in wanted {
            if credentials::get_by_name(&self.db, admin.id, name)
                .await?
                .is_some()
            {
                continue;
            }
            let input = CredentialIn {
                name: name.to_string(),
                credential_type: "llm".into(),
                detail: Some(detail),
            };
            let row = self.insert_credential(admin.id, input).await?;
            tracing::info!(credential = row.id, name, from = variable, user = %admin.username,
                "created a credential from the environment");
            created.push(name.to_string());
        }
        Ok(created)
    }
}

/// `OLLAMA_HOST` (`host:port`, `http://host:port`, …) → the OpenAI-compatible base URL
/// `{OLLAMA_HOST}/v1`, with `http://` added when no scheme is given.
pub fn ollama_base_url(host: &str) -> String {
    let host = host.trim().trim_end_matches('/');
    let host = if host.starts_with("http://") || host.starts_with("https://") {
        host.to_string()
    } else {
        format!("http://{host}")
    };
    if host.ends_with("/v1") {
        host
    } else {
        format!("{host}/v1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking() {
        assert_eq!(mask(""), "");
        assert_eq!(mask("short"), "****");
        assert_eq!(mask("1234567"), "****");
        assert_eq!(mask("12345678"), "1234****5678");
        assert_eq!(mask("sk-abcdefghijklmnop"), "sk-a****mnop");
        assert_eq!(mask("ключключключ"), "ключ****ключ");
    }

    #[test]
    fn llm_detail_defaults_and_checks() {
        let mut d = Map::new();
        normalize_detail("llm", &mut d).expect("defaults");
        assert_eq!(
            Value::Object(d),
            json!({"provider_type": "openai_compatible", "base_url": "", "organization_id": "",
                   "custom_headers": {}, "pricing": {}})
        );
        for (bad, field) in [
            (json!({"provider_type": "gemini"}), "detail.provider_type"),
            (json!({"provider_type": 3}), "detail.provider_type"),
            (json!({"base_url": "ftp://x"}), "detail.base_url"),
            (json!({"custom_headers": {"x": 1}}), "detail.custom_headers"),
            (json!({"custom_headers": []}), "detail.custom_headers"),
            (json!({"pricing": {"gpt": {"input": -1}}}), "detail.pricing"),
            (json!({"pricing": {"gpt": 2}}), "detail.pricing"),
        ] {
            let mut d = bad.as_object().cloned().expect("object");
            let err = normalize_detail("llm", &mut d).expect_err("invalid");
            assert!(err.to_string().starts_with(field), "{bad}: {err}");
        }
        let mut d = json!({"provider_type": "anthropic", "pricing": {"claude": {"input": 1, "output": 2}}, "model": "m"})
            .as_object()
            .cloned()
            .expect("object");
        normalize_detail("llm", &mut d).expect("valid");
        assert_eq!(d["model"], json!("m"));
    }

    #[test]
    fn tool_detail_defaults() {
        let mut d = Map::new();
        normalize_detail("tool", &mut d).expect("defaults");
        assert_eq!(
            Value::Object(d),
            json!({"tool_type": "api", "config": {}, "is_preferred": false})
        );
        let mut d = json!({"is_preferred": "yes"})
            .as_object()
            .cloned()
            .expect("object");
        assert!(normalize_detail("tool", &mut d).is_err());
    }

    #[test]
    fn ollama_urls() {
        assert_eq!(
            ollama_base_url("http://localhost:11434"),
            "http://localhost:11434/v1"
        );
        assert_eq!(
            ollama_base_url("127.0.0.1:11434/"),
            "http://127.0.0.1:11434/v1"
        );
        assert_eq!(
            ollama_base_url("https://ollama.example/v1"),
            "https://ollama.example/v1"
        );
    }
}
