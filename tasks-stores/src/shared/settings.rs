//! The setters of the stores' builders: each builder documents its own
//! settings, and [`setter!`] writes the method under the documentation.

/// A builder method that sets the field of its name and returns the
/// builder: `setter! { /// docs... retention: Duration }`, or with
/// `impl Into<String>` for a text.
macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: impl Into<$ty:ty>) => {
        $(#[$doc])*
        pub fn $name(mut self, $name: impl Into<$ty>) -> Self {
            self.$name = $name.into();
            self
        }
    };
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, $name: $ty) -> Self {
            self.$name = $name;
            self
        }
    };
}

pub(crate) use setter;
