//! Open enums: AWS adds values to its enums over time (Connect added `EMAIL` to channels,
//! `COMPLETED` to contact events). Every AWS enum we model keeps a known set of variants
//! plus `Other(String)`, so a value we have never seen is carried through, not rejected.

/// Defines an open string enum: known variants with their wire names, plus `Other(String)`.
///
/// Matching of known names is ASCII case-insensitive (a published contact-event sample
/// writes `"Voice"`); a known value re-encodes in its canonical spelling, an unknown one
/// verbatim.
#[macro_export]
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of switchboard does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// Every known variant.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Other(s) => s.as_str(),
                }
            }

            /// Parses a wire value; never fails (unknown values become `Other`).
            pub fn parse(s: &str) -> Self {
                $(
                    if s.eq_ignore_ascii_case($wire) $(|| s.eq_ignore_ascii_case($alias))* {
                        return $name::$variant;
                    }
                )+
                $name::Other(s.to_owned())
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::parse(s))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl ::serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " string"))
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::parse(v))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    open_enum! {
        /// Test enum.
        pub enum Colour { Red = "RED", Green = "GREEN" | "VERT" }
    }

    #[test]
    fn known_unknown_and_case() {
        assert_eq!(Colour::parse("red"), Colour::Red);
        assert_eq!(Colour::parse("vert"), Colour::Green);
        assert_eq!(Colour::parse("BLUE"), Colour::Other("BLUE".into()));
        assert_eq!(Colour::KNOWN.len(), 2);
        let json = serde_json::to_string(&vec![Colour::Red, Colour::Other("x".into())]).unwrap();
        assert_eq!(json, r#"["RED","x"]"#);
        let back: Vec<Colour> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vec![Colour::Red, Colour::Other("x".into())]);
    }
}
