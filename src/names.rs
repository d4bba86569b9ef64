//! Settings whose values are names (`mode = "pool"`, `--framing line`).
//!
//! `Mode` and `Framing` are read from TOML (serde), from flags (clap) and
//! printed in logs and reports; this trait gives all three the same list of
//! names, so the flags do not need clap's derive on public types (which
//! would put clap in the library's public API).

/// A setting whose every value has a name.
pub(crate) trait Named: Copy + Send + Sync + 'static {
    /// Every value, in the order help texts list them.
    const ALL: &'static [Self];

    /// The value's name, as in TOML and on the command line.
    fn name(self) -> &'static str;

    /// The value called `text`, or a message listing the names.
    fn from_name(text: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.name()).collect();
                format!("unknown `{text}`; expected one of: {}", names.join(", "))
            })
    }
}

/// A clap parser for a [`Named`] setting: `--help` lists the names and a
/// wrong one is refused with them.
#[cfg(feature = "clap")]
pub(crate) fn value_parser<T: Named>() -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(T::ALL.iter().map(|v| v.name()))
        .map(|s| T::from_name(&s).expect("clap accepted only listed names"))
}
