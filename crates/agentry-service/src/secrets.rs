//! Encryption at rest for credential secrets (api.md §7: "Secrets encrypted at rest").
//!
//! [`SecretBox`] seals a string with ChaCha20-Poly1305 (an AEAD: a changed byte or the wrong key
//! fails to open, never decrypts to garbage) under a 32-byte key, with a fresh random 12-byte
//! nonce per value. The stored text is `v1:` + base64(nonce ‖ ciphertext ‖ tag); the version
//! prefix leaves room for another scheme or key later.
//!
//! The key (engine.md §12): `--secret-key` / `AGENTRY_SECRET_KEY` when given (any string; its
//! SHA-256 is the key), else the file `secret.key` in the data directory: 32 random bytes,
//! created with mode 0600 on first use. Every process sharing one database (`serve`, `worker`)
//! must use the same key: the same data directory or the same `AGENTRY_SECRET_KEY`. Losing the
//! key makes the stored provider keys unreadable (they must be entered again), nothing else.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The version prefix of every sealed value.
pub const PREFIX: &str = "v1:";
/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "secret.key";
/// The environment variable naming the key (the `--secret-key` flag reads it too).
pub const KEY_ENV: &str = "AGENTRY_SECRET_KEY";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The key file could not be read or created.
    #[error("secret key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    /// A stored value that does not open with this key (wrong key, or altered data).
    #[error(
        "a stored secret cannot be decrypted (wrong AGENTRY_SECRET_KEY / secret.key, or altered data)"
    )]
    Decrypt,
    /// A stored value that is not in the `v1:` format.
    #[error("a stored secret is not in a known format")]
    Format,
}

/// Seals and opens secrets with one key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(****)")
    }
}

impl SecretBox {
    /// A box using exactly this key.
    pub fn new(key: [u8; 32]) -> Self {
        SecretBox {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        }
    }

    /// A box whose key is the SHA-256 of `passphrase` (`AGENTRY_SECRET_KEY`).
    pub fn from_passphrase(passphrase: &str) -> Self {
        SecretBox::new(Sha256::digest(passphrase.as_bytes()).into())
    }

    /// A box with a random key that lives as long as the process: for tests and commands that
    /// never touch stored secrets.
    pub fn ephemeral() -> Self {
        SecretBox::new(random_key())
    }

    /// The key source of `serve` and `worker` (engine.md §12): `secret_key` (the flag, which
    /// also reads `AGENTRY_SECRET_KEY`) when non-empty, else `AGENTRY_SECRET_KEY`, else the key
    /// file `secret.key` in `data_dir`, created (with the directory) when missing.
    pub fn from_env_or_file(
        secret_key: Option<&str>,
        data_dir: &Path,
    ) -> Result<Self, SecretError> {
        let given = secret_key
            .map(str::to_string)
            .or_else(|| std::env::var(KEY_ENV).ok())
            .filter(|k| !k.is_empty());
        match given {
            Some(passphrase) => Ok(SecretBox::from_passphrase(&passphrase)),
            None => Ok(SecretBox::new(load_or_create_key_file(data_dir)?)),
        }
    }

    /// Seals `plain`: `v1:` + base64(nonce ‖ ciphertext ‖ tag).
    pub fn encrypt(&self, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), plain.as_bytes())
            // Only fails for inputs of ~256 GiB.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    /// Opens a value sealed by [`encrypt`](SecretBox::encrypt) with the same key.
    pub fn decrypt(&self, stored: &str) -> Result<String, SecretError> {
        let body = stored.strip_prefix(PREFIX).ok_or(SecretError::Format)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| SecretError::Format)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretError::Format);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretError::Format)?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| SecretError::Decrypt)
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

/// Reads `data_dir/secret.key` (exactly 32 bytes), creating it when missing. Creation writes a
/// temporary file (mode 0600) and hard-links it into place, so two processes starting at once
/// agree on one key and nobody reads a half-written file.
fn load_or_create_key_file(data_dir: &Path) -> Result<[u8; 32], SecretError> {
    let path = data_dir.join(KEY_FILE);
    let fail = |message: String| SecretError::KeyFile {
        path: path.clone(),
        message,
    };
    match read_key_file(&path) {
        Ok(Some(key)) => return Ok(key),
        Ok(None) => {}
        Err(message) => return Err(fail(message)),
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| fail(format!("cannot create the data directory: {e}")))?;
    let key = random_key();
    let tmp = data_dir.join(format!(
        ".{KEY_FILE}.{}.{}",
        std::process::id(),
        hex::encode(&random_key()[..4])
    ));
    let written = write_private(&tmp, &key)
        .map_err(|e| fail(format!("cannot write the new key file: {e}")))
        .and_then(|()| match std::fs::hard_link(&tmp, &path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(fail(format!("cannot create the key file: {e}"))),
        });
    let _ = std::fs::remove_file(&tmp);
    if written? {
        tracing::info!(path = %path.display(), "created a new secret key file");
        return Ok(key);
    }
    // Another process created it first: use theirs.
    match read_key_file(&path) {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(fail("vanished while being created".into())),
        Err(message) => Err(fail(message)),
    }
}

/// `Ok(None)` when the file does not exist.
fn read_key_file(path: &Path) -> Result<Option<[u8; 32]>, String> {
    match std::fs::read(path) {
        Ok(bytes) => <[u8; 32]>::try_from(bytes.as_slice())
            .map(Some)
            .map_err(|_| {
                format!(
                    "must hold exactly 32 bytes, found {} (restore the original, or remove it \
                     and enter the credentials' keys again)",
                    bytes.len()
                )
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read: {e}")),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "agentry-secrets-{name}-{}-{}",
            std::process::id(),
            hex::encode(&random_key()[..6])
        ));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        dir
    }

    #[test]
    fn round_trip() {
        let sealed_box = SecretBox::ephemeral();
        for plain in ["", "sk-test-1234567890", "ключ with ünïcode ✓"] {
            let sealed = sealed_box.encrypt(plain);
            assert!(sealed.starts_with(PREFIX), "{sealed}");
            assert!(plain.is_empty() || !sealed.contains(plain));
            assert_eq!(sealed_box.decrypt(&sealed).expect("opens"), plain);
        }
        // A fresh nonce per value: the same text seals differently.
        assert_ne!(sealed_box.encrypt("same"), sealed_box.encrypt("same"));
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = SecretBox::from_passphrase("one").encrypt("sk-secret");
        assert!(matches!(
            SecretBox::from_passphrase("two").decrypt(&sealed),
            Err(SecretError::Decrypt)
        ));
        assert_eq!(
            SecretBox::from_passphrase("one")
                .decrypt(&sealed)
                .expect("same passphrase"),
            "sk-secret"
        );
    }

    #[test]
    fn tampering_fails() {
        let b = SecretBox::ephemeral();
        let sealed = b.encrypt("sk-secret-value");
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&sealed[PREFIX.len()..])
            .expect("base64");
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            let mut altered = bytes.clone();
            altered[i] ^= 1;
            let text = format!(
                "{PREFIX}{}",
                base64::engine::general_purpose::STANDARD.encode(&altered)
            );
            assert!(
                matches!(b.decrypt(&text), Err(SecretError::Decrypt)),
                "byte {i}"
            );
        }
        bytes.truncate(NONCE_LEN + TAG_LEN - 1);
        let short = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        );
        assert!(matches!(b.decrypt(&short), Err(SecretError::Format)));
        assert!(matches!(b.decrypt("plain-text"), Err(SecretError::Format)));
        assert!(matches!(b.decrypt("v1:!!!"), Err(SecretError::Format)));
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(
            format!("{:?}", SecretBox::from_passphrase("hunter2")),
            "SecretBox(****)"
        );
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = temp_dir("file").join("nested");
        let first = SecretBox::from_env_or_file(Some("a passphrase"), &dir);
        // A given key never touches the directory.
        assert!(first.is_ok());
        assert!(!dir.join(KEY_FILE).exists());

        let a = SecretBox::new(load_or_create_key_file(&dir).expect("create"));
        let path = dir.join(KEY_FILE);
        let bytes = std::fs::read(&path).expect("key file");
        assert_eq!(bytes.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = SecretBox::new(load_or_create_key_file(&dir).expect("reuse"));
        assert_eq!(b.decrypt(&a.encrypt("k")).expect("same key"), "k");
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(KEY_FILE)]);

        std::fs::write(&path, b"short").expect("corrupt");
        let err = load_or_create_key_file(&dir).expect_err("corrupt file");
        assert!(err.to_string().contains("exactly 32 bytes"), "{err}");
        let _ = std::fs::remove_dir_all(dir.parent().expect("parent"));
    }

    #[test]
    fn passphrase_and_file_keys_differ_from_each_other() {
        let dir = temp_dir("pass");
        let from_flag = SecretBox::from_env_or_file(Some("my passphrase"), &dir).expect("flag");
        let same = SecretBox::from_passphrase("my passphrase");
        assert_eq!(
            same.decrypt(&from_flag.encrypt("x"))
                .expect("same derivation"),
            "x"
        );
        let file = SecretBox::new(load_or_create_key_file(&dir).expect("file"));
        assert!(file.decrypt(&from_flag.encrypt("x")).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
