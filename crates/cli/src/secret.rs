//! `ferry secret encrypt|decrypt|keygen`: SOPS files without the `sops` binary. `encrypt` honours
//! `.sops.yaml` creation rules (the first whose `path_regex` matches the file) unless recipients
//! are named on the command line; its output decrypts with `sops -d`. `decrypt` reads age
//! identities where `sops` does (`SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`,
//! `~/.config/sops/age/keys.txt`) and OpenPGP secret keys from `--pgp-key` files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use ferry_secrets::{EncryptOptions, Format, Keyring};
use serde::Deserialize;

#[derive(clap::Subcommand)]
pub enum SecretCommand {
    /// Encrypt a YAML, JSON, dotenv or binary file as sops does (recipients from the flags or
    /// .sops.yaml); prints the result, or rewrites the file with --in-place.
    Encrypt(EncryptArgs),
    /// Decrypt a SOPS file (age identities from SOPS_AGE_KEY / SOPS_AGE_KEY_FILE /
    /// ~/.config/sops/age/keys.txt, OpenPGP keys from --pgp-key); prints the cleartext.
    Decrypt(DecryptArgs),
    /// Print a new age identity (stdout) and its recipient (stderr), as age-keygen does.
    Keygen,
}

#[derive(clap::Args)]
pub struct EncryptArgs {
    file: PathBuf,
    /// An age recipient (age1…); repeatable.
    #[arg(long)]
    age: Vec<String>,
    /// An OpenPGP key fingerprint (its public key is read with `gpg --export`); repeatable.
    #[arg(long)]
    pgp: Vec<String>,
    /// Encrypt only values under keys matching this regular expression.
    #[arg(long)]
    encrypted_regex: Option<String>,
    /// Leave values under keys matching this regular expression in clear.
    #[arg(long)]
    unencrypted_regex: Option<String>,
    /// Encrypt only values under keys ending with this suffix.
    #[arg(long)]
    encrypted_suffix: Option<String>,
    /// Leave values under keys ending with this suffix in clear (default `_unencrypted`).
    #[arg(long)]
    unencrypted_suffix: Option<String>,
    /// Compute the MAC over encrypted values only.
    #[arg(long)]
    mac_only_encrypted: bool,
    /// Rewrite FILE instead of printing.
    #[arg(long, short = 'i')]
    in_place: bool,
}

#[derive(clap::Args)]
pub struct DecryptArgs {
    file: PathBuf,
    /// An armored OpenPGP secret key file (gpg --export-secret-keys --armor); repeatable.
    #[arg(long)]
    pgp_key: Vec<PathBuf>,
}

pub fn run(command: SecretCommand) -> anyhow::Result<ExitCode> {
    match command {
        SecretCommand::Encrypt(args) => encrypt(&args),
        SecretCommand::Decrypt(args) => decrypt(&args),
        SecretCommand::Keygen => {
            let (identity, recipient) = ferry_secrets::generate_age();
            let created = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
            println!("# created: {created}\n# public key: {recipient}\n{identity}");
            eprintln!("Public key: {recipient}");
            eprintln!(
                "hint: store the identity in a Secret key ending .agekey and name it in spec.decryption.secretRef"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn encrypt(args: &EncryptArgs) -> anyhow::Result<ExitCode> {
    let plain =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let mut opts = EncryptOptions {
        age: args.age.clone(),
        encrypted_regex: args.encrypted_regex.clone(),
        unencrypted_regex: args.unencrypted_regex.clone(),
        encrypted_suffix: args.encrypted_suffix.clone(),
        unencrypted_suffix: args.unencrypted_suffix.clone(),
        mac_only_encrypted: args.mac_only_encrypted,
        ..EncryptOptions::default()
    };
    let mut fingerprints = args.pgp.clone();
    if opts.age.is_empty() && fingerprints.is_empty() {
        let rule = creation_rule(&args.file)?;
        rule.apply(&mut opts, &mut fingerprints);
    }
    for fpr in &fingerprints {
        opts.pgp.push(gpg_public_key(fpr)?);
    }
    let format = Format::from_path(&args.file.to_string_lossy());
    let encrypted = ferry_secrets::encrypt(format, &plain, &opts)
        .with_context(|| format!("{}: cannot encrypt", args.file.display()))?;
    write_out(&args.file, &encrypted, args.in_place)
}

fn decrypt(args: &DecryptArgs) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let ring = local_keyring(&args.pgp_key)?;
    let format = Format::from_path(&args.file.to_string_lossy());
    let name = args.file.display();
    let Some(plain) = ferry_secrets::decrypt(format, &bytes, &ring)
        .with_context(|| format!("{name}: cannot decrypt"))?
    else {
        bail!("{name} is not a SOPS file (no sops metadata); nothing to decrypt");
    };
    write_out(&args.file, &plain.to_bytes()?, false)
}

fn write_out(file: &Path, bytes: &[u8], in_place: bool) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    if in_place {
        std::fs::write(file, bytes).with_context(|| format!("writing {}", file.display()))?;
        eprintln!("{} encrypted in place", file.display());
    } else {
        std::io::stdout().lock().write_all(bytes)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The age identities `sops` would use, and the named OpenPGP key files.
fn local_keyring(pgp_keys: &[PathBuf]) -> anyhow::Result<Keyring> {
    let mut ring = Keyring::new();
    if let Ok(key) = std::env::var("SOPS_AGE_KEY") {
        ring.add_age(&key, "SOPS_AGE_KEY")?;
    }
    let default_file =
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/sops/age/keys.txt"));
    let file = std::env::var_os("SOPS_AGE_KEY_FILE").map(PathBuf::from).or(default_file);
    if let Some(file) = file.filter(|f| f.exists()) {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        ring.add_age(&text, &file.display().to_string())?;
    }
    for path in pgp_keys {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        ring.add_pgp(&text, &path.display().to_string())?;
    }
    if ring.is_empty() {
        bail!(
            "no decryption keys: set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY), or pass --pgp-key FILE"
        );
    }
    Ok(ring)
}

/// An armored public key from the user's GnuPG keyring.
fn gpg_public_key(fingerprint: &str) -> anyhow::Result<String> {
    let home = std::env::var_os("GNUPGHOME")
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".gnupg").into_os_string())
        })
        .context("neither GNUPGHOME nor HOME is set: cannot find the GnuPG keyring")?;
    let out = ferry_source::process::Program::new("gpg")
        .env("GNUPGHOME", home)
        .args(["--batch", "--armor", "--export", fingerprint])
        .run()
        .context("running gpg --export (is GnuPG installed?)")?;
    if !out.status.success() || out.stdout.is_empty() {
        bail!("gpg has no public key {fingerprint}: import it first (gpg --import)");
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `.sops.yaml`'s `creation_rules`.
#[derive(Deserialize)]
struct SopsConfig {
    #[serde(default)]
    creation_rules: Vec<CreationRule>,
}

#[derive(Deserialize, Default)]
struct CreationRule {
    path_regex: Option<String>,
    #[serde(default)]
    age: Option<String>,
    #[serde(default)]
    pgp: Option<String>,
    encrypted_regex: Option<String>,
    unencrypted_regex: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_suffix: Option<String>,
    #[serde(default)]
    mac_only_encrypted: bool,
    /// One group is a list of recipients; more would split the data key (Shamir).
    #[serde(default)]
    key_groups: Vec<RuleKeyGroup>,
}

#[derive(Deserialize, Default)]
struct RuleKeyGroup {
    #[serde(default)]
    age: Vec<String>,
    #[serde(default)]
    pgp: Vec<String>,
}

impl CreationRule {
    /// Fills what the command line left unset.
    fn apply(self, opts: &mut EncryptOptions, pgp: &mut Vec<String>) {
        let split = |s: Option<String>| -> Vec<String> {
            s.unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        opts.age = split(self.age);
        *pgp = split(self.pgp);
        for group in self.key_groups {
            opts.age.extend(group.age);
            pgp.extend(group.pgp);
        }
        opts.encrypted_regex = opts.encrypted_regex.take().or(self.encrypted_regex);
        opts.unencrypted_regex = opts.unencrypted_regex.take().or(self.unencrypted_regex);
        opts.encrypted_suffix = opts.encrypted_suffix.take().or(self.encrypted_suffix);
        opts.unencrypted_suffix = opts.unencrypted_suffix.take().or(self.unencrypted_suffix);
        opts.mac_only_encrypted |= self.mac_only_encrypted;
    }
}

/// The first creation rule of the nearest `.sops.yaml` (from the working directory up, as
/// `sops` looks) whose `path_regex` matches the file's path.
fn creation_rule(file: &Path) -> anyhow::Result<CreationRule> {
    let cwd = std::env::current_dir()?;
    let Some(config) = cwd.ancestors().map(|d| d.join(".sops.yaml")).find(|p| p.exists()) else {
        bail!("no recipients: pass --age or --pgp, or write a .sops.yaml with creation_rules");
    };
    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("reading {}", config.display()))?;
    let parsed: SopsConfig = serde_saphyr::from_str(&text)
        .with_context(|| format!("{}: not a valid sops config", config.display()))?;
    let path = file.to_string_lossy();
    for (i, rule) in parsed.creation_rules.into_iter().enumerate() {
        let matches = match &rule.path_regex {
            None => true,
            Some(re) => regex::Regex::new(re)
                .with_context(|| {
                    format!(
                        "{}: creation_rules[{i}].path_regex is not a valid regular expression",
                        config.display()
                    )
                })?
                .is_match(&path),
        };
        if matches {
            if rule.key_groups.len() > 1 {
                bail!(
                    "{}: creation_rules[{i}] splits the data key over {} key groups (Shamir), which Ferry does not write; use one group or sops",
                    config.display(),
                    rule.key_groups.len()
                );
            }
            return Ok(rule);
        }
    }
    bail!("{}: no creation rule matches {path}; add one or pass --age/--pgp", config.display())
}
