//! Auth and users (api.md §2, §11): first-run setup, login, API keys, admin user management.
//!
//! Passwords are hashed with argon2 (on a blocking thread). API keys are 32 random bytes shown
//! once as URL-safe base64 (43 characters) and stored only as their SHA-256 plus an 8-character
//! prefix, so a leaked database does not leak usable keys.

use crate::dto::{ApiKeyIn, ApiKeyOut, MeOut, TokenOut, UserIn, UserOut};
use crate::{Caller, ServiceError, ServiceResult, Services};
use agentry_core::page::{Page, PageRequest};
use agentry_core::time::{iso, iso_opt, parse_iso};
use agentry_core::users::{self, Role};
use agentry_store::api_keys::{self, ApiKeyRow, NewKey};
use agentry_store::{now_ms, users as user_rows};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const INVALID_KEY: &str = "Invalid or missing API key.";
pub const REVOKED_KEY: &str = "API key has been revoked.";
pub const EXPIRED_KEY: &str = "API key has expired.";
pub const USER_NOT_FOUND: &str = "User not found.";
pub const INVALID_CREDENTIALS: &str = "Invalid credentials.";

/// A new random key: (full key, prefix, hash).
pub fn generate_key() -> (String, String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let prefix = key.chars().take(8).collect();
    let hash = hash_key(&key);
    (key, prefix, hash)
}

/// The name of the `platform_api` keys of one execution.
pub fn execution_key_name(execution_id: &str) -> String {
    format!("execution:{execution_id}")
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

async fn hash_password(password: String) -> ServiceResult<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        PasswordHasher::<PasswordHash>::hash_password_with_salt(
            &Argon2::default(),
            password.as_bytes(),
            &salt,
        )
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| ServiceError::Internal(e.to_string()))?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, compared against when the user does not exist so that a
/// login's timing does not reveal which names exist.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn key_out(row: &ApiKeyRow, key: Option<String>) -> ApiKeyOut {
    ApiKeyOut {
        id: row.id,
        name: row.name.clone(),
        prefix: row.prefix.clone(),
        created_at: iso(row.created_at),
        last_used_at: iso_opt(row.last_used_at),
        expires_at: iso_opt(row.expires_at),
        is_active: row.is_active,
        key,
    }
}

fn user_out(u: &user_rows::UserRow) -> UserOut {
    UserOut {
        id: u.id,
        username: u.username.clone(),
        role: u.role.clone(),
        created_at: iso(u.created_at),
    }
}

impl Services {
    pub async fn needs_setup(&self) -> ServiceResult<bool> {
        Ok(user_rows::count(&self.db).await? == 0)
    }

    /// First-run setup: creates the first user as admin with a key named `default`.
    pub async fn setup(&self, username: &str, password: &str) -> ServiceResult<TokenOut> {
        users::check_username(username).map_err(|e| ServiceError::invalid("username", e))?;
        users::check_password(password).map_err(|e| ServiceError::invalid("password", e))?;
        if !self.needs_setup().await? {
            return Err(ServiceError::Conflict("Setup already completed.".into()));
        }
        let hash = hash_password(password.to_string()).await?;
        let mut tx = self.db.begin().await?;
        // Checked again inside the transaction: two racing setups cannot both win.
        if user_rows::count_in(&mut tx).await? > 0 {
            return Err(ServiceError::Conflict("Setup already completed.".into()));
        }
        let now = now_ms();
        let user = user_rows::insert(&mut tx, username, &hash, Role::Admin.as_str(), now)
            .await?
            .ok_or_else(|| ServiceError::Conflict("Setup already completed.".into()))?;
        let (key, prefix, key_hash) = generate_key();
        api_keys::insert(
            &mut tx,
            NewKey {
                user_id: user.id,
                name: "default",
                prefix: &prefix,
                key_hash: &key_hash,
                expires_at: None,
                now,
            },
        )
        .await?;
        self.commit(tx).await?;
        tracing::info!(user = %username, "first-run setup created the admin user");
        if let Err(error) = self.ensure_env_credentials().await {
            tracing::warn!(%error, "cannot create the credentials from the environment");
        }
        Ok(TokenOut {
            key,
            requires_mfa: false,
        })
    }

    /// Password login: rotates (or creates) the user's key named `session`.
    pub async fn login(&self, username: &str, password: &str) -> ServiceResult<TokenOut> {
        let user = user_rows::get_by_name(&self.db, username).await?;
        let Some(user) = user.filter(|u| u.is_active) else {
            let dummy = match DUMMY_HASH.get() {
                Some(h) => h.clone(),
                None => {
                    let h = hash_password("not-a-real-password".into()).await?;
                    DUMMY_HASH.get_or_init(|| h).clone()
                }
            };
            verify_password(password.to_string(), dummy).await;
            return Err(ServiceError::Unauthorized(INVALID_CREDENTIALS.into()));
        };
        if !verify_password(password.to_string(), user.password_hash.clone()).await {
            return Err(ServiceError::Unauthorized(INVALID_CREDENTIALS.into()));
        }
        let (key, prefix, key_hash) = generate_key();
        let mut tx = self.db.begin().await?;
        api_keys::rotate(
            &mut tx,
            NewKey {
                user_id: user.id,
                name: "session",
                prefix: &prefix,
                key_hash: &key_hash,
                expires_at: None,
                now: now_ms(),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(TokenOut {
            key,
            requires_mfa: false,
        })
    }

    /// Resolves a bearer key to its user, with the spec's messages in the spec's order.
    pub async fn authenticate(&self, key: &str) -> ServiceResult<Caller> {
        let row = api_keys::find_by_hash(&self.db, &hash_key(key))
            .await?
            .ok_or_else(|| ServiceError::Unauthorized(INVALID_KEY.into()))?;
        if !row.is_active {
            return Err(ServiceError::Unauthorized(REVOKED_KEY.into()));
        }
        let now = now_ms();
        if row.expires_at.is_some_and(|t| t <= now) {
            return Err(ServiceError::Unauthorized(EXPIRED_KEY.into()));
        }
        let user = user_rows::get(&self.db, row.user_id)
            .await?
            .filter(|u| u.is_active)
            .ok_or_else(|| ServiceError::Unauthorized(USER_NOT_FOUND.into()))?;
        if row.last_used_at.is_none_or(|t| t < now - 60_000) {
            api_keys::touch(&self.db, row.id, now).await?;
        }
        Ok(Caller {
            user_id: user.id,
            username: user.username,
            role: Role::parse(&user.role).unwrap_or(Role::Normal),
            mfa_enabled: user.mfa_enabled,
        })
    }

    pub fn me(&self, caller: &Caller) -> MeOut {
        MeOut {
            id: caller.user_id,
            username: caller.username.clone(),
            role: caller.role.as_str().into(),
            mfa_enabled: caller.mfa_enabled,
        }
    }

    pub async fn create_key(&self, caller: &Caller, input: ApiKeyIn) -> ServiceResult<ApiKeyOut> {
        let name = input.name.trim();
        if name.is_empty() || input.name.chars().count() > 100 {
            return Err(ServiceError::invalid("name", "must be 1 to 100 characters"));
        }
        let now = now_ms();
        let expires_at = match input.expires_at.as_deref() {
            None => None,
            Some(text) => {
                let t = parse_iso(text).ok_or_else(|| {
                    ServiceError::invalid("expires_at", "is not an ISO-8601 datetime")
                })?;
                if t <= now {
                    return Err(ServiceError::BadRequest(
                        "expires_at must be in the future.".into(),
                    ));
                }
                Some(t)
            }
        };
        let (key, prefix, key_hash) = generate_key();
        let mut tx = self.db.begin().await?;
        let row = api_keys::insert(
            &mut tx,
            NewKey {
                user_id: caller.user_id,
                name: &input.name,
                prefix: &prefix,
                key_hash: &key_hash,
                expires_at,
                now,
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(key_out(&row, Some(key)))
    }

    /// A short-lived key acting as `owner_id` for one execution's `platform_api` calls
    /// (tools.md §6): named `execution:{id}`, expiring in 5 minutes, deleted when the execution
    /// ends ([`crate::executions::finish_in`]). Never shown to the model.
    pub async fn mint_execution_key(
        &self,
        owner_id: i64,
        execution_id: &str,
    ) -> ServiceResult<String> {
        let now = now_ms();
        let (key, prefix, key_hash) = generate_key();
        let name = execution_key_name(execution_id);
        let mut tx = self.db.begin().await?;
        api_keys::insert(
            &mut tx,
            NewKey {
                user_id: owner_id,
                name: &name,
                prefix: &prefix,
                key_hash: &key_hash,
                expires_at: Some(now + 5 * 60_000),
                now,
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(key)
    }

    pub async fn list_keys(&self, caller: &Caller) -> ServiceResult<Vec<ApiKeyOut>> {
        let rows = api_keys::list_for_user(&self.db, caller.user_id).await?;
        Ok(rows.iter().map(|r| key_out(r, None)).collect())
    }

    pub async fn revoke_key(&self, caller: &Caller, key_id: &str) -> ServiceResult<()> {
        let not_found = || ServiceError::NotFound("API key not found.".into());
        let id: i64 = key_id.parse().map_err(|_| not_found())?;
        let mut tx = self.db.begin().await?;
        if !api_keys::revoke(&mut tx, caller.user_id, id).await? {
            return Err(not_found());
        }
        self.commit(tx).await
    }

    /// Creates a user (admins through the API; anyone with database access through the CLI).
    pub async fn create_user(&self, input: UserIn) -> ServiceResult<UserOut> {
        users::check_username(&input.username).map_err(|e| ServiceError::invalid("username", e))?;
        users::check_password(&input.password).map_err(|e| ServiceError::invalid("password", e))?;
        let role = Role::parse(&input.role)
            .ok_or_else(|| ServiceError::invalid("role", "must be 'admin' or 'normal'"))?;
        let hash = hash_password(input.password).await?;
        let mut tx = self.db.begin().await?;
        let user = user_rows::insert(&mut tx, &input.username, &hash, role.as_str(), now_ms())
            .await?
            .ok_or_else(|| ServiceError::Conflict("Username already exists.".into()))?;
        self.commit(tx).await?;
        Ok(user_out(&user))
    }

    pub async fn admin_create_user(
        &self,
        caller: &Caller,
        input: UserIn,
    ) -> ServiceResult<UserOut> {
        require_admin(caller)?;
        self.create_user(input).await
    }

    pub async fn list_users(
        &self,
        caller: &Caller,
        page: PageRequest,
    ) -> ServiceResult<Page<UserOut>> {
        require_admin(caller)?;
        let (rows, total) = user_rows::list(&self.db, page).await?;
        Ok(Page {
            items: rows.iter().map(user_out).collect(),
            total,
        })
    }

    /// Deactivates a user: keys revoked, login refused, rows kept.
    pub async fn delete_user(&self, caller: &Caller, user_id: &str) -> ServiceResult<()> {
        require_admin(caller)?;
        let not_found = || ServiceError::NotFound(USER_NOT_FOUND.into());
        let id: i64 = user_id.parse().map_err(|_| not_found())?;
        if id == caller.user_id {
            return Err(ServiceError::Conflict(
                "You cannot delete your own account.".into(),
            ));
        }
        let mut tx = self.db.begin().await?;
        if !user_rows::deactivate(&mut tx, id).await? {
            return Err(not_found());
        }
        self.commit(tx).await
    }
}

fn require_admin(caller: &Caller) -> ServiceResult<()> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("Admin privileges required.".into()))
    }
}
