//! The one way a reference service declares its deliberate defects ("mutants"): an enum
//! with each defect's command-line name, the rule it breaks and a one-line summary, in a
//! stable order, so a new defect is one line and every table answers the same questions
//! (`name`, `breaks`, `summary`, `ALL`, `Display`, `FromStr`).

/// Declares `pub enum Defect` with its tables; after `service = "SCSP";` (the name its
/// parse errors give), each entry is `Variant = "name", "RULE-n", "summary";`, optionally
/// preceded by doc comments.
macro_rules! defect_table {
    (service = $service:literal; $( $(#[$doc:meta])* $variant:ident = $name:literal, $rule:literal, $summary:literal; )+) => {
        /// One deliberate deviation of the reference service from its protocol.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Defect {
            $( $(#[$doc])* #[doc = $summary] $variant, )+
        }

        impl Defect {
            /// Every defect, in a stable order.
            pub const ALL: &'static [Defect] = &[$(Defect::$variant),+];

            /// The kebab-case name used on the command line and in mutant tables.
            pub fn name(self) -> &'static str {
                match self { $(Defect::$variant => $name),+ }
            }

            /// The rule id this defect is meant to break: the rule that must catch it.
            pub fn breaks(self) -> &'static str {
                match self { $(Defect::$variant => $rule),+ }
            }

            /// One line on what the defect does, for `replisim mutants`.
            pub fn summary(self) -> &'static str {
                match self { $(Defect::$variant => $summary),+ }
            }
        }

        impl std::fmt::Display for Defect {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for Defect {
            type Err = String;

            /// A defect by its command-line name (surrounding blanks ignored); the error
            /// lists every known name.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Defect::ALL
                    .iter()
                    .copied()
                    .find(|d| d.name() == s.trim())
                    .ok_or_else(|| {
                        let names: Vec<&str> = Defect::ALL.iter().map(|d| d.name()).collect();
                        format!(
                            "unknown {} defect `{s}`; known: {}",
                            $service,
                            names.join(", ")
                        )
                    })
            }
        }
    };
}
