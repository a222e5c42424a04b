//! A sentence for a person, named by its id in the translation files (`locales/<lang>/*.ftl`)
//! and carrying its arguments: the domain and the services say *what* to tell, and `i18n` says
//! it in the client's language when the response is written.

/// One message: an id of the translation files and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: &'static str,
    pub args: Vec<(&'static str, Arg)>,
}

/// A value a message is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Shown as it is.
    Text(String),
    /// Shown as a number, and chooses plural forms.
    Number(i64),
    /// A field's path (`items.0.quantity`), shown as that field's name in the reader's language.
    Field(String),
}

impl Message {
    pub fn new(id: &'static str) -> Self {
        Self {
            id,
            args: Vec::new(),
        }
    }

    /// The message with one more argument.
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl Into<Arg>) -> Self {
        self.args.push((name, value.into()));
        self
    }

    /// The message naming the field at `path` as its `field` argument.
    #[must_use]
    pub fn field(self, path: impl Into<String>) -> Self {
        self.with("field", Arg::Field(path.into()))
    }

    /// The same message about the field at `path` instead: a rule written for `email` applied
    /// to another address field.
    #[must_use]
    pub fn about(mut self, path: &str) -> Self {
        for (_, value) in &mut self.args {
            if let Arg::Field(field) = value {
                path.clone_into(field);
            }
        }
        self
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<i64> for Arg {
    fn from(number: i64) -> Self {
        Self::Number(number)
    }
}

impl From<u64> for Arg {
    fn from(number: u64) -> Self {
        Self::Number(i64::try_from(number).unwrap_or(i64::MAX))
    }
}

impl From<usize> for Arg {
    fn from(number: usize) -> Self {
        Self::Number(i64::try_from(number).unwrap_or(i64::MAX))
    }
}

impl From<u32> for Arg {
    fn from(number: u32) -> Self {
        Self::Number(i64::from(number))
    }
}
