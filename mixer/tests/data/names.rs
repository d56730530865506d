// Included by the font unit tests and the `names` integration test, so both draw the same list.

/// The participants of issue 18: one name per script the gateway must draw.
pub const NAMES: [&str; 7] = [
    "José",
    "Zoë",
    "Łukasz",
    "Σοφία",
    "Дмитрий",
    "田中",
    "김민준",
];
