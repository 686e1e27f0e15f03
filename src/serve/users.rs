//! `paperscout user add|token|list|remove`: the accounts of the people who sign in to
//! `paperscout serve` (stored by [`crate::library::accounts`]).

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use clap::Subcommand;

use crate::error::{Error, Result};
use crate::library::accounts::Accounts;
use crate::library::profiles::Profiles;

#[derive(Debug, Subcommand)]
pub enum UserArgs {
    /// Create an account (or set a new password): the password is read from the
    /// terminal, or from the first line of stdin when it is not a terminal. An existing
    /// profile of that name becomes the account's, unchanged.
    Add { user: String },
    /// Print a new API token of USER (alone on the last line); only its hash is kept.
    Token { user: String },
    /// List the accounts.
    List,
    /// Remove an account and its tokens; the profile stays unless --purge.
    Remove {
        user: String,
        /// Also delete the user's profile (likes, interests, history).
        #[arg(long)]
        purge: bool,
    },
}

/// Read a password: from the terminal without echo, else the first line of stdin.
fn read_password(user: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password(format!("password for {user}: "))
            .map_err(|e| Error::Invalid(format!("reading the password: {e}")))?;
        let again = rpassword::prompt_password("again: ")
            .map_err(|e| Error::Invalid(format!("reading the password: {e}")))?;
        if first != again {
            return Err(Error::Invalid(
                "the passwords differ; nothing changed".into(),
            ));
        }
        return Ok(first);
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::Invalid(format!("reading the password from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Run `paperscout user ...` on the library in `dir`.
pub fn run_user(dir: &Path, args: &UserArgs) -> Result<()> {
    let accounts = Accounts::new(dir);
    match args {
        UserArgs::Add { user } => {
            crate::library::profiles::check_user(user)?;
            let password = read_password(user)?;
            let new = accounts.set_password(user, &password)?;
            let profile = Profiles::new(dir).load(user)?.is_some();
            println!(
                "{} account {user}{}",
                if new { "created" } else { "new password for" },
                if profile && new {
                    " (its existing profile is kept)"
                } else {
                    ""
                }
            );
        }
        UserArgs::Token { user } => {
            let token = accounts.new_token(user)?;
            println!(
                "new API token of {user} (shown once; send it as `Authorization: Bearer TOKEN`):"
            );
            println!("{token}");
        }
        UserArgs::List => {
            let set = accounts.load()?;
            if set.accounts.is_empty() {
                println!("no accounts; add one with `paperscout user add USER`");
            }
            for a in set.accounts.values() {
                println!(
                    "{}  created {}  {} token(s)",
                    a.user,
                    a.created.format("%Y-%m-%d %H:%M"),
                    a.tokens.len()
                );
            }
        }
        UserArgs::Remove { user, purge } => {
            let removed = accounts.remove(user)?;
            let mut said = if removed {
                format!("removed account {user}")
            } else {
                format!("no account {user}")
            };
            if *purge {
                if Profiles::new(dir).remove(user)? {
                    said.push_str(" and its profile");
                }
            } else if removed {
                said.push_str(" (its profile is kept; --purge deletes it)");
            }
            println!("{said}");
            if !removed && !purge {
                return Err(Error::Invalid(format!("no account {user:?}")));
            }
        }
    }
    Ok(())
}
