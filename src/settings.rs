//! How a group of settings is declared: once, with everything that follows
//! from it.
//!
//! [`Config`](crate::Config) lists each setting one time (in `config.rs`):
//! its doc, type, default, builder method, flag, help line and check. The
//! `settings!` macro below turns that list into the struct, its `Default`,
//! the `with_*` builder methods, the TOML reader (every key optional and
//! spanned, so errors name a line), the validation, and the command-line
//! flags, so adding a setting is one entry. The program runner declares
//! its own group the same way (`processes`, in `cli/run_settings.rs`), as
//! does the `tcpmodes` program for its echo (`cli/echo_settings.rs`): one
//! file and one command line carry all three, and each group takes its
//! keys. `config.toml` is checked against the lists by a test.
//!
//! Written by hand because no crate derives all of these from one list
//! while keeping `file:line` origins for error messages (figment and
//! config-rs merge sources but report a key path, not the line).

use std::collections::HashMap;

use crate::error::ConfigError;

/// Declares a group of settings; see the module docs. The group, then
/// each entry:
///
/// ```text
/// /// doc
/// pub struct Name {
///     /// doc
///     name: Type {
///         default: expr,
///         setter: with_name(ArgType),        // optional: a public builder
///         flag: "flag-name", value: "VALUE",
///         clap: [clap arg attributes],       // optional
///         help: "help line",
///         check: fn(&Type) -> Result<(), String>,   // optional
///     }
/// }
/// ```
///
/// `ArgType` is the setter's parameter: the type itself, or
/// `impl Into<String>` for text. Fields after `extra` are part of the
/// struct but not settings (no key, no flag).
macro_rules! settings {
    (
        $(#[$attr:meta])*
        $vis:vis struct $group:ident {
            $(
                $(#[doc = $doc:expr])*
                $name:ident : $ty:ty {
                    default: $default:expr,
                    $(setter: $setter:ident($arg:ty),)?
                    flag: $flag:literal, value: $value_name:literal,
                    $(clap: [$($extra:tt)*],)?
                    help: $help:literal,
                    $(check: $check:expr,)?
                }
            )*
        }
        $(extra {
            $(
                $(#[doc = $xdoc:expr])*
                $xname:ident : $xty:ty = $xdefault:expr;
            )*
        })?
    ) => {
        $(#[$attr])*
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        $vis struct $group {
            $( $(#[doc = $doc])* pub $name: $ty, )*
            /// Where each setting came from (`file:line` or `--flag`).
            origins: $crate::settings::Origins,
            $($( $(#[doc = $xdoc])* $xname: $xty, )*)?
        }

        impl Default for $group {
            fn default() -> $group {
                $group {
                    $( $name: $default, )*
                    origins: $crate::settings::Origins::default(),
                    $($( $xname: $xdefault, )*)?
                }
            }
        }

        impl $group {
            $($(
                #[doc = concat!("Sets [`", stringify!($name), "`](", stringify!($group), "::", stringify!($name), "): ", $help, ".")]
                pub fn $setter(mut self, value: $arg) -> $group {
                    self.$name = value.into();
                    self
                }
            )?)*

            /// Every setting's key, in declaration order.
            #[allow(dead_code)]
            pub(crate) const KEYS: &'static [&'static str] = &[$( stringify!($name), )*];

            /// Where `key` got its value: `file:line` or `--flag`; `None`
            /// when it is the default or was set in code.
            pub fn origin(&self, key: &str) -> Option<&str> {
                self.origins.get(key)
            }

            /// Sets every key of this group that the TOML `text` has,
            /// remembering its line; other keys are left to other groups
            /// ([`check_keys`](crate::settings::check_keys) refuses those
            /// no group takes). `name` is used in messages.
            #[allow(dead_code)]
            pub(crate) fn merge_toml(&mut self, text: &str, name: &str) -> Result<(), $crate::error::ConfigError> {
                let file: FileSettings = $crate::settings::parse(text, name)?;
                $(
                    if let Some(v) = file.$name {
                        self.origins.set(stringify!($name), format!("{name}:{}", $crate::settings::line_of(text, v.span().start)));
                        self.$name = v.into_inner();
                    }
                )*
                Ok(())
            }

            /// Runs every setting's check; the first failure names its key
            /// and where its value came from.
            fn check_all(&self) -> Result<(), $crate::error::ConfigError> {
                $(
                    let check: fn(&$ty) -> Result<(), String> = settings!(@check $($check)?);
                    check(&self.$name).map_err(|m| {
                        $crate::error::ConfigError::new(
                            self.origin(stringify!($name)).map(str::to_string),
                            format!("{}: {m}", stringify!($name)),
                        )
                    })?;
                )*
                Ok(())
            }
        }

        /// The TOML file's shape, for this group's keys. Every key is
        /// optional (a file sets only what it changes) and spanned, so
        /// later problems still name a line.
        #[derive(serde::Deserialize)]
        struct FileSettings {
            $( $name: Option<toml::Spanned<$ty>>, )*
        }

        /// Every setting of the group as a command-line flag; each
        /// overrides the file.
        #[cfg(feature = "cli")]
        #[derive(Debug, Clone, Default, clap::Args)]
        #[group(skip)]
        pub(crate) struct SettingFlags {
            $(
                #[doc = $help]
                #[arg(long = $flag, value_name = $value_name $(, $($extra)*)?)]
                $name: Option<$ty>,
            )*
        }

        #[cfg(feature = "cli")]
        impl SettingFlags {
            /// Sets the flags given over `settings`, recording each as the
            /// value's origin.
            pub(crate) fn apply(&self, settings: &mut $group) {
                $(
                    if let Some(v) = &self.$name {
                        settings.$name = v.clone();
                        settings.origins.set(stringify!($name), concat!("--", $flag).to_string());
                    }
                )*
            }

            /// Every setting's key and its flag, for tests and docs.
            #[allow(dead_code)]
            pub(crate) const FLAGS: &'static [(&'static str, &'static str)] =
                &[$( (stringify!($name), concat!("--", $flag)), )*];
        }
    };
    (@check) => { |_| Ok(()) };
    (@check $check:expr) => { $check };
}

pub(crate) use settings;

/// Where each setting came from. Not part of a configuration's value: two
/// configs with the same settings are equal wherever they were read from.
#[derive(Clone, Debug, Default)]
pub(crate) struct Origins(HashMap<&'static str, String>);

impl Origins {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub(crate) fn set(&mut self, key: &'static str, origin: String) {
        self.0.insert(key, origin);
    }
}

impl PartialEq for Origins {
    fn eq(&self, _: &Origins) -> bool {
        true
    }
}

/// Reads a group's keys from TOML `text` named `name`; a value of the
/// wrong type is one line naming the file, line and key.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    text: &str,
    name: &str,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().trim().to_string();
        let Some(span) = e.span() else {
            return ConfigError::new(Some(name.to_string()), message);
        };
        let line = line_of(text, span.start);
        // serde names the wrong value but not its key; the learner
        // needs both, so take the key from the line.
        let key = text
            .lines()
            .nth(line - 1)
            .and_then(|l| l.split_once('='))
            .map(|(k, _)| k.trim())
            .filter(|k| !k.is_empty() && !message.contains(&format!("`{k}`")));
        let message = match key {
            Some(k) => format!("{k}: {message}"),
            None => message,
        };
        ConfigError::new(Some(format!("{name}:{line}")), message)
    })
}

/// Checks that every key of TOML `text` belongs to one of the groups
/// `known` lists; the first that does not is an error naming its line (a
/// typo must not be silently ignored). Keys of a `foreign` group belong to
/// another program (the `tcpmodes` echo's, in a shared preset): each
/// comes back as a warning to log, with its line and whose it is, and is
/// otherwise ignored.
pub(crate) fn check_keys(
    text: &str,
    name: &str,
    known: &[&[&str]],
    foreign: &[(&[&str], &str)],
) -> Result<Vec<String>, ConfigError> {
    let table = toml::de::DeTable::parse(text).map_err(|e| {
        let line = e.span().map(|s| format!(":{}", line_of(text, s.start)));
        ConfigError::new(
            Some(format!("{name}{}", line.unwrap_or_default())),
            e.message().trim().to_string(),
        )
    })?;
    let mut warnings = Vec::new();
    for key in table.get_ref().keys() {
        let (k, span) = (key.get_ref().as_ref(), key.span());
        let at = format!("{name}:{}", line_of(text, span.start));
        if known.iter().any(|group| group.contains(&k)) {
            continue;
        }
        if let Some((_, whose)) = foreign.iter().find(|(keys, _)| keys.contains(&k)) {
            warnings.push(format!("{at}: {k} ignored: {whose}"));
            continue;
        }
        let all: Vec<&str> = known.iter().flat_map(|g| g.iter().copied()).collect();
        return Err(ConfigError::new(
            Some(at),
            format!("unknown setting `{k}`; the settings are {}", all.join(", ")),
        ));
    }
    Ok(warnings)
}

/// The 1-based line holding byte `offset` of `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A check that a number lies in `MIN..=MAX`.
pub(crate) fn range<const MIN: u64, const MAX: u64, T: Copy + TryInto<u64>>(
    v: &T,
) -> Result<(), String> {
    let v: u64 = (*v).try_into().unwrap_or(u64::MAX);
    if (MIN..=MAX).contains(&v) {
        Ok(())
    } else {
        Err(format!("must be from {MIN} to {MAX}, got {v}"))
    }
}
