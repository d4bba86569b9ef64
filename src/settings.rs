//! How a setting is declared: once, with everything that follows from it.
//!
//! [`Config`](crate::Config) lists each setting one time (in `config.rs`):
//! its doc, type, default, builder method, flag, help line and check. The
//! `settings!` macro below turns that list into the struct, its `Default`,
//! the `with_*` builder methods, the TOML reader (every key optional and
//! spanned, so errors name a line), the validation, and the command-line
//! flags, so adding a setting is one entry. `config.toml` is checked
//! against the same list by a test.
//!
//! Written by hand because no crate derives all of these from one list
//! while keeping `file:line` origins for error messages (figment and
//! config-rs merge sources but report a key path, not the line).

/// Declares the settings; see the module docs. Each entry:
///
/// ```text
/// /// doc
/// name: Type = default, with_name(ArgType), flag "flag-name" "VALUE" [clap arg attributes], "help", check;
/// ```
///
/// `ArgType` is the setter's parameter: the type itself, or
/// `impl Into<String>` for text.
macro_rules! settings {
    (
        $(
            $(#[doc = $doc:expr])*
            $name:ident : $ty:ty = $default:expr,
            $setter:ident($arg:ty),
            flag $flag:literal $value_name:literal $([$($extra:tt)*])?,
            $help:literal,
            $check:expr;
        )*
    ) => {
        /// Every setting of a server. `Config::default()` is the lesson's
        /// server: serial, echo, raw framing, on 127.0.0.1:9999. Build
        /// another with the `with_*` methods, e.g.
        /// `Config::default().with_framing(Framing::Line)`, or read one from
        /// TOML ([`Config::from_file`]). Every key is listed with its
        /// default in the repository's `config.toml`.
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub struct Config {
            $( $(#[doc = $doc])* pub $name: $ty, )*
            /// Where each setting came from (`file:line` or `--flag`).
            origins: Origins,
            /// The program's own codec ([`Config::with_codec`]), which
            /// takes the place of `framing`'s built-in one.
            codec: Option<crate::codec::SharedCodec>,
        }

        impl Default for Config {
            fn default() -> Config {
                Config {
                    $( $name: $default, )*
                    origins: Origins::default(),
                    codec: None,
                }
            }
        }

        impl Config {
            $(
                #[doc = concat!("Sets [`", stringify!($name), "`](Config::", stringify!($name), "): ", $help, ".")]
                pub fn $setter(mut self, value: $arg) -> Config {
                    self.$name = value.into();
                    self
                }
            )*

            /// Every setting's key, in declaration order.
            #[allow(dead_code)]
            pub(crate) const KEYS: &'static [&'static str] = &[$( stringify!($name), )*];

            /// Sets every key `file` has, remembering its line.
            fn merge_from(&mut self, file: FileConfig, at: impl Fn(std::ops::Range<usize>) -> String) {
                $(
                    if let Some(v) = file.$name {
                        self.origins.0.insert(stringify!($name), at(v.span()));
                        self.$name = v.into_inner();
                    }
                )*
            }

            /// Runs every setting's check; the first failure names its key
            /// and where its value came from.
            fn check_all(&self) -> Result<(), ConfigError> {
                $(
                    let check: fn(&$ty) -> Result<(), String> = $check;
                    check(&self.$name).map_err(|m| {
                        ConfigError::new(
                            self.origin(stringify!($name)).map(str::to_string),
                            format!("{}: {m}", stringify!($name)),
                        )
                    })?;
                )*
                Ok(())
            }
        }

        /// The TOML file's shape. Every key is optional (a file sets only
        /// what it changes) and spanned, so later problems still name a line.
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct FileConfig {
            $( $name: Option<toml::Spanned<$ty>>, )*
        }

        /// Every setting as a command-line flag; each overrides the file.
        #[cfg(feature = "cli")]
        #[derive(Debug, Clone, Default, clap::Args)]
        pub(crate) struct SettingFlags {
            $(
                #[doc = $help]
                #[arg(long = $flag, value_name = $value_name $(, $($extra)*)?)]
                $name: Option<$ty>,
            )*
        }

        #[cfg(feature = "cli")]
        impl SettingFlags {
            /// Sets the flags given over `config`, recording each as the
            /// value's origin.
            pub(crate) fn apply(&self, config: &mut Config) {
                $(
                    if let Some(v) = &self.$name {
                        config.$name = v.clone();
                        config.origins.0.insert(stringify!($name), concat!("--", $flag).to_string());
                    }
                )*
            }

            /// Every setting's key and its flag, for tests and docs.
            #[allow(dead_code)]
            pub(crate) const FLAGS: &'static [(&'static str, &'static str)] =
                &[$( (stringify!($name), concat!("--", $flag)), )*];
        }
    };
}

pub(crate) use settings;
