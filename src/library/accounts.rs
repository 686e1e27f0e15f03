//! Accounts of the people who sign in to `paperscout serve`: a password (argon2 hash),
//! API tokens (stored as their SHA-256: a token is 256 random bits, so a fast hash is
//! enough), and a feed token for the private Atom feed. An account belongs to a user
//! name, which is also the name of that user's profile ([`super::profiles`]): adding an
//! account to an existing profile changes nothing of the profile.
//!
//! # On disk
//!
//! ```text
//! LIBRARY/accounts/accounts.json   every account (format "paperscout-accounts", version 1)
//! LIBRARY/accounts/write.lock      the OS lock every change holds
//! ```
//!
//! Changed like a profile: under the lock, written to a temporary file, flushed and
//! renamed over the old one, so readers see the old file or the new one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::lock::WriteLock;
use super::manifest::write_atomic;
use super::profiles::check_user;
use crate::{Error, Result};

/// Directory of the accounts inside a library.
pub const ACCOUNTS_DIR: &str = "accounts";
/// File of the accounts inside [`ACCOUNTS_DIR`].
pub const ACCOUNTS_FILE: &str = "accounts.json";
const FORMAT: &str = "paperscout-accounts";
const VERSION: u32 = 1;
/// The prefix of every API token (so a leaked one is recognisable).
pub const TOKEN_PREFIX: &str = "pst_";
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// One API token, by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Hex SHA-256 of the token.
    pub sha256: String,
    pub created: DateTime<Utc>,
}

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub user: String,
    /// PHC string of the argon2id hash.
    pub password: String,
    #[serde(default)]
    pub tokens: Vec<TokenRecord>,
    /// The secret in the user's private feed URL (read-only access to the feed).
    pub feed_token: String,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccountsFile {
    format: String,
    version: u32,
    accounts: BTreeMap<String, Account>,
}

/// The accounts of one library.
#[derive(Debug, Clone)]
pub struct Accounts {
    dir: PathBuf,
}

/// All accounts as read at one moment, with a token index.
#[derive(Debug, Clone, Default)]
pub struct AccountSet {
    pub accounts: BTreeMap<String, Account>,
    by_token: std::collections::HashMap<String, String>,
}

impl AccountSet {
    fn new(accounts: BTreeMap<String, Account>) -> Self {
        let by_token = accounts
            .values()
            .flat_map(|a| a.tokens.iter().map(|t| (t.sha256.clone(), a.user.clone())))
            .collect();
        AccountSet { accounts, by_token }
    }

    /// The user an API token belongs to.
    pub fn user_for_token(&self, token: &str) -> Option<&str> {
        self.by_token.get(&token_hash(token)).map(String::as_str)
    }

    /// Whether `token` is `user`'s feed token (compared in constant time).
    pub fn feed_token_ok(&self, user: &str, token: &str) -> bool {
        self.accounts
            .get(user)
            .is_some_and(|a| constant_eq(a.feed_token.as_bytes(), token.as_bytes()))
    }

    /// Whether `password` is `user`'s. An unknown user is `false` after the same work.
    pub fn verify_password(&self, user: &str, password: &str) -> bool {
        match self.accounts.get(user) {
            Some(a) => verify(&a.password, password),
            None => {
                // The same argon2 work, so timing does not tell which users exist.
                let _ = hash_password("not a password of anyone");
                false
            }
        }
    }
}

impl Accounts {
    /// The accounts of the library in `library_dir` (which need not exist yet).
    pub fn new(library_dir: impl AsRef<Path>) -> Accounts {
        Accounts {
            dir: library_dir.as_ref().join(ACCOUNTS_DIR),
        }
    }

    /// The accounts file (for a reader that watches it for changes).
    pub fn path(&self) -> PathBuf {
        self.dir.join(ACCOUNTS_FILE)
    }

    /// Every account; none when there is no file yet.
    pub fn load(&self) -> Result<AccountSet> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AccountSet::default()),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let bad = |message: String| Error::Library {
            path: path.clone(),
            message,
        };
        let file: AccountsFile = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not a readable accounts file: {e}")))?;
        if file.format != FORMAT {
            return Err(bad(format!(
                "format {:?}, expected {FORMAT:?}",
                file.format
            )));
        }
        if file.version > VERSION {
            return Err(bad(format!(
                "accounts format version {} is newer than this paperscout reads ({VERSION}); upgrade paperscout",
                file.version
            )));
        }
        Ok(AccountSet::new(file.accounts))
    }

    /// Change the accounts under the lock; `change` returns what to hand back.
    fn change<T>(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, Account>) -> Result<T>,
    ) -> Result<T> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let _lock = WriteLock::acquire(&self.dir)?;
        let mut accounts = self.load()?.accounts;
        let out = change(&mut accounts)?;
        let file = AccountsFile {
            format: FORMAT.into(),
            version: VERSION,
            accounts,
        };
        let mut json = serde_json::to_vec_pretty(&file)
            .map_err(|e| Error::Invalid(format!("serialising accounts: {e}")))?;
        json.push(b'\n');
        write_atomic(
            &self.dir,
            &format!("{ACCOUNTS_FILE}.tmp"),
            ACCOUNTS_FILE,
            &json,
        )?;
        Ok(out)
    }

    /// Create `user`'s account, or set a new password of an existing one (its tokens
    /// stay). Returns whether the account is new.
    pub fn set_password(&self, user: &str, password: &str) -> Result<bool> {
        check_user(user)?;
        if password.chars().count() < MIN_PASSWORD {
            return Err(Error::Invalid(format!(
                "password of {user}: at least {MIN_PASSWORD} characters please"
            )));
        }
        let hash = hash_password(password)?;
        self.change(|accounts| match accounts.get_mut(user) {
            Some(a) => {
                a.password = hash;
                Ok(false)
            }
            None => {
                accounts.insert(
                    user.to_string(),
                    Account {
                        user: user.to_string(),
                        password: hash,
                        tokens: Vec::new(),
                        feed_token: random_hex()?,
                        created: super::profiles::now(),
                    },
                );
                Ok(true)
            }
        })
    }

    /// A new API token of `user` (shown once: only its hash is stored).
    pub fn new_token(&self, user: &str) -> Result<String> {
        check_user(user)?;
        let token = format!("{TOKEN_PREFIX}{}", random_hex()?);
        let record = TokenRecord {
            sha256: token_hash(&token),
            created: super::profiles::now(),
        };
        self.change(|accounts| {
            let a = accounts.get_mut(user).ok_or_else(|| no_account(user))?;
            a.tokens.push(record);
            Ok(())
        })?;
        Ok(token)
    }

    /// Remove `user`'s account; `false` when there was none. The profile stays.
    pub fn remove(&self, user: &str) -> Result<bool> {
        check_user(user)?;
        self.change(|accounts| Ok(accounts.remove(user).is_some()))
    }
}

fn no_account(user: &str) -> Error {
    Error::Invalid(format!(
        "no account {user:?}; create it with `paperscout user add {user}`"
    ))
}

/// Hex SHA-256 of a token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// 256 random bits from the operating system, as 64 hex digits.
pub fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Invalid(format!("no randomness from the operating system: {e}")))?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compare without an early exit.
pub fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| Error::Invalid(format!("no randomness from the operating system: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| Error::Invalid(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Invalid(format!("hashing the password: {e}")))
}

fn verify(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_tokens_and_removal() {
        let dir = tempfile::tempdir().unwrap();
        let acc = Accounts::new(dir.path());
        assert!(acc.load().unwrap().accounts.is_empty());
        assert!(acc.set_password("ann", "short").is_err());
        assert!(acc.set_password("ann", "correct horse").unwrap());
        assert!(acc.new_token("bob").is_err(), "no account, no token");
        let t1 = acc.new_token("ann").unwrap();
        let t2 = acc.new_token("ann").unwrap();
        assert_ne!(t1, t2);
        let set = acc.load().unwrap();
        assert_eq!(set.user_for_token(&t1), Some("ann"));
        assert_eq!(set.user_for_token(&t2), Some("ann"));
        assert_eq!(set.user_for_token("pst_00"), None);
        assert!(set.verify_password("ann", "correct horse"));
        assert!(!set.verify_password("ann", "wrong horse"));
        assert!(!set.verify_password("bob", "correct horse"));
        let stored = std::fs::read_to_string(acc.path()).unwrap();
        assert!(!stored.contains(&t1), "tokens are stored hashed");
        assert!(!stored.contains("correct horse"));
        let feed = set.accounts["ann"].feed_token.clone();
        assert!(set.feed_token_ok("ann", &feed));
        assert!(!set.feed_token_ok("ann", "x"));
        // A new password keeps the tokens.
        assert!(!acc.set_password("ann", "battery staple").unwrap());
        let set = acc.load().unwrap();
        assert_eq!(set.user_for_token(&t1), Some("ann"));
        assert!(set.verify_password("ann", "battery staple"));
        assert!(acc.remove("ann").unwrap());
        assert!(!acc.remove("ann").unwrap());
        assert_eq!(acc.load().unwrap().user_for_token(&t1), None);
    }
}
