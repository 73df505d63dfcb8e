//! Text normalisation shared by slugs, CSV headers and product matching.

/// Lower case with the accents of French (and a few ligatures) folded to ASCII: "Crème Brûlée" → "creme brulee".
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(fold_char)
        .flat_map(char::to_lowercase)
        .collect()
}

fn fold_char(c: char) -> impl Iterator<Item = char> {
    let folded: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'œ' | 'Œ' => "oe",
        'æ' | 'Æ' => "ae",
        _ => "",
    };
    let single = folded.is_empty().then_some(c);
    folded.chars().chain(single)
}

/// Folded words joined by `sep`: every run of non-alphanumeric characters becomes one separator.
pub fn words(s: &str, sep: char) -> String {
    let mut out = String::new();
    for c in fold(s).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(sep) {
            out.push(sep);
        }
    }
    out.trim_end_matches(sep).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_removes_accents_and_case() {
        assert_eq!(fold("Crème Brûlée ŒUF"), "creme brulee oeuf");
        assert_eq!(words("Prix (FCFA)", '_'), "prix_fcfa");
        assert_eq!(words("", '_'), "");
        assert_eq!(words("  Cœur & Beauté  ", '-'), "coeur-beaute");
    }
}
